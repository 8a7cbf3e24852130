"""Rendering frames from skeleton images: batched, streaming with carried state.

The generator is sequential (render/generator.py): frame ``t`` needs skeletons ``t-K .. t`` and
generated frames ``t-K .. t-1``. A :class:`StreamState` carries those K skeletons and frames from
one chunk to the next, so rendering a video in chunks gives the same frames as rendering it
whole. A batch holds several independent streams (``B``); frames of one stream are generated in
order. A stream starts from zeros (:meth:`StreamState.initial`).

GPU options (:class:`InferenceOptions`): autocast to bf16/fp16, channels-last memory format and
``torch.compile``; each falls back to plain float32 on CPU. On CPU the generator's step runs, by
default (``engine="auto"``): on OpenVINO in bfloat16 where the CPU computes it and the precision
asked for is not fp32 (render/openvino_generator.py: ~3× ONNX Runtime's speed on AMX); else on
ONNX Runtime (render/onnx_generator.py: ~1.5× torch's speed, outputs equal to ~1e-5; the
checkpoint's int8 step for its frame size); torch when neither is installed or the export does
not check out.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch

from speech2video.errors import InputError
from speech2video.render.generator import GeneratorOutput, Vid2VidGenerator
from speech2video.render.int8_generator import Int8Step
from speech2video.render.part_refiner import PartRefinement
from speech2video.render.renderer_data import to_tensor, to_uint8

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StreamState:
    """What the next frame of each stream needs from the past.

    skeletons: (B, K, 3, H, W) float32 in [-1, 1] — the last K skeleton images, oldest first
    frames: (B, K, 3, H, W) float32 in [-1, 1] — the last K generated frames, oldest first
    """

    skeletons: torch.Tensor
    frames: torch.Tensor

    @classmethod
    def initial(
        cls,
        batch: int,
        num_prev: int,
        height: int,
        width: int,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
    ) -> StreamState:
        """The start of a stream: zeros (no previous skeletons or frames)."""
        zeros = torch.zeros(batch, num_prev, 3, height, width, device=device, dtype=dtype)
        return cls(zeros, zeros.clone())

    def advance(self, skeleton: torch.Tensor, frame: torch.Tensor) -> StreamState:
        """The state after generating ``frame`` (B, 3, H, W) from ``skeleton`` (B, 3, H, W)."""
        return StreamState(
            torch.cat((self.skeletons[:, 1:], skeleton.unsqueeze(1).to(self.skeletons)), 1),
            torch.cat((self.frames[:, 1:], frame.unsqueeze(1).to(self.frames)), 1),
        )


@dataclass(frozen=True)
class GeneratedSequence:
    """Frames generated for a chunk and the state to continue from.

    outputs: one GeneratorOutput per frame, in order; state: after the last frame
    """

    outputs: list[GeneratorOutput]
    state: StreamState

    @property
    def frames(self) -> torch.Tensor:
        """(B, T, 3, H, W) in [-1, 1]"""
        return torch.stack([o.frame for o in self.outputs], dim=1)


def generate_sequence(
    generator: torch.nn.Module,
    skeletons: torch.Tensor,
    state: StreamState,
    detach_feedback: bool = True,
    background: torch.Tensor | None = None,
) -> GeneratedSequence:
    """Generate frames in order, feeding each back as a previous frame.

    generator: a Vid2VidGenerator (or a compiled wrapper of one)
    skeletons: (B, T, 3, H, W) float in [-1, 1]
    state: the stream state before the first of these frames
    detach_feedback: cut gradients through fed-back frames (training memory)
    background: (B, 3, H, W) in [-1, 1], the plate under these frames (training crops); None:
        the generator's own
    """
    if skeletons.ndim != 5 or skeletons.shape[2] != 3:
        raise InputError(f"skeletons must have shape (B, T, 3, H, W); got {tuple(skeletons.shape)}")
    if skeletons.shape[0] != state.skeletons.shape[0] or (
        skeletons.shape[-2:] != state.skeletons.shape[-2:]
    ):
        raise InputError("skeletons do not match the stream state's batch or frame size")
    outputs = []
    for t in range(skeletons.shape[1]):
        current = skeletons[:, t]
        window = torch.cat((state.skeletons, current.unsqueeze(1).to(state.skeletons)), 1)
        if background is None:
            out = generator(window, state.frames)
        else:
            out = generator(window, state.frames, background)
        outputs.append(out)
        feedback = out.frame.detach() if detach_feedback else out.frame
        state = state.advance(current, feedback)
    return GeneratedSequence(outputs, state)


@dataclass(frozen=True)
class InferenceOptions:
    """How to run the generator.

    device: ``cpu``, ``cuda``, ``cuda:1``... (None: CUDA when available)
    precision: ``fp32``, ``bf16`` or ``fp16``: autocast on CUDA; on CPU, ``bf16``/``fp16`` let
        the openvino engine run in bfloat16 where the CPU computes it, ``fp32`` keeps every
        engine in float32
    channels_last: channels-last memory format (CUDA only)
    compile: wrap the generator in ``torch.compile`` (CUDA only)
    engine: ``auto`` (on CPU: OpenVINO when installed, the CPU computes bfloat16 and
        ``precision`` is not fp32; else ONNX Runtime when installed; else torch), ``torch``,
        ``onnxruntime`` or ``openvino`` (CPU only; bf16 where it can unless ``precision`` is
        fp32)
    int8: on ONNX Runtime, run the checkpoint's int8 step (render/int8_generator.py) for the
    frame size it was calibrated at, when the renderer is given one
    """

    device: str | None = None
    precision: str = "bf16"
    channels_last: bool = True
    compile: bool = False
    engine: str = "auto"
    int8: bool = True


ENGINES = ("auto", "torch", "onnxruntime", "openvino")


class StreamingRenderer:
    """Renders streams of skeleton images with a trained generator, in chunks of any size.

    The generator is moved to the device (and memory format) in place.
    """

    def __init__(
        self,
        generator: Vid2VidGenerator,
        options: InferenceOptions | None = None,
        int8: Int8Step | None = None,
        refiner: PartRefinement | None = None,
    ):
        """int8: the checkpoint's int8 step (``LoadedRenderer.int8``), used on ONNX Runtime for
        windows of its shape when ``options.int8``; other sizes run the float graph.
        refiner: the checkpoint's part refiner (``LoadedRenderer.refiner``): the frames shown
        have their hands (or face) refined; the frames fed back stay the generator's."""
        options = options or InferenceOptions()
        if options.precision not in ("fp32", "bf16", "fp16"):
            raise InputError(f"precision must be fp32, bf16 or fp16; got {options.precision!r}")
        device = options.device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.device = torch.device(device)
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise InputError(f"device {device!r} requested but CUDA is not available")
        self.on_cuda = self.device.type == "cuda"
        self.num_prev = generator.num_prev
        self.multiple = generator.multiple
        generator = generator.to(self.device).eval()
        self.memory_format = (
            torch.channels_last
            if (options.channels_last and self.on_cuda)
            else torch.contiguous_format
        )
        generator = generator.to(memory_format=self.memory_format)
        self.autocast_dtype = (
            {"bf16": torch.bfloat16, "fp16": torch.float16}.get(options.precision)
            if self.on_cuda
            else None
        )
        self.generator: torch.nn.Module = (
            torch.compile(generator, dynamic=False)
            if (options.compile and self.on_cuda)
            else generator
        )
        self.engine_requested = options.engine
        self.refiner = refiner
        if refiner is not None:
            refiner.net.to(self.device)
            refiner.bank.to(self.device)
        self._onnx = self._onnx_engine(generator, options.engine)
        self._openvino_precision: str | None = None  # of the last window shape compiled
        self._openvino = self._openvino_engine(options)
        self.int8_shape: tuple[int, ...] | None = None
        if self._onnx is not None and int8 is not None and options.int8:
            from speech2video.render.int8_generator import INT8_THREADS

            self._onnx.use_graph(int8.shape, int8.model, INT8_THREADS)
            self.int8_shape = tuple(int8.shape)

    @property
    def engine(self) -> str:
        """What runs the generator's step now: ``openvino-bf16`` or ``openvino-f32`` (the
        precision of the last window shape compiled, else the one wanted), ``onnxruntime-int8``
        (an int8 step is set for its frame size), ``onnxruntime`` or ``torch``."""
        if self._openvino is not None:
            return f"openvino-{self._openvino_precision or self._openvino.wanted}"
        if self._onnx is None:
            return "torch"
        return "onnxruntime-int8" if self.int8_shape is not None else "onnxruntime"

    def _openvino_engine(self, options: InferenceOptions) -> Any:
        from speech2video.render import openvino_generator as ovg

        precision = "f32" if options.precision == "fp32" else "auto"
        if options.engine == "openvino":  # _onnx_engine made its export (or raised)
            return ovg.OpenVinoGenerator(self._onnx, precision)
        if options.engine != "auto" or self._onnx is None or precision == "f32":
            return None
        if not ovg.bf16_supported():
            return None
        return ovg.OpenVinoGenerator(self._onnx, "bf16")

    def _onnx_engine(self, generator: Vid2VidGenerator, engine: str) -> Any:
        from speech2video.render import onnx_generator

        if engine not in ENGINES:
            raise InputError(f"engine must be one of {list(ENGINES)}; got {engine!r}")
        if engine == "torch":
            return None
        if engine == "auto" and (self.on_cuda or not onnx_generator.available()):
            return None
        if self.on_cuda:
            raise InputError(f"the {engine} engine runs on CPU; use engine torch on CUDA")
        return onnx_generator.OnnxGenerator(generator)

    def _step(self, window_shape: tuple[int, ...]) -> Any:
        """What runs one step for skeleton windows of ``window_shape``: the OpenVINO step, else
        the ONNX Runtime session, when it exports and checks out (``auto`` falls back to the
        next otherwise, torch last)."""
        if self._openvino is not None:
            try:
                self._openvino_precision = self._openvino.precision(window_shape)
                return self._openvino
            except Exception as exc:  # an export or compile failure: onnxruntime still renders
                if self.engine_requested != "auto":
                    raise
                _log.warning("openvino engine unavailable (%s); trying onnxruntime", exc)
                self._openvino = None
        if self._onnx is None:
            return self.generator
        try:
            self._onnx.session(window_shape)
        except Exception as exc:  # an export or check failure: torch still renders
            if self.engine_requested != "auto":
                raise
            _log.warning("onnxruntime engine unavailable (%s); rendering with torch", exc)
            self._onnx = None
            self.int8_shape = None
            return self.generator
        return self._onnx

    def initial_state(self, batch: int, height: int, width: int) -> StreamState:
        return StreamState.initial(batch, self.num_prev, height, width, self.device)

    @torch.inference_mode()
    def render_chunk(
        self, skeletons: torch.Tensor, state: StreamState | None = None
    ) -> GeneratedSequence:
        """Render the next frames of ``B`` streams.

        skeletons: (B, T, 3, H, W) float32 in [-1, 1]; H and W multiples of 2**depth
        state: None at the start of the streams
        returns: frames (B, T, 3, H, W) float32 (``.frames``) and the state to continue from
        """
        if skeletons.ndim != 5:
            raise InputError(
                f"skeletons must have shape (B, T, 3, H, W); got {tuple(skeletons.shape)}"
            )
        b, _, _, h, w = skeletons.shape
        if h % self.multiple or w % self.multiple:
            raise InputError(
                f"frame height and width must be multiples of {self.multiple}; got {w}x{h}"
            )
        if state is None:
            state = self.initial_state(b, h, w)
        skeletons = skeletons.to(self.device, torch.float32)
        step = self._step((b, self.num_prev + 1, 3, h, w))
        with torch.autocast(
            self.device.type,
            dtype=self.autocast_dtype or torch.bfloat16,
            enabled=self.autocast_dtype is not None,
        ):
            seq = generate_sequence(step, skeletons, state)
        outputs = [
            GeneratorOutput(
                *(
                    getattr(o, f).float()
                    for f in ("frame", "hallucinated", "warped", "flow", "mask")
                )
            )
            for o in seq.outputs
        ]
        if self.refiner is not None and outputs:  # the chunk's frames in one call
            b, t = skeletons.shape[:2]
            shown = torch.stack([o.frame for o in outputs], 1).flatten(0, 1)  # (B·T, 3, H, W)
            refined = self.refiner.refine(shown, skeletons.flatten(0, 1)).unflatten(0, (b, t))
            outputs = [replace(o, frame=refined[:, i]) for i, o in enumerate(outputs)]
        return GeneratedSequence(outputs, seq.state)

    def render(self, skeletons: torch.Tensor) -> torch.Tensor:
        """Whole streams at once: (B, T, 3, H, W) → (B, T, 3, H, W) in [-1, 1]."""
        return self.render_chunk(skeletons).frames

    def render_images(
        self, skeleton_images: Iterable[np.ndarray], chunk: int = 8
    ) -> Iterator[np.ndarray]:
        """One stream of (H, W, 3) uint8 RGB skeleton images → (H, W, 3) uint8 RGB frames.

        Frames whose size is not a multiple of 2**depth are padded with black and cropped back.
        """
        state: StreamState | None = None
        buffer: list[np.ndarray] = []
        for image in skeleton_images:
            buffer.append(np.asarray(image))
            if len(buffer) == chunk:
                frames, state = self._images_chunk(buffer, state)
                yield from frames
                buffer = []
        if buffer:
            frames, _ = self._images_chunk(buffer, state)
            yield from frames

    def _images_chunk(
        self, images: list[np.ndarray], state: StreamState | None
    ) -> tuple[list[np.ndarray], StreamState]:
        stack = np.stack(images)
        if stack.ndim != 4 or stack.shape[-1] != 3 or stack.dtype != np.uint8:
            raise InputError(
                f"skeleton images must be (H, W, 3) uint8; got {stack.shape} {stack.dtype}"
            )
        h, w = stack.shape[1:3]
        ph, pw = -h % self.multiple, -w % self.multiple
        if ph or pw:
            stack = np.pad(stack, ((0, 0), (0, ph), (0, pw), (0, 0)))
        seq = self.render_chunk(to_tensor(stack).unsqueeze(0), state)
        frames = to_uint8(seq.frames[0])[:, :h, :w]
        return list(frames), seq.state
