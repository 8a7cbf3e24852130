"""The renderer's ONNX Runtime engine (render/onnx_generator.py, ``InferenceOptions.engine``):
same frames as torch, one graph per frame size, checked exports, and the torch fallback."""

from __future__ import annotations

import pytest
import torch

from speech2video.errors import InputError
from speech2video.render import onnx_generator
from speech2video.render.renderer_inference import InferenceOptions, StreamingRenderer
from tests.unit.render.test_renderer_inference import make_generator, render_in_chunks, skeletons

pytestmark = pytest.mark.skipif(not onnx_generator.available(), reason="onnxruntime absent")


def test_onnxruntime_renders_the_frames_torch_renders() -> None:
    gen = make_generator()
    fast = StreamingRenderer(gen, InferenceOptions(device="cpu", engine="onnxruntime"))
    slow = StreamingRenderer(gen, InferenceOptions(device="cpu", engine="torch"))
    assert (fast.engine, slow.engine) == ("onnxruntime", "torch")
    skel = skeletons(b=1, t=5, size=32)
    chunked = render_in_chunks(fast, skel, (2,))  # streaming across chunks, state carried
    torch.testing.assert_close(chunked, slow.render(skel), atol=1e-4, rtol=0)
    # Another frame size gets its own graph; sessions are kept per size and thread count.
    other = skeletons(b=1, t=2, size=16)
    torch.testing.assert_close(fast.render(other), slow.render(other), atol=1e-4, rtol=0)
    assert len(fast._onnx._models) == 2


def test_auto_is_onnxruntime_on_cpu_and_unknown_engines_are_refused() -> None:
    """Without bfloat16 (or asked for fp32) auto is onnxruntime; openvino's own tests cover
    the bf16 case (test_openvino_engine.py)."""
    exact = InferenceOptions(device="cpu", precision="fp32")
    assert StreamingRenderer(make_generator(), exact).engine == "onnxruntime"
    with pytest.raises(InputError, match="engine must be one of"):
        StreamingRenderer(make_generator(), InferenceOptions(device="cpu", engine="tensorrt"))


def test_an_export_that_does_not_check_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(onnx_generator, "MAX_ABS_DIFF", -1.0)  # every export now "differs"
    auto = StreamingRenderer(make_generator(), InferenceOptions(device="cpu", engine="auto"))
    skel = skeletons(b=1, t=2, size=16)
    frames = auto.render(skel)  # falls back to torch and still renders
    assert auto.engine == "torch" and frames.shape == (1, 2, 3, 16, 16)
    strict = StreamingRenderer(
        make_generator(), InferenceOptions(device="cpu", engine="onnxruntime")
    )
    with pytest.raises(InputError, match="differs from torch"):
        strict.render(skel)


def test_a_generator_with_a_background_plate_exports_it_as_a_constant() -> None:
    """The plate is a buffer of the module: the exported graph holds it, the frames match."""
    import dataclasses

    from speech2video.render.generator import Vid2VidGenerator

    base = make_generator()
    config = dataclasses.replace(base.config, background_height=32, background_width=32)
    torch.manual_seed(1)
    gen = Vid2VidGenerator(config).eval()
    gen.set_background(torch.rand(3, 32, 32) * 2 - 1)
    fast = StreamingRenderer(gen, InferenceOptions(device="cpu", engine="onnxruntime"))
    slow = StreamingRenderer(gen, InferenceOptions(device="cpu", engine="torch"))
    skel = skeletons(b=1, t=3, size=32)
    torch.testing.assert_close(fast.render(skel), slow.render(skel), atol=1e-4, rtol=0)
