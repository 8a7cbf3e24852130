"""The sequential generator and the flow warping it uses."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from speech2video.errors import InputError
from speech2video.render.flow import flow_to_pixels, pixels_to_flow, warp
from speech2video.render.generator import Vid2VidGenerator
from speech2video.render.renderer_config import GeneratorConfig

CFG = GeneratorConfig(width=8, depth=2, res_blocks=1, max_channels=16, num_prev=2)


def inputs(b: int = 2, size: int = 16, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    skel = torch.rand(b, 3, 3, size, size, generator=g) * 2 - 1
    prev = torch.rand(b, 2, 3, size, size, generator=g) * 2 - 1
    return skel, prev


def test_outputs_shapes_ranges_and_blend() -> None:
    torch.manual_seed(0)
    gen = Vid2VidGenerator(CFG)
    skel, prev = inputs()
    out = gen(skel, prev)
    assert out.frame.shape == out.hallucinated.shape == out.warped.shape == (2, 3, 16, 16)
    assert out.flow.shape == (2, 2, 16, 16) and out.mask.shape == (2, 1, 16, 16)
    assert out.hallucinated.abs().max() <= 1 and 0 <= out.mask.min() <= out.mask.max() <= 1
    blend = out.mask * out.warped + (1 - out.mask) * out.hallucinated
    assert torch.allclose(out.frame, blend)


def test_initial_flow_is_zero_so_warped_is_the_previous_frame() -> None:
    gen = Vid2VidGenerator(CFG)
    skel, prev = inputs()
    out = gen(skel, prev)
    assert torch.count_nonzero(out.flow) == 0
    assert torch.allclose(out.warped, prev[:, -1], atol=1e-5)


def test_output_depends_on_previous_frames_and_skeletons() -> None:
    torch.manual_seed(1)
    gen = Vid2VidGenerator(CFG)
    skel, prev = inputs()
    base = gen(skel, prev).hallucinated
    prev2 = prev.clone()
    prev2[:, 0] = 0  # the oldest previous frame only
    skel2 = skel.clone()
    skel2[:, 0] = 0  # the oldest previous skeleton only
    assert not torch.allclose(gen(skel, prev2).hallucinated, base)
    assert not torch.allclose(gen(skel2, prev).hallucinated, base)


def test_batch_items_are_independent() -> None:
    gen = Vid2VidGenerator(CFG)
    skel, prev = inputs(b=3)
    whole = gen(skel, prev).frame
    single = gen(skel[1:2], prev[1:2]).frame
    assert torch.allclose(whole[1:2], single, atol=1e-5)


@pytest.mark.parametrize(
    ("skel_shape", "prev_shape", "needle"),
    [
        ((1, 2, 3, 16, 16), (1, 2, 3, 16, 16), "skeletons"),
        ((1, 3, 3, 16, 16), (1, 1, 3, 16, 16), "prev_frames"),
        ((1, 3, 3, 18, 16), (1, 2, 3, 18, 16), "multiples of 4"),
    ],
)
def test_bad_shapes_are_input_errors(skel_shape: tuple, prev_shape: tuple, needle: str) -> None:
    gen = Vid2VidGenerator(CFG)
    with pytest.raises(InputError, match=needle):
        gen(torch.zeros(skel_shape), torch.zeros(prev_shape))


def test_bad_config_is_input_error() -> None:
    with pytest.raises(InputError, match="width"):
        Vid2VidGenerator(GeneratorConfig(width=0))


def test_warp_by_one_pixel_shifts_the_image() -> None:
    img = torch.arange(2 * 1 * 6 * 8, dtype=torch.float32).view(2, 1, 6, 8)
    pixels = torch.zeros(2, 2, 6, 8)
    pixels[:, 0] = 1.0  # read from one pixel to the right
    shifted = warp(img, pixels_to_flow(pixels))
    assert torch.allclose(shifted[..., :-1], img[..., 1:], atol=1e-4)
    assert torch.allclose(shifted[..., -1], img[..., -1], atol=1e-4)  # border padding
    assert torch.allclose(flow_to_pixels(pixels_to_flow(pixels)), pixels)


PLATED = GeneratorConfig(
    width=8, depth=2, res_blocks=1, max_channels=16, num_prev=2,
    background_height=16, background_width=16,
)  # fmt: skip


def test_a_plate_is_composited_under_the_generated_frame() -> None:
    torch.manual_seed(0)
    gen = Vid2VidGenerator(PLATED)
    plate = torch.rand(3, 16, 16) * 2 - 1
    gen.set_background(plate)
    skel, prev = inputs()
    out = gen(skel, prev)
    assert out.alpha is not None and out.alpha.shape == (2, 1, 16, 16)
    blend = out.mask * out.warped + (1 - out.mask) * out.hallucinated
    assert torch.allclose(out.frame, out.alpha * blend + (1 - out.alpha) * plate)
    assert float(out.alpha.mean()) < 0.5  # starts mostly plate
    crop = torch.rand(2, 3, 16, 16) * 2 - 1  # a training crop's plate, per item
    given = gen(skel, prev, crop)
    blend = given.mask * given.warped + (1 - given.mask) * given.hallucinated
    assert torch.allclose(given.frame, given.alpha * blend + (1 - given.alpha) * crop)


def test_the_plate_is_saved_with_the_weights_and_resized_to_other_frames(tmp_path) -> None:
    from speech2video.render.checkpoint import load_renderer, save_renderer
    from speech2video.render.renderer_config import RendererConfig

    torch.manual_seed(0)
    gen = Vid2VidGenerator(PLATED)
    gen.set_background(torch.linspace(-1, 1, 3 * 16 * 16).reshape(3, 16, 16))
    save_renderer(tmp_path, RendererConfig(generator=PLATED, preset="tiny"), gen)
    loaded = load_renderer(tmp_path).generator
    assert torch.equal(loaded.background, gen.background)
    skel, prev = inputs(size=32)
    assert loaded(skel, prev).frame.shape == (2, 3, 32, 32)


def test_a_plate_of_the_wrong_size_or_without_a_plate_is_an_input_error() -> None:
    with pytest.raises(InputError, match="background plate must be"):
        Vid2VidGenerator(PLATED).set_background(torch.zeros(3, 8, 8))
    with pytest.raises(InputError, match="no background plate"):
        Vid2VidGenerator(CFG).set_background(torch.zeros(3, 16, 16))
    with pytest.raises(InputError, match="both be > 0"):
        GeneratorConfig(background_height=16).validate()


def test_frames_padded_to_a_multiple_get_the_plate_padded_not_stretched() -> None:
    """A 14x14 plate under frames padded to 16x16 (render_images pads to 2**depth) stays
    pixel-aligned: the plate is padded with black, not resized."""
    import dataclasses

    torch.manual_seed(0)
    gen = Vid2VidGenerator(dataclasses.replace(PLATED, background_height=14, background_width=14))
    plate = torch.rand(3, 14, 14) * 2 - 1
    gen.set_background(plate)
    with torch.no_grad():
        gen.alpha_head.bias.fill_(-30.0)  # all plate
    skel, prev = inputs()
    frame = gen(skel, prev).frame
    torch.testing.assert_close(frame[0, :, :14, :14], plate, atol=1e-5, rtol=0)
    assert torch.allclose(
        frame[:, :, 14:, :], torch.full_like(frame[:, :, 14:, :], -1.0), atol=1e-5
    )


def _flops(gen: Vid2VidGenerator, size: int = 32) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    skel, prev = inputs(b=1, size=size)
    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        gen(skel, prev)
    return counter.get_total_flops()


def test_conv_resize_decoder_is_cheaper_same_shapes_and_learns_the_skeleton() -> None:
    torch.manual_seed(0)
    light = Vid2VidGenerator(replace(CFG, decoder="conv_resize"))
    heavy = Vid2VidGenerator(CFG)
    skel, prev = inputs(b=1, size=32)
    out = light(skel, prev)
    assert out.frame.shape == (1, 3, 32, 32)
    assert _flops(light) < 0.8 * _flops(heavy)
    # the same parameters (only where each decoder convolves differs), and the output
    # still depends on the current skeleton
    assert sum(p.numel() for p in light.parameters()) == sum(p.numel() for p in heavy.parameters())
    skel2 = skel.clone()
    skel2[:, -1] = -skel2[:, -1]
    assert not torch.allclose(light(skel2, prev).hallucinated, out.hallucinated)


def test_unknown_decoder_is_input_error_and_old_configs_keep_theirs() -> None:
    from speech2video.render.renderer_config import RendererConfig, preset

    with pytest.raises(InputError, match=r"generator\.decoder"):
        GeneratorConfig(decoder="deconv").validate()
    old = RendererConfig.from_dict({"preset": "demo", "generator": {"width": 16}})
    assert old.generator.decoder == "resize_conv"  # checkpoints from before the option
    lite = preset("lite")
    assert (
        lite.generator.decoder == "conv_resize"
        and lite.discriminator == preset("demo").discriminator
    )
    assert _flops(Vid2VidGenerator(lite.generator), 64) < 0.4 * _flops(
        Vid2VidGenerator(preset("demo").generator), 64
    )
