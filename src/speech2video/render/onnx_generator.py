"""The generator's step on ONNX Runtime: about twice torch's CPU speed for this network.

Rendering is one generator step per frame, each needing the previous outputs, so the step's
latency is the renderer's speed. On CPU, ONNX Runtime's convolution kernels run the demo
generator's step about 2× faster than torch's eager oneDNN path (``python -m benchmarks.renderer``
prints both), with outputs equal to ~1e-5.

:class:`OnnxGenerator` exports the step (``torch.onnx.export``, TorchScript-based, opset 18) in
memory the first time a frame size is seen (the identity grid of the flow warp depends on the
size, so each size gets its own graph), checks the exported step against torch on one input
(beyond :data:`MAX_ABS_DIFF` it is refused and the caller keeps torch), and keeps one session
per (size, thread count): the renderer service varies its thread count between the first piece
and the rest.
"""

from __future__ import annotations

import io
import threading
import warnings
from typing import Any

import numpy as np
import torch

from speech2video.errors import InputError
from speech2video.render.generator import GeneratorOutput, Vid2VidGenerator

OUTPUTS = ("frame", "hallucinated", "warped", "flow", "mask")
#: Largest accepted |onnxruntime − torch| on the check input (values in [-1, 1]).
MAX_ABS_DIFF = 1e-3
OPSET = 18


def available() -> bool:
    """Whether onnxruntime and the exporter's onnx package can be imported."""
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


class _Step(torch.nn.Module):
    def __init__(self, generator: Vid2VidGenerator) -> None:
        super().__init__()
        self.generator = generator

    def forward(
        self, skeletons: torch.Tensor, prev_frames: torch.Tensor
    ) -> tuple[torch.Tensor, ...]:
        out = self.generator(skeletons, prev_frames)
        return tuple(getattr(out, name) for name in OUTPUTS)


class OnnxGenerator:
    """A Vid2VidGenerator's step on ONNX Runtime (CPU), exported per frame size on first use.

    Call it like the generator: ``(skeletons (B, K+1, 3, H, W), prev_frames (B, K, 3, H, W))``
    → :class:`GeneratorOutput` of float32 CPU tensors.
    """

    def __init__(self, generator: Vid2VidGenerator) -> None:
        if not available():
            raise InputError("the onnxruntime engine needs the onnxruntime and onnx packages")
        self.step = _Step(generator.cpu().eval())
        self.num_prev = generator.num_prev
        self.multiple = generator.multiple
        self._models: dict[tuple[int, ...], bytes] = {}  # exported float graphs
        self._overrides: dict[tuple[int, ...], bytes] = {}  # use_graph's
        self._sessions: dict[tuple[tuple[int, ...], int], Any] = {}
        self._fixed_threads: dict[tuple[int, ...], int] = {}
        self._lock = threading.Lock()

    def use_graph(self, shape: tuple[int, ...], model: bytes, threads: int | None = None) -> None:
        """Run windows of ``shape`` with ``model`` (e.g. the int8 graph, render/int8_generator.py)
        instead of exporting one; ``threads``: a fixed intra-op thread count for it."""
        with self._lock:
            shape = tuple(int(s) for s in shape)
            self._overrides[shape] = model
            self._sessions = {k: v for k, v in self._sessions.items() if k[0] != shape}
            if threads:
                self._fixed_threads[shape] = int(threads)

    def graph(self, shape: tuple[int, ...]) -> bytes:
        """The float ONNX graph for skeleton windows of ``shape`` (B, K+1, 3, H, W), exported and
        checked against torch on first use (what a session runs unless :meth:`use_graph` set
        another)."""
        with self._lock:
            return self._model(tuple(int(s) for s in shape))

    def _model(self, shape: tuple[int, ...]) -> bytes:
        """The checked ONNX graph for skeleton windows of ``shape`` (B, K+1, 3, H, W)."""
        if shape in self._models:
            return self._models[shape]
        b, k1, c, h, w = shape
        skeletons = torch.rand(shape) * 2 - 1
        prev = torch.rand(b, k1 - 1, c, h, w) * 2 - 1
        buffer = io.BytesIO()
        with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
            # The TorchScript exporter's notes (instance norm "train=True": instance norms use
            # each frame's own statistics, as they do in torch) are not for the operator.
            warnings.simplefilter("ignore")
            torch.onnx.export(
                self.step,
                (skeletons, prev),
                buffer,
                input_names=["skeletons", "prev_frames"],
                output_names=list(OUTPUTS),
                opset_version=OPSET,
                dynamo=False,
            )
            expected = self.step(skeletons, prev)
        model = buffer.getvalue()
        got = self._session(model, 1).run(
            None, {"skeletons": skeletons.numpy(), "prev_frames": prev.numpy()}
        )
        diff = max(float(np.abs(g - e.numpy()).max()) for g, e in zip(got, expected, strict=True))
        if not diff <= MAX_ABS_DIFF:
            raise InputError(f"the exported generator differs from torch by {diff:.2e}")
        self._models[shape] = model
        return model

    @staticmethod
    def _session(model: bytes, threads: int) -> Any:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = max(1, int(threads))
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        # idle intra-op threads sleep instead of spinning: the renderer shares its cores with
        # the other stages, which a spinning team would starve between operators
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])

    def session(self, shape: tuple[int, ...], threads: int | None = None) -> Any:
        """The session for ``shape`` at ``threads`` intra-op threads (default: torch's)."""
        with self._lock:
            threads = self._fixed_threads.get(shape) or int(threads or torch.get_num_threads())
            key = (shape, threads)
            if key not in self._sessions:
                model = self._overrides.get(shape) or self._model(shape)
                self._sessions[key] = self._session(model, threads)
            return self._sessions[key]

    def __call__(self, skeletons: torch.Tensor, prev_frames: torch.Tensor) -> GeneratorOutput:
        shape = tuple(int(s) for s in skeletons.shape)
        feed = {
            "skeletons": np.ascontiguousarray(skeletons.detach().cpu().numpy(), np.float32),
            "prev_frames": np.ascontiguousarray(prev_frames.detach().cpu().numpy(), np.float32),
        }
        outputs = self.session(shape).run(None, feed)
        return GeneratorOutput(*(torch.from_numpy(o) for o in outputs))
