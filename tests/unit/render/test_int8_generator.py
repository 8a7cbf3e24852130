"""The int8 step of the generator: calibrated on skeleton streams, checked against float, carried
by a renderer checkpoint and run by the streaming renderer for its frame size only (real ONNX
Runtime quantisation of the tiny generator)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from speech2video.errors import InputError
from speech2video.evaluation.render_metrics import psnr
from speech2video.render import checkpoint as ckpt
from speech2video.render import int8_generator as q8
from speech2video.render.generator import Vid2VidGenerator
from speech2video.render.renderer_config import preset
from speech2video.render.renderer_inference import InferenceOptions, StreamingRenderer
from tests.unit.render.test_renderer_training import synthetic_sequence

pytest.importorskip("onnxruntime")
SIZE = 32


@pytest.fixture(scope="module")
def generator() -> Vid2VidGenerator:
    torch.manual_seed(0)
    return Vid2VidGenerator(preset("tiny").generator).eval()


@pytest.fixture(scope="module")
def int8(generator: Vid2VidGenerator) -> q8.Int8Step:
    skels, _ = synthetic_sequence(frames=8, size=SIZE)
    return q8.quantize_step(generator, [list(skels), list(skels[::-1])], every=1)


def _stream(size: int = SIZE) -> list[np.ndarray]:
    skels, _ = synthetic_sequence(frames=6, size=size)
    return list(skels)


def test_the_step_is_int8_and_close_to_float(
    generator: Vid2VidGenerator, int8: q8.Int8Step
) -> None:
    import onnx

    model = onnx.load_from_string(int8.model)
    ops = {n.op_type for n in model.graph.node}
    assert "QLinearConv" in ops  # the body runs int8 convolutions
    heads = [n for n in model.graph.node if n.op_type == "Conv"]
    assert heads and all(n.input[1].endswith("_head.weight") for n in heads)  # heads stay float
    assert int8.shape == (1, generator.num_prev + 1, 3, SIZE, SIZE)
    assert int8.meta["calibration_samples"] == 16
    fidelity = q8.step_fidelity(generator, int8, [_stream()])
    assert fidelity["int8_check_frames"] == 6.0
    assert q8.MIN_PSNR_DB <= fidelity["int8_psnr_min"] <= fidelity["int8_psnr_mean"] < 99.0


def test_the_renderer_runs_int8_for_its_size_only(
    generator: Vid2VidGenerator, int8: q8.Int8Step
) -> None:
    options = InferenceOptions(device="cpu", engine="onnxruntime")
    float_renderer = StreamingRenderer(generator, options)
    int8_renderer = StreamingRenderer(generator, options, int8)
    assert float_renderer.engine == "onnxruntime"
    assert int8_renderer.engine == "onnxruntime-int8"
    a = list(float_renderer.render_images(_stream(), chunk=2))
    b = list(int8_renderer.render_images(_stream(), chunk=2))
    assert any((x != y).any() for x, y in zip(a, b, strict=True))  # the int8 graph ran
    assert min(psnr(x, y) for x, y in zip(a, b, strict=True)) >= q8.MIN_PSNR_DB
    # another frame size has no int8 graph: the float step renders it, frame for frame
    c = list(float_renderer.render_images(_stream(48), chunk=2))
    d = list(int8_renderer.render_images(_stream(48), chunk=2))
    assert all((x == y).all() for x, y in zip(c, d, strict=True))
    # int8 off in the options: float everywhere
    off = StreamingRenderer(
        generator, InferenceOptions(device="cpu", engine="onnxruntime", int8=False), int8
    )
    assert off.engine == "onnxruntime"
    assert all((x == y).all() for x, y in zip(a, off.render_images(_stream(), 2), strict=True))


def test_a_checkpoint_carries_it(
    tmp_path: Path, generator: Vid2VidGenerator, int8: q8.Int8Step
) -> None:
    ckpt.save_renderer(tmp_path, preset("tiny"), generator)
    assert ckpt.load_renderer(tmp_path).int8 is None
    q8.save_int8(tmp_path, int8)
    loaded = ckpt.load_renderer(tmp_path).int8
    assert loaded is not None and loaded.model == int8.model and loaded.shape == int8.shape


def test_a_broken_description_is_refused(tmp_path: Path, int8: q8.Int8Step) -> None:
    (tmp_path / q8.INT8_FILE).write_bytes(int8.model)
    with pytest.raises(InputError, match=r"no int8\.json"):
        q8.load_int8(tmp_path)
    (tmp_path / q8.INT8_META_FILE).write_text("{not json")
    with pytest.raises(InputError, match="not an int8 description"):
        q8.load_int8(tmp_path)
    (tmp_path / q8.INT8_META_FILE).write_text('{"shape": [2, 3, 3, 32, 32]}')
    with pytest.raises(InputError, match="shape must be"):
        q8.load_int8(tmp_path)


def test_calibration_needs_frames(generator: Vid2VidGenerator) -> None:
    with pytest.raises(InputError, match="no skeleton frames"):
        q8.quantize_step(generator, [[]])
    with pytest.raises(InputError, match="differ in size"):
        q8.quantize_step(generator, [_stream(32), _stream(48)])
