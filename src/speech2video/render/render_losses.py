"""Renderer losses: GAN (LSGAN or hinge), feature matching, L1, flow-warp consistency, part
losses, and an optional perceptual loss on operator-supplied VGG-19 weights.

Discriminator outputs are lists (per scale) of lists (per layer) whose last item is the logits
(render/discriminators.py). Per-sample weights (``weight (N,)``) mask out samples, e.g. crops of
parts that are missing from the skeleton image.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from speech2video.errors import InputError, NotFoundError
from speech2video.render.flow import warp

MultiFeatures = list[list[torch.Tensor]]


@dataclass(frozen=True)
class GeneratorLossTerms:
    """Weighted generator loss terms (floats, for logging); ``total`` is their sum."""

    gan: float
    feature_matching: float
    l1: float
    flow_warp: float
    temporal: float
    face: float
    hands: float
    perceptual: float
    part_l1: float
    total: float

    def as_dict(self, prefix: str = "g_") -> dict[str, float]:
        return {prefix + k: v for k, v in asdict(self).items()}


@dataclass(frozen=True)
class DiscriminatorLossTerms:
    """Weighted discriminator loss terms (floats, for logging); ``total`` is their sum."""

    image: float
    temporal: float
    face: float
    hands: float
    total: float

    def as_dict(self, prefix: str = "d_") -> dict[str, float]:
        return {prefix + k: v for k, v in asdict(self).items()}


def _weighted_mean(per_sample: torch.Tensor, weight: torch.Tensor | None) -> torch.Tensor:
    """per_sample: (N,); weight: (N,) or None → weighted mean (0 when all weights are 0)"""
    if weight is None:
        return per_sample.mean()
    weight = weight.to(per_sample.dtype)
    return (per_sample * weight).sum() / weight.sum().clamp(min=1.0)


def gan_loss(
    outputs: MultiFeatures,
    real: bool,
    mode: str = "lsgan",
    for_discriminator: bool = True,
    weight: torch.Tensor | None = None,
) -> torch.Tensor:
    """Adversarial loss averaged over scales.

    outputs: per scale [features ..., logits (N, 1, h, w)]
    real: whether the target is "real"
    mode: ``lsgan`` (least squares) or ``hinge``
    for_discriminator: hinge differs for the generator (−mean logits)
    weight: (N,) per-sample weights or None
    """
    total = outputs[0][-1].new_zeros(())
    for scale in outputs:
        logits = scale[-1].float().flatten(1)
        if mode == "lsgan":
            per = ((logits - (1.0 if real else 0.0)) ** 2).mean(1)
        elif mode == "hinge":
            if for_discriminator:
                per = F.relu(1.0 - logits).mean(1) if real else F.relu(1.0 + logits).mean(1)
            else:
                per = -logits.mean(1)
        else:
            raise InputError(f"unknown GAN mode {mode!r}")
        total = total + _weighted_mean(per, weight)
    return total / len(outputs)


def feature_matching_loss(
    fake: MultiFeatures, real: MultiFeatures, weight: torch.Tensor | None = None
) -> torch.Tensor:
    """L1 between the discriminator's intermediate features of fake and (detached) real inputs,
    averaged over layers and scales."""
    total = fake[0][-1].new_zeros(())
    count = 0
    for f_scale, r_scale in zip(fake, real, strict=True):
        for f, r in zip(f_scale[:-1], r_scale[:-1], strict=True):
            per = (f.float() - r.detach().float()).abs().flatten(1).mean(1)
            total = total + _weighted_mean(per, weight)
            count += 1
    return total / max(count, 1)


def flow_warp_loss(
    flow: torch.Tensor, mask: torch.Tensor, prev_real: torch.Tensor, real: torch.Tensor
) -> torch.Tensor:
    """How well the predicted flow explains the real motion where the mask uses it.

    flow: (N, 2, H, W) — predicted backward flow; mask: (N, 1, H, W) in [0, 1]
    prev_real, real: (N, 3, H, W) — the previous and current real frames
    returns: mean of ``mask · |warp(prev_real, flow) − real|``
    """
    return (mask * (warp(prev_real, flow) - real).abs()).mean()


class VGGFeatures(nn.Module):
    """VGG-19 convolutional trunk (torchvision's ``features`` layout) returning relu1_1, relu2_1,
    relu3_1, relu4_1 and relu5_1. Weights only from an operator-supplied safetensors file whose
    keys are ``features.<i>.weight`` / ``features.<i>.bias``; nothing is downloaded."""

    _CFG = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512)
    _TAPS = (1, 6, 11, 20, 29)  # indices of relu1_1 .. relu5_1 in ``features``

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        ch = 3
        for v in self._CFG:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(ch, int(v), 3, padding=1), nn.ReLU(inplace=False)]
                ch = int(v)
        self.features = nn.Sequential(*layers)
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))

    @classmethod
    def from_file(cls, path: str | Path) -> VGGFeatures:
        from safetensors.torch import load_file

        path = Path(path)
        if not path.is_file():
            raise NotFoundError(f"perceptual loss weights not found: {path}")
        net = cls()
        state = {k: v for k, v in load_file(str(path)).items() if k.startswith("features.")}
        missing, _ = net.load_state_dict(state, strict=False)
        missing = [m for m in missing if m.startswith("features.")]
        if missing:
            raise InputError(f"perceptual weights {path.name} lack keys, e.g. {missing[:3]}")
        net.requires_grad_(False).eval()
        return net

    def forward(self, image: torch.Tensor) -> list[torch.Tensor]:
        """image: (N, 3, H, W) in [-1, 1] → five feature maps"""
        x = ((image + 1) / 2 - self.mean) / self.std
        out = []
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in self._TAPS:
                out.append(x)
            if i >= self._TAPS[-1]:
                break
        return out


def perceptual_loss(vgg: VGGFeatures, fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """pix2pixHD-style weighted L1 between VGG features of fake and real (N, 3, H, W)."""
    weights = (1 / 32, 1 / 16, 1 / 8, 1 / 4, 1.0)
    total = fake.new_zeros(())
    for w, f, r in zip(weights, vgg(fake), vgg(real), strict=True):
        total = total + w * (f - r.detach()).abs().mean()
    return total
