"""Discriminators and the renderer losses."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from speech2video.errors import InputError, NotFoundError
from speech2video.render import render_losses as L
from speech2video.render.discriminators import (
    MultiScaleDiscriminator,
    RendererDiscriminators,
    TemporalDiscriminator,
)
from speech2video.render.flow import pixels_to_flow
from speech2video.render.renderer_config import DiscriminatorConfig


def test_multiscale_outputs_features_then_logits_per_scale() -> None:
    d = MultiScaleDiscriminator(width=4, layers=2, scales=3)
    out = d(torch.zeros(2, 3, 64, 64), torch.zeros(2, 3, 64, 64))
    assert len(out) == 3
    assert [o[-1].shape[1] for o in out] == [1, 1, 1]
    assert out[0][-1].shape[-1] > out[1][-1].shape[-1] > out[2][-1].shape[-1]
    assert all(len(o) == 4 for o in out)  # 3 feature layers + logits


def test_temporal_scales_see_strided_frames_ending_at_the_last() -> None:
    torch.manual_seed(0)
    d = TemporalDiscriminator(width=4, layers=2, scales=2, frames=2)
    assert d.span == 3
    clip = torch.rand(1, 3, 3, 32, 32)
    base = [o[-1] for o in d(clip)]
    middle = clip.clone()
    middle[:, 1] = 0  # seen by stride 1 (frames 1, 2) only
    out = [o[-1] for o in d(middle)]
    assert not torch.allclose(out[0], base[0]) and torch.allclose(out[1], base[1])
    first = clip.clone()
    first[:, 0] = 0  # seen by stride 2 (frames 0, 2) only
    out = [o[-1] for o in d(first)]
    assert torch.allclose(out[0], base[0]) and not torch.allclose(out[1], base[1])
    with pytest.raises(InputError, match="T>=3"):
        d(clip[:, :2])


def test_renderer_discriminators_take_part_crops() -> None:
    cfg = DiscriminatorConfig(width=4, layers=3, part_crop=16)
    ds = RendererDiscriminators(cfg)
    out = ds.face(torch.zeros(5, 3, 16, 16), torch.zeros(5, 3, 16, 16))
    assert len(out) == 1 and out[0][-1].shape[:2] == (5, 1)
    assert {name for name, _ in ds.named_children()} == {"image", "temporal", "face", "hands"}


def logits(*values: float) -> list[list[torch.Tensor]]:
    return [[torch.tensor(values).view(-1, 1, 1, 1)]]


def test_lsgan_and_hinge_values() -> None:
    assert L.gan_loss(logits(1.0, 1.0), real=True).item() == 0.0
    assert L.gan_loss(logits(1.0, 1.0), real=False).item() == 1.0
    assert L.gan_loss(logits(2.0), True, "hinge").item() == 0.0
    assert L.gan_loss(logits(0.0), False, "hinge").item() == 1.0
    assert L.gan_loss(logits(3.0), True, "hinge", for_discriminator=False).item() == -3.0
    with pytest.raises(InputError, match="GAN mode"):
        L.gan_loss(logits(0.0), True, "wgan")


def test_weights_mask_out_missing_parts() -> None:
    out = logits(1.0, 0.0)
    assert L.gan_loss(out, True, weight=torch.tensor([1.0, 0.0])).item() == 0.0
    assert L.gan_loss(out, True, weight=torch.tensor([0.0, 1.0])).item() == 1.0
    assert L.gan_loss(out, True, weight=torch.zeros(2)).item() == 0.0


def test_feature_matching_is_zero_only_for_equal_features() -> None:
    a = [[torch.ones(2, 3, 4, 4), torch.zeros(2, 1, 2, 2)]]
    b = [[torch.zeros(2, 3, 4, 4), torch.ones(2, 1, 2, 2)]]
    assert L.feature_matching_loss(a, a).item() == 0.0
    assert L.feature_matching_loss(a, b).item() == pytest.approx(1.0)  # logits excluded


def test_flow_warp_loss_rewards_the_true_motion() -> None:
    prev = torch.rand(1, 3, 8, 8)
    real = torch.roll(prev, shifts=-1, dims=-1)  # content moved one pixel left
    pixels = torch.zeros(1, 2, 8, 8)
    pixels[:, 0] = 1.0
    true_flow = pixels_to_flow(pixels)
    mask = torch.ones(1, 1, 8, 8)
    mask[..., -1] = 0  # the wrapped-around column is occluded
    good = L.flow_warp_loss(true_flow, mask, prev, real)
    bad = L.flow_warp_loss(torch.zeros_like(true_flow), mask, prev, real)
    assert good.item() < 1e-5 < bad.item()
    assert L.flow_warp_loss(torch.zeros_like(true_flow), mask * 0, prev, real).item() == 0.0


def test_perceptual_loss_only_from_supplied_weights(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError):
        L.VGGFeatures.from_file(tmp_path / "absent.safetensors")
    torch.manual_seed(0)
    state = {f"features.{k}": v for k, v in L.VGGFeatures().features.state_dict().items()}
    save_file({k: v.contiguous() for k, v in state.items()}, str(tmp_path / "vgg.safetensors"))
    vgg = L.VGGFeatures.from_file(tmp_path / "vgg.safetensors")
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    assert L.perceptual_loss(vgg, x, x).item() == 0.0
    assert L.perceptual_loss(vgg, x, -x).item() > 0.0
    save_file({"features.0.weight": torch.zeros(64, 3, 3, 3)}, str(tmp_path / "bad.safetensors"))
    with pytest.raises(InputError, match="lack keys"):
        L.VGGFeatures.from_file(tmp_path / "bad.safetensors")
