"""An int8 copy of the generator's step for CPU rendering, calibrated on the speaker's skeletons.

ONNX Runtime static quantisation (QOperator ``QLinearConv``, int8 weights per output channel,
uint8 activations with min/max ranges) of the step exported by render/onnx_generator.py. The
output heads (image, flow, mask, alpha) stay float: they are thin and cheap, and they set the
precision of what is seen. The activation ranges come from a float roll-out over the speaker's
training skeleton streams (:func:`quantize_step`), so the graph is calibrated on the poses it will
be asked to draw. :func:`step_fidelity` rolls float and int8 out side by side over other streams
(each engine fed back its own frames, as in rendering) and gives the PSNR between them; a graph
below :data:`MIN_PSNR_DB` is not kept.

Measured on the demo generator at 256² (the demo speaker's four held-out recordings, 428 frames,
``python -m benchmarks.renderer_engines``): int8 vs float 36.4 dB with no drift over the roll-out;
PSNR against the real frames 19.19 → 19.12 dB, SSIM 0.764 → 0.708, face-crop L1 24.1 → 24.8;
18.4 fps on one thread against 11.3 (float ONNX Runtime). On two threads int8 is slower than on
one (16.9 fps: its kernels are too short to share), so int8 sessions run on :data:`INT8_THREADS`.

A renderer checkpoint carries the graph as ``generator.int8.onnx`` beside ``int8.json`` (frame
size, calibration and fidelity figures); :func:`load_int8` reads them back.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from speech2video.errors import InputError
from speech2video.render.generator import Vid2VidGenerator

INT8_FILE = "generator.int8.onnx"
INT8_META_FILE = "int8.json"
#: Least PSNR (dB) of the int8 roll-out against the float one for the graph to be kept.
MIN_PSNR_DB = 30.0
#: Intra-op threads of an int8 session (faster on one than on two, see the module docstring).
INT8_THREADS = 1
#: Every n-th generated frame of the calibration roll-out is a calibration sample.
CALIBRATION_EVERY = 3
MAX_CALIBRATION_SAMPLES = 240


@dataclass(frozen=True)
class Int8Step:
    """An int8 ONNX graph of the generator's step for one window shape.

    model: the serialized ONNX model; shape: the skeleton window (1, K+1, 3, H, W) it was
    exported for; meta: calibration and fidelity figures (written to ``int8.json``)
    """

    model: bytes
    shape: tuple[int, ...]
    meta: dict[str, Any] = field(default_factory=dict)


def window_shape(generator: Vid2VidGenerator, height: int, width: int) -> tuple[int, ...]:
    """The skeleton window one step of one stream takes at a frame size: (1, K+1, 3, H, W)."""
    if height % generator.multiple or width % generator.multiple:
        raise InputError(
            f"frame height and width must be multiples of {generator.multiple}; "
            f"got {width}x{height}"
        )
    return (1, generator.num_prev + 1, 3, int(height), int(width))


class _RecordingStep:
    """The float ONNX step, keeping every ``every``-th input it is given as a calibration feed."""

    def __init__(self, onnx: Any, every: int, limit: int) -> None:
        self.onnx, self.every, self.limit = onnx, every, limit
        self.feeds: list[dict[str, np.ndarray]] = []
        self._calls = 0

    def __call__(self, skeletons: torch.Tensor, prev_frames: torch.Tensor) -> Any:
        if self._calls % self.every == 0 and len(self.feeds) < self.limit:
            self.feeds.append(
                {
                    "skeletons": np.ascontiguousarray(skeletons.numpy(), np.float32),
                    "prev_frames": np.ascontiguousarray(prev_frames.numpy(), np.float32),
                }
            )
        self._calls += 1
        return self.onnx(skeletons, prev_frames)


def _roll_out(step: Any, generator: Vid2VidGenerator, stream: Sequence[np.ndarray]) -> np.ndarray:
    """One stream of (H, W, 3) uint8 skeletons through ``step`` with its own frames fed back;
    returns (T, H, W, 3) uint8."""
    from speech2video.render.renderer_data import to_tensor, to_uint8
    from speech2video.render.renderer_inference import StreamState, generate_sequence

    skeletons = to_tensor(np.stack(stream)).unsqueeze(0)
    h, w = skeletons.shape[-2:]
    state = StreamState.initial(1, generator.num_prev, h, w)
    with torch.inference_mode():
        seq = generate_sequence(step, skeletons, state)
    return np.asarray(to_uint8(seq.frames[0]))


def _check_streams(streams: Iterable[Sequence[np.ndarray]], what: str) -> list[list[np.ndarray]]:
    out = [list(s) for s in streams]
    out = [s for s in out if s]
    if not out:
        raise InputError(f"{what}: no skeleton frames")
    sizes = {np.asarray(s[0]).shape for s in out}
    if len(sizes) != 1:
        raise InputError(f"{what}: the skeleton streams differ in size ({sorted(sizes)})")
    return out


def _head_convs(model: Any) -> list[str]:
    """Names of the convolutions whose weights are an output head's (``*_head.weight``)."""
    return [
        n.name
        for n in model.graph.node
        if n.op_type == "Conv" and len(n.input) > 1 and n.input[1].endswith("_head.weight")
    ]


def quantize_step(
    generator: Vid2VidGenerator,
    streams: Iterable[Sequence[np.ndarray]],
    every: int = CALIBRATION_EVERY,
    max_samples: int = MAX_CALIBRATION_SAMPLES,
) -> Int8Step:
    """The int8 step for the streams' frame size, calibrated on a float roll-out of ``streams``.

    streams: skeleton image streams, each a sequence of (H, W, 3) uint8 RGB frames of one size
    """
    import onnx
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from speech2video.render.onnx_generator import OnnxGenerator

    clips = _check_streams(streams, "int8 calibration")
    h, w = np.asarray(clips[0][0]).shape[:2]
    shape = window_shape(generator, h, w)
    float_step = OnnxGenerator(generator)
    recorder = _RecordingStep(float_step, max(1, int(every)), max(1, int(max_samples)))
    for clip in clips:
        _roll_out(recorder, generator, clip)
    feeds = recorder.feeds

    class _Feeds(CalibrationDataReader):
        def __init__(self) -> None:
            self._it = iter(feeds)

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self._it, None)

    with tempfile.TemporaryDirectory(prefix="s2v-int8-") as tmp:
        source, prepared, target = (Path(tmp) / n for n in ("f.onnx", "p.onnx", "q.onnx"))
        source.write_bytes(float_step.graph(shape))
        quant_pre_process(str(source), str(prepared), skip_symbolic_shape=True)
        excluded = _head_convs(onnx.load(str(prepared)))
        quantize_static(
            str(prepared),
            str(target),
            _Feeds(),
            quant_format=QuantFormat.QOperator,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax,
            nodes_to_exclude=excluded,
        )
        model = target.read_bytes()
    meta = {
        "shape": list(shape),
        "calibration_samples": len(feeds),
        "calibration_frames": sum(len(c) for c in clips),
        "float_heads": len(excluded),
    }
    return Int8Step(model, shape, meta)


def step_fidelity(
    generator: Vid2VidGenerator, int8: Int8Step, streams: Iterable[Sequence[np.ndarray]]
) -> dict[str, float]:
    """PSNR (dB) between the float and int8 roll-outs of ``streams``, each fed back its own
    frames: ``int8_psnr_mean``, ``int8_psnr_min`` (per frame) and ``int8_check_frames``."""
    from speech2video.render.onnx_generator import OnnxGenerator

    clips = _check_streams(streams, "int8 check")
    float_step = OnnxGenerator(generator)
    quantized = OnnxGenerator(generator)
    quantized.use_graph(int8.shape, int8.model, INT8_THREADS)
    values: list[float] = []
    for clip in clips:
        a = _roll_out(float_step, generator, clip)
        b = _roll_out(quantized, generator, clip)
        mse = ((a.astype(np.float64) - b.astype(np.float64)) ** 2).mean(axis=(1, 2, 3))
        values += [10 * np.log10(255.0**2 / m) if m > 0 else 99.0 for m in mse]
    finite = [min(float(v), 99.0) for v in values]
    return {
        "int8_psnr_mean": float(np.mean(finite)),
        "int8_psnr_min": float(np.min(finite)),
        "int8_check_frames": float(len(finite)),
    }


def save_int8(directory: str | Path, int8: Int8Step) -> Path:
    """Write ``generator.int8.onnx`` and ``int8.json`` into a renderer checkpoint directory."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    for name, data in (
        (INT8_FILE, int8.model),
        (INT8_META_FILE, (json.dumps(int8.meta, indent=2, sort_keys=True) + "\n").encode()),
    ):
        tmp = out / f".{name}.tmp"
        tmp.write_bytes(data)
        os.replace(tmp, out / name)
    return out / INT8_FILE


def load_int8(directory: str | Path) -> Int8Step | None:
    """The int8 step a renderer checkpoint carries, or None when it has none."""
    src = Path(directory)
    graph, meta_file = src / INT8_FILE, src / INT8_META_FILE
    if not graph.is_file():
        return None
    if not meta_file.is_file():
        raise InputError(f"renderer checkpoint {src} has {INT8_FILE} but no {INT8_META_FILE}")
    try:
        meta = json.loads(meta_file.read_text())
        shape = tuple(int(s) for s in meta["shape"])
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise InputError(f"{meta_file}: not an int8 description ({exc})") from None
    if len(shape) != 5 or shape[0] != 1:
        raise InputError(f"{meta_file}: shape must be (1, K+1, 3, H, W); got {list(shape)}")
    return Int8Step(graph.read_bytes(), shape, meta)
