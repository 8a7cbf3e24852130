"""The generator's step on OpenVINO (CPU): bfloat16 where the CPU computes it, float32 elsewhere.

OpenVINO compiles the float ONNX graph that render/onnx_generator.py exports and checks against
torch (one graph per window shape). On a CPU that lists ``BF16`` among its optimisation
capabilities (Intel AMX or AVX-512 BF16: Sapphire Rapids and later) the convolutions run in
bfloat16 on its matrix units: on one core of a 2-core Sapphire Rapids VM the demo generator's
step at 256² goes from 11-12 fps (ONNX Runtime float) and 15-18 fps (its int8 step) to ~36 fps,
one step within ~50 dB of the float one. Each compiled step is checked against torch's on a
random window (:data:`MIN_STEP_PSNR_DB`) and compiled in f32 when it falls short; a roll-out's
drift over real skeletons is measured by ``python -m benchmarks.renderer_engines``.

Compiled models are kept per (window shape, threads); an infer request is not for concurrent
use, so each thread gets its own.
"""

from __future__ import annotations

import functools
import logging
import threading
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from speech2video.errors import InputError
from speech2video.render.generator import GeneratorOutput

if TYPE_CHECKING:
    from speech2video.render.onnx_generator import OnnxGenerator

_log = logging.getLogger(__name__)

#: ``auto``: bf16 where the CPU computes it, else f32.
PRECISIONS = ("auto", "bf16", "f32")
#: CPU threads of a compiled step: on 2 cores one thread is fastest (the demo generator at
#: 256²: 34-42 fps on one, 15-29 on two, where the team waits on a core the other stages hold).
THREADS = 1
#: A compiled step whose frame is further than this from torch's float step (PSNR over [-1, 1]
#: on a random window) is compiled again in f32.
MIN_STEP_PSNR_DB = 40.0


def available() -> bool:
    """Whether the openvino package can be imported."""
    try:
        import openvino  # noqa: F401
    except ImportError:
        return False
    return True


@functools.cache
def _core() -> Any:
    """The process's OpenVINO runtime (made on first use)."""
    import openvino as ov

    return ov.Core()


@functools.cache
def bf16_supported() -> bool:
    """Whether this machine's CPU computes bfloat16 (OpenVINO's ``BF16`` capability)."""
    return available() and "BF16" in _core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")


def step_psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR (dB) between two frames in [-1, 1] (any equal shapes)."""
    mse = float(np.mean(np.square(np.asarray(a, np.float64) - np.asarray(b, np.float64))))
    return float("inf") if mse == 0 else 10 * np.log10(4.0 / mse)


class OpenVinoGenerator:
    """An :class:`~speech2video.render.onnx_generator.OnnxGenerator`'s float graph compiled by
    OpenVINO for the CPU; called like the generator: ``(skeletons (B, K+1, 3, H, W),
    prev_frames (B, K, 3, H, W))`` → :class:`GeneratorOutput` of float32 CPU tensors."""

    def __init__(self, onnx: OnnxGenerator, precision: str = "auto") -> None:
        if not available():
            raise InputError("the openvino engine needs the openvino package")
        if precision not in PRECISIONS:
            raise InputError(f"openvino precision must be one of {list(PRECISIONS)}")
        self.onnx = onnx
        if precision == "auto":
            precision = "bf16" if bf16_supported() else "f32"
        self.wanted = precision
        self._compiled: dict[tuple[tuple[int, ...], int], tuple[Any, str]] = {}
        self._local = threading.local()
        self._lock = threading.Lock()

    def precision(self, shape: tuple[int, ...], threads: int = THREADS) -> str:
        """``bf16`` or ``f32``: what windows of ``shape`` run in (compiling on first use)."""
        return self.compiled(shape, threads)[1]

    def compiled(self, shape: tuple[int, ...], threads: int = THREADS) -> tuple[Any, str]:
        """The compiled model for ``shape`` at ``threads`` and its precision."""
        shape = tuple(int(s) for s in shape)
        key = (shape, max(1, int(threads)))
        with self._lock:
            if key not in self._compiled:
                self._compiled[key] = self._compile(shape, key[1])
            return self._compiled[key]

    def _compile(self, shape: tuple[int, ...], threads: int) -> tuple[Any, str]:
        core = _core()
        model = core.read_model(self.onnx.graph(shape))
        b, k1, c, h, w = shape
        generator = torch.Generator().manual_seed(0)
        skeletons = torch.rand(shape, generator=generator) * 2 - 1
        prev = torch.rand((b, k1 - 1, c, h, w), generator=generator) * 2 - 1
        with torch.no_grad():
            expected = self.onnx.step(skeletons, prev)[0].numpy()
        feed = {"skeletons": skeletons.numpy(), "prev_frames": prev.numpy()}
        for precision in dict.fromkeys((self.wanted, "f32")):
            config = {
                "INFERENCE_NUM_THREADS": max(1, threads),
                "INFERENCE_PRECISION_HINT": precision,
                "PERFORMANCE_HINT": "LATENCY",
                "NUM_STREAMS": 1,
                # the renderer shares its cores with the other stages: no pinning
                "ENABLE_CPU_PINNING": False,
            }
            compiled = core.compile_model(model, "CPU", config)
            got = compiled.create_infer_request().infer(feed)[compiled.output(0)]
            quality = step_psnr(got, expected)
            if quality >= MIN_STEP_PSNR_DB:
                return compiled, precision
            _log.warning(
                "openvino %s step is %.1f dB from torch's (below %.0f dB)",
                precision,
                quality,
                MIN_STEP_PSNR_DB,
            )
        raise InputError(f"the openvino f32 step differs from torch ({quality:.1f} dB)")

    def _request(self, compiled: Any) -> Any:
        requests = getattr(self._local, "requests", None)
        if requests is None:
            requests = self._local.requests = {}
        if id(compiled) not in requests:
            requests[id(compiled)] = compiled.create_infer_request()
        return requests[id(compiled)]

    def __call__(self, skeletons: torch.Tensor, prev_frames: torch.Tensor) -> GeneratorOutput:
        shape = tuple(int(s) for s in skeletons.shape)
        compiled, _ = self.compiled(shape)
        request = self._request(compiled)
        feed = {
            "skeletons": np.ascontiguousarray(skeletons.detach().cpu().numpy(), np.float32),
            "prev_frames": np.ascontiguousarray(prev_frames.detach().cpu().numpy(), np.float32),
        }
        request.infer(feed, share_inputs=True)  # read in place: ``feed`` outlives the call
        # the request's output tensors are reused by its next call: copied out
        return GeneratorOutput(
            *(
                torch.from_numpy(np.array(request.get_output_tensor(i).data, np.float32))
                for i in range(len(compiled.outputs))
            )
        )
