"""The renderer's OpenVINO engine (render/openvino_generator.py): f32 gives torch's frames,
bf16 stays close over a fed-back roll-out, auto picks it only where the CPU computes bfloat16,
and a compile that does not check out falls back."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from speech2video.errors import InputError
from speech2video.evaluation.render_metrics import psnr
from speech2video.render import onnx_generator
from speech2video.render import openvino_generator as ovg
from speech2video.render.renderer_data import to_uint8
from speech2video.render.renderer_inference import InferenceOptions, StreamingRenderer
from tests.unit.render.test_renderer_inference import make_generator, render_in_chunks, skeletons

pytestmark = pytest.mark.skipif(
    not (ovg.available() and onnx_generator.available()), reason="openvino or onnxruntime absent"
)
needs_bf16 = pytest.mark.skipif(not ovg.bf16_supported(), reason="this CPU has no bfloat16")


def test_f32_renders_the_frames_torch_renders_across_chunks_and_sizes() -> None:
    gen = make_generator()
    fast = StreamingRenderer(
        gen, InferenceOptions(device="cpu", engine="openvino", precision="fp32")
    )
    slow = StreamingRenderer(gen, InferenceOptions(device="cpu", engine="torch"))
    skel = skeletons(b=1, t=5, size=32)
    chunked = render_in_chunks(fast, skel, (2,))  # streaming across chunks, state carried
    assert fast.engine == "openvino-f32"
    torch.testing.assert_close(chunked, slow.render(skel), atol=1e-4, rtol=0)
    other = skeletons(b=1, t=2, size=16)  # another size: its own compiled model
    torch.testing.assert_close(fast.render(other), slow.render(other), atol=1e-4, rtol=0)
    assert len(fast._openvino._compiled) == 2


@needs_bf16
def test_auto_is_bf16_where_the_cpu_computes_it_and_stays_close_to_float() -> None:
    gen = make_generator()
    auto = StreamingRenderer(gen, InferenceOptions(device="cpu"))
    exact = StreamingRenderer(gen, InferenceOptions(device="cpu", precision="fp32"))
    assert (auto.engine, exact.engine) == ("openvino-bf16", "onnxruntime")
    skel = skeletons(b=1, t=12, size=32)
    a, b = (to_uint8(r.render(skel)[0]) for r in (auto, exact))
    assert any((x != y).any() for x, y in zip(a, b, strict=True))  # bf16 really ran
    per_frame = [psnr(x, y) for x, y in zip(a, b, strict=True)]
    assert min(per_frame) >= 30.0, per_frame  # fed back 12 times without drifting away
    # frames from different threads: each has its own infer request, the same frames
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        runs = list(pool.map(lambda _: to_uint8(auto.render(skel)[0]), range(2)))
    assert all(np.array_equal(r, a) for r in runs)


def test_without_bfloat16_auto_keeps_onnxruntime(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ovg, "bf16_supported", lambda: False)
    assert StreamingRenderer(make_generator(), InferenceOptions(device="cpu")).engine == (
        "onnxruntime"
    )
    forced = StreamingRenderer(make_generator(), InferenceOptions(device="cpu", engine="openvino"))
    assert forced.engine == "openvino-f32"


def test_a_step_that_does_not_check_out_is_compiled_in_f32_or_falls_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    skel = skeletons(b=1, t=2, size=16)
    monkeypatch.setattr(ovg, "MIN_STEP_PSNR_DB", float("inf"))  # no compile checks out
    auto = StreamingRenderer(make_generator(), InferenceOptions(device="cpu"))
    if auto._openvino is not None:  # bf16 here: openvino gives up, onnxruntime renders
        frames = auto.render(skel)
        assert auto.engine == "onnxruntime" and frames.shape == (1, 2, 3, 16, 16)
    strict = StreamingRenderer(make_generator(), InferenceOptions(device="cpu", engine="openvino"))
    with pytest.raises(InputError, match="differs from torch"):
        strict.render(skel)
