"""Streaming inference with carried state, and checkpoint round trips."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import torch

from speech2video.errors import InputError, NotFoundError
from speech2video.render import checkpoint as ckpt
from speech2video.render.generator import Vid2VidGenerator
from speech2video.render.renderer_config import preset
from speech2video.render.renderer_inference import InferenceOptions, StreamingRenderer

CONFIG = preset("tiny")


def make_generator(seed: int = 0) -> Vid2VidGenerator:
    torch.manual_seed(seed)
    gen = Vid2VidGenerator(CONFIG.generator)
    with torch.no_grad():  # non-zero flow, so warping matters across chunk boundaries
        gen.flow_head.weight.normal_(0, 0.05)
    return gen.eval()


def skeletons(b: int = 2, t: int = 7, size: int = 16) -> torch.Tensor:
    g = torch.Generator().manual_seed(3)
    return torch.rand(b, t, 3, size, size, generator=g) * 2 - 1


def render_in_chunks(
    renderer: StreamingRenderer, skel: torch.Tensor, cuts: tuple[int, ...]
) -> torch.Tensor:
    """(B, T, 3, H, W) rendered chunk by chunk (split at ``cuts``), the state carried."""
    bounds = (0, *cuts, skel.shape[1])
    state, parts = None, []
    for start, stop in itertools.pairwise(bounds):
        seq = renderer.render_chunk(skel[:, start:stop], state)
        parts.append(seq.frames)
        state = seq.state
    return torch.cat(parts, dim=1)


def test_chunked_render_equals_whole_render() -> None:
    renderer = StreamingRenderer(make_generator(), InferenceOptions(device="cpu"))
    skel = skeletons()
    whole = renderer.render(skel)
    assert whole.shape == (2, 7, 3, 16, 16)
    state, parts = None, []
    for start, stop in ((0, 3), (3, 4), (4, 7)):
        seq = renderer.render_chunk(skel[:, start:stop], state)
        parts.append(seq.frames)
        state = seq.state
    torch.testing.assert_close(torch.cat(parts, dim=1), whole, atol=1e-6, rtol=0)
    # the carried state matters: restarting a chunk from zeros gives other frames
    fresh = renderer.render_chunk(skel[:, 3:4]).frames
    assert not torch.allclose(fresh, whole[:, 3:4], atol=1e-4)


def test_first_frame_sees_zero_previous_frames() -> None:
    gen = make_generator()
    renderer = StreamingRenderer(gen, InferenceOptions(device="cpu", precision="fp32"))
    skel = skeletons(t=1)
    window = torch.cat((torch.zeros(2, 2, 3, 16, 16), skel), dim=1)
    with torch.no_grad():
        expected = gen(window, torch.zeros(2, 2, 3, 16, 16)).frame
    torch.testing.assert_close(renderer.render(skel)[:, 0], expected)


def test_gpu_options_fall_back_on_cpu() -> None:
    gen = make_generator()
    plain = StreamingRenderer(gen, InferenceOptions(device="cpu", precision="fp32"))
    fancy = StreamingRenderer(  # on CPU fp16 asks only the openvino engine for bf16: not here
        gen,
        InferenceOptions(
            device="cpu", precision="fp16", channels_last=True, compile=True, engine="onnxruntime"
        ),
    )
    assert fancy.autocast_dtype is None and fancy.generator is gen
    skel = skeletons(t=3)
    torch.testing.assert_close(fancy.render(skel), plain.render(skel))
    with pytest.raises(InputError, match="precision"):
        StreamingRenderer(gen, InferenceOptions(precision="int4"))


def test_render_images_pads_odd_sizes_and_ignores_chunking() -> None:
    renderer = StreamingRenderer(make_generator(), InferenceOptions(device="cpu"))
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 255, (18, 22, 3), dtype=np.uint8) for _ in range(5)]
    a = list(renderer.render_images(images, chunk=2))
    b = list(renderer.render_images(iter(images), chunk=5))
    assert len(a) == 5 and a[0].shape == (18, 22, 3) and a[0].dtype == np.uint8
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    with pytest.raises(InputError, match="uint8"):
        list(renderer.render_images([np.zeros((8, 8, 3), np.float32)]))


def test_checkpoint_round_trip_gives_identical_frames(tmp_path: Path) -> None:
    gen = make_generator(seed=5)
    ckpt.save_renderer(tmp_path / "r", CONFIG, gen)
    loaded = ckpt.load_renderer(tmp_path / "r")
    assert loaded.config == CONFIG
    skel = skeletons(t=3)
    with torch.no_grad():
        a = StreamingRenderer(gen, InferenceOptions(device="cpu")).render(skel)
        b = StreamingRenderer(loaded.generator, InferenceOptions(device="cpu")).render(skel)
    assert torch.equal(a, b)


def test_missing_or_broken_checkpoint_is_reported(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="not found"):
        ckpt.load_renderer(tmp_path / "absent")
    ckpt.save_renderer(tmp_path / "r", CONFIG, make_generator())
    (tmp_path / "r" / ckpt.GENERATOR_FILE).write_bytes(b"not safetensors")
    with pytest.raises(InputError, match="cannot read weights"):
        ckpt.load_renderer(tmp_path / "r")
    other = Vid2VidGenerator(preset("demo").generator)
    ckpt.save_renderer(tmp_path / "r2", CONFIG, other)  # weights that do not fit the config
    with pytest.raises(InputError, match="do not match"):
        ckpt.load_renderer(tmp_path / "r2")


@pytest.mark.gpu
def test_cuda_bf16_channels_last_render_is_close_to_fp32() -> None:
    gen = make_generator()
    skel = skeletons(t=4, size=64)
    ref = StreamingRenderer(gen, InferenceOptions(device="cpu", precision="fp32")).render(skel)
    fast = StreamingRenderer(gen, InferenceOptions(device="cuda", precision="bf16"))
    assert fast.autocast_dtype == torch.bfloat16
    out = fast.render(skel).cpu()
    assert out.dtype == torch.float32 and (out - ref).abs().mean() < 0.05
