"""The renderer's two training objectives, built apart from the optimizer steps.

As imaginaire's vid2vid trainer does, one function builds the discriminators' loss and one the
generator's, each from a :class:`PartBatch` (the flattened skeleton and real frames, their face and
hand crops, and which parts exist) and the generated frames. :class:`RendererTrainer.step`
(render/renderer_training.py) calls them around its two updates. The terms are weighted by
``LossConfig``; the totals are their sums.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from speech2video.render import render_losses as L
from speech2video.render.discriminators import RendererDiscriminators
from speech2video.render.part_boxes import crop_boxes, part_boxes
from speech2video.render.renderer_config import DiscriminatorConfig, LossConfig


def _flat(x: torch.Tensor) -> torch.Tensor:
    """(B, T, ...) → (B·T, ...)"""
    return x.flatten(0, 1)


@dataclass(frozen=True)
class PartBatch:
    """One batch of windows, flattened over time, with its part crops.

    skeletons, real: (B, T, 3, H, W) in [-1, 1]; sk_f, real_f: (B·T, 3, H, W);
    boxes: (B·T, 3, 4) face, left hand, right hand; valid: (B·T, 3) float, 1 where the part exists;
    sk_face, real_face: (B·T, 3, S, S); sk_hands, real_hands: (2·B·T, 3, S, S);
    w_face: (B·T,); w_hands: (2·B·T,)
    """

    skeletons: torch.Tensor
    real: torch.Tensor
    sk_f: torch.Tensor
    real_f: torch.Tensor
    boxes: torch.Tensor
    valid: torch.Tensor
    part_crop: int
    sk_face: torch.Tensor
    sk_hands: torch.Tensor
    real_face: torch.Tensor
    real_hands: torch.Tensor
    w_face: torch.Tensor
    w_hands: torch.Tensor

    @classmethod
    def build(
        cls, skeletons: torch.Tensor, real: torch.Tensor, config: DiscriminatorConfig
    ) -> PartBatch:
        """skeletons, real: (B, T, 3, H, W) on the training device"""
        sk_f, real_f = _flat(skeletons), _flat(real)
        found = part_boxes(sk_f, config.face_scale, config.hand_scale)
        valid = found.valid.to(torch.float32)
        size = config.part_crop
        sk_face, sk_hands = _crop_parts(sk_f, found.boxes, size)
        real_face, real_hands = _crop_parts(real_f, found.boxes, size)
        return cls(
            skeletons=skeletons,
            real=real,
            sk_f=sk_f,
            real_f=real_f,
            boxes=found.boxes,
            valid=valid,
            part_crop=size,
            sk_face=sk_face,
            sk_hands=sk_hands,
            real_face=real_face,
            real_hands=real_hands,
            w_face=valid[:, 0],
            w_hands=valid[:, 1:].flatten(),
        )

    def parts(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """images: (B·T, 3, H, W) → face (B·T, 3, S, S), hands (2·B·T, 3, S, S) at the boxes"""
        return _crop_parts(images, self.boxes, self.part_crop)


def _crop_parts(
    images: torch.Tensor, boxes: torch.Tensor, size: int
) -> tuple[torch.Tensor, torch.Tensor]:
    crops = crop_boxes(images, boxes, size)  # (BT, 3, 3, S, S)
    return crops[:, 0], crops[:, 1:].flatten(0, 1)


def discriminator_loss(
    D: RendererDiscriminators, batch: PartBatch, fake: torch.Tensor, weights: LossConfig
) -> tuple[torch.Tensor, L.DiscriminatorLossTerms]:
    """The discriminators' loss on real frames against (detached) generated ones.

    fake: (B, T, 3, H, W) generated frames; returns the total (a scalar with gradients for D)
    and its weighted terms (image, temporal, face, hands) as floats.
    """
    mode = weights.gan_mode
    fake = fake.detach()
    fake_f = _flat(fake)
    fake_face, fake_hands = batch.parts(fake_f)
    d_image = L.gan_loss(D.image(batch.sk_f, fake_f), False, mode) + L.gan_loss(
        D.image(batch.sk_f, batch.real_f), True, mode
    )
    d_temporal = L.gan_loss(D.temporal(fake), False, mode) + L.gan_loss(
        D.temporal(batch.real), True, mode
    )
    d_face = L.gan_loss(D.face(batch.sk_face, fake_face), False, mode, weight=batch.w_face)
    d_face = d_face + L.gan_loss(
        D.face(batch.sk_face, batch.real_face), True, mode, weight=batch.w_face
    )
    d_hands = L.gan_loss(D.hands(batch.sk_hands, fake_hands), False, mode, weight=batch.w_hands)
    d_hands = d_hands + L.gan_loss(
        D.hands(batch.sk_hands, batch.real_hands), True, mode, weight=batch.w_hands
    )
    terms = (
        weights.gan * d_image,
        weights.temporal * d_temporal,
        weights.face * d_face,
        weights.hands * d_hands,
    )
    total = sum(terms)
    logged = L.DiscriminatorLossTerms(*(float(x.detach()) for x in (*terms, total)))
    return total, logged


@dataclass(frozen=True)
class GeneratorLoss:
    """total: scalar with gradients for G; terms: the weighted terms; l1: the unweighted L1"""

    total: torch.Tensor
    terms: L.GeneratorLossTerms
    l1: float


def generator_loss(
    D: RendererDiscriminators,
    batch: PartBatch,
    fake: torch.Tensor,
    flow: torch.Tensor,
    mask: torch.Tensor,
    weights: LossConfig,
    vgg: L.VGGFeatures | None = None,
) -> GeneratorLoss:
    """The generator's loss: GAN, feature matching, L1, flow warp, temporal, face, hands, VGG,
    and L1 on the face and hand crops.

    fake: (B, T, 3, H, W) generated frames (with gradients); flow: (B, T, 2, H, W) and
    mask: (B, T, 1, H, W) the generator's flow and blend mask. The discriminators' own weights
    get no gradients here (the caller freezes them).
    """
    mode, real = weights.gan_mode, batch.real
    t = fake.shape[1]
    fake_f = _flat(fake)
    fake_face, fake_hands = batch.parts(fake_f)
    with torch.no_grad():
        real_image_out = D.image(batch.sk_f, batch.real_f)
        real_face_out = D.face(batch.sk_face, batch.real_face)
        real_hands_out = D.hands(batch.sk_hands, batch.real_hands)
    fake_image_out = D.image(batch.sk_f, fake_f)
    g_gan = L.gan_loss(fake_image_out, True, mode, for_discriminator=False)
    g_fm = L.feature_matching_loss(fake_image_out, real_image_out)
    g_l1 = (fake - real).abs().mean()
    if t > 1:
        g_flow = L.flow_warp_loss(
            _flat(flow[:, 1:]), _flat(mask[:, 1:]), _flat(real[:, :-1]), _flat(real[:, 1:])
        )
    else:
        g_flow = fake.new_zeros(())
    g_temporal = L.gan_loss(D.temporal(fake), True, mode, for_discriminator=False)
    g_face = _part_generator_loss(
        D.face(batch.sk_face, fake_face), real_face_out, batch.w_face, weights
    )
    g_hands = _part_generator_loss(
        D.hands(batch.sk_hands, fake_hands), real_hands_out, batch.w_hands, weights
    )
    g_perc = L.perceptual_loss(vgg, fake_f, batch.real_f) if vgg is not None else fake.new_zeros(())
    g_part = _part_l1(fake_face, batch.real_face, batch.w_face) + _part_l1(
        fake_hands, batch.real_hands, batch.w_hands
    )
    terms = (
        weights.gan * g_gan,
        weights.feature_matching * g_fm,
        weights.l1 * g_l1,
        weights.flow_warp * g_flow,
        weights.temporal * g_temporal,
        weights.face * g_face,
        weights.hands * g_hands,
        weights.perceptual * g_perc,
        weights.part_l1 * g_part,
    )
    total = sum(terms)
    logged = L.GeneratorLossTerms(*(float(x.detach()) for x in (*terms, total)))
    return GeneratorLoss(total=total, terms=logged, l1=float(g_l1.detach()))


def _part_l1(fake: torch.Tensor, real: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Mean absolute error over the crops of parts that exist.

    fake, real: (N, 3, S, S); weight: (N,) 1 where the part was found, else 0 → scalar
    """
    per_crop = (fake - real).abs().mean(dim=(1, 2, 3))
    return (per_crop * weight).sum() / weight.sum().clamp(min=1.0)


def _part_generator_loss(
    fake_out: L.MultiFeatures,
    real_out: L.MultiFeatures,
    weight: torch.Tensor,
    weights: LossConfig,
) -> torch.Tensor:
    """A part discriminator's GAN term plus its feature matching, masked by ``weight (N,)``."""
    gan = L.gan_loss(fake_out, True, weights.gan_mode, False, weight)
    return gan + weights.feature_matching * L.feature_matching_loss(fake_out, real_out, weight)
