"""The renderer's objectives (render/renderer_objectives.py): part crops, which module each loss
trains, and masking of missing parts."""

from __future__ import annotations

import numpy as np
import torch

from speech2video.render.discriminators import RendererDiscriminators
from speech2video.render.generator import Vid2VidGenerator
from speech2video.render.renderer_config import preset
from speech2video.render.renderer_inference import StreamState, generate_sequence
from speech2video.render.renderer_objectives import PartBatch, discriminator_loss, generator_loss
from tests.unit.render.test_renderer_training import synthetic_sequence


def _tensors(frames: int = 3, size: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    skels, reals = synthetic_sequence(frames, size)

    def to(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(a).permute(0, 3, 1, 2).float().div(127.5).sub(1)[None]

    return to(skels), to(reals)


def _setup():
    cfg = preset("tiny")
    torch.manual_seed(0)
    G, D = Vid2VidGenerator(cfg.generator), RendererDiscriminators(cfg.discriminator)
    skeletons, real = _tensors()
    batch = PartBatch.build(skeletons, real, cfg.discriminator)
    state = StreamState.initial(
        1, cfg.generator.num_prev, *skeletons.shape[-2:], torch.device("cpu")
    )
    seq = generate_sequence(G, skeletons, state, detach_feedback=True)
    flow = torch.stack([o.flow for o in seq.outputs], 1)
    mask = torch.stack([o.mask for o in seq.outputs], 1)
    return cfg, G, D, batch, seq.frames, flow, mask


def test_part_batch_crops_face_and_both_hands() -> None:
    cfg = preset("tiny")
    skeletons, real = _tensors(frames=3)
    batch = PartBatch.build(skeletons, real, cfg.discriminator)
    s = cfg.discriminator.part_crop
    assert batch.sk_f.shape == (3, 3, 64, 64)
    assert batch.sk_face.shape == batch.real_face.shape == (3, 3, s, s)
    assert batch.sk_hands.shape == batch.real_hands.shape == (6, 3, s, s)
    assert batch.valid.shape == (3, 3) and bool(batch.valid.all())
    face, hands = batch.parts(batch.real_f)
    assert torch.equal(face, batch.real_face) and torch.equal(hands, batch.real_hands)


def test_discriminator_loss_trains_only_the_discriminators() -> None:
    cfg, G, D, batch, fake, _, _ = _setup()
    total, terms = discriminator_loss(D, batch, fake, cfg.loss)
    total.backward()
    assert all(p.grad is None for p in G.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in D.face.parameters())
    expected = terms.image + terms.temporal + terms.face + terms.hands
    assert abs(terms.total - expected) < 1e-4 * max(1.0, abs(expected))


def test_generator_loss_reaches_the_generator_and_masks_missing_parts() -> None:
    cfg, G, D, batch, fake, flow, mask = _setup()
    D.requires_grad_(False)
    loss = generator_loss(D, batch, fake, flow, mask, cfg.loss)
    loss.total.backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in G.parameters())
    assert all(p.grad is None for p in D.parameters())
    assert loss.terms.face != 0.0 and loss.l1 > 0.0
    # Without a face in the skeletons the face term is masked out entirely.
    no_face = PartBatch.build(batch.skeletons, batch.real, cfg.discriminator)
    no_face = type(no_face)(**{**no_face.__dict__, "w_face": torch.zeros_like(no_face.w_face)})
    assert generator_loss(D, no_face, fake.detach(), flow, mask, cfg.loss).terms.face == 0.0


def test_the_part_l1_is_the_crops_error_and_ignores_missing_parts() -> None:
    """L1 on the zoomed face and hand crops: zero when the crops match, and a part the
    skeletons do not show (weight 0) adds nothing however wrong its crop."""
    import dataclasses

    cfg, _, D, batch, fake, flow, mask = _setup()
    D.requires_grad_(False)
    only = dataclasses.replace(cfg.loss, **{f: 0.0 for f in ("gan", "feature_matching", "l1",
        "flow_warp", "temporal", "face", "hands")}, part_l1=1.0)  # fmt: skip
    exact = generator_loss(D, batch, batch.real, flow, mask, only)
    assert exact.terms.part_l1 == 0.0
    wrong = generator_loss(D, batch, fake.detach(), flow, mask, only)
    assert wrong.terms.part_l1 > 0.0 and wrong.terms.total == wrong.terms.part_l1
    none = type(batch)(**{**batch.__dict__, "w_face": torch.zeros_like(batch.w_face),
                          "w_hands": torch.zeros_like(batch.w_hands)})  # fmt: skip
    assert generator_loss(D, none, fake.detach(), flow, mask, only).terms.part_l1 == 0.0
