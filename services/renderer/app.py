"""Renderer: pose sequence → skeleton images → the speaker's video, streamed as MP4 pieces."""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, Field
from ray import serve
from ray.serve import Application

from services.auth import stage_tokens
from services.convert import lineage_to_pb, motion_from_pb, piece_to_pb
from services.errors import streaming_rpc
from services.limits import Bounds, check_chunk_frames, decode_audio, request_audio
from services.multiplexing import request_models, speaker_model_getter
from services.observability import observed_rpc, rendered_frames
from services.routing import AppMethods
from speech2video import synthesis
from speech2video.body.motion_file import Motion
from speech2video.errors import InputError
from speech2video.model_set import BODY_MODEL, RENDERER, load_component
from speech2video_api.v1 import renderer_pb2 as pb


class Args(BaseModel):
    """Application arguments (``serve_config.yaml`` ``args``)."""

    model_alias: str | None = None  # None: $S2V_MODEL_ALIAS or production
    max_loaded_speakers: int = Field(2, ge=1)
    render_chunk_frames: int = Field(synthesis.DEFAULT_CHUNK_FRAMES, ge=1)
    #: Frames in the first piece (small: it leaves early).
    first_chunk_frames: int = Field(synthesis.DEFAULT_FIRST_CHUNK_FRAMES, ge=1)
    max_audio_seconds: float = Field(120.0, gt=0)
    #: CPU threads torch may use for one render after its first piece (0: leave torch's setting,
    #: which Ray derives from the replica's num_cpus). Each render runs on one thread of its own,
    #: so the threads form one team that is reused frame after frame.
    torch_threads: int = Field(0, ge=0)


def load_renderer_component(component: str, directory: Path) -> Any:
    """Renderer checkpoints become a ready StreamingRenderer (CUDA when present; on CPU
    OpenVINO in bfloat16 where the CPU computes it, else ONNX Runtime with the checkpoint's int8
    step when it carries one)."""
    if component != RENDERER:
        return load_component(component, directory)
    from speech2video.render.checkpoint import load_renderer
    from speech2video.render.renderer_inference import StreamingRenderer

    loaded = load_renderer(directory)
    return StreamingRenderer(loaded.generator, int8=loaded.int8, refiner=loaded.refiner)


def render_threads(renderer: Any, torch_threads: int) -> int:
    """torch's threads for one render: ``torch_threads``, or 1 when the generator's step runs on
    OpenVINO (its own one-thread step; torch only copies tensors between steps, and a second
    torch thread would spin on the core the step needs)."""
    engine = str(getattr(renderer, "engine", ""))
    return 1 if torch_threads and engine.startswith("openvino") else torch_threads


def _set_torch_threads(n: int) -> None:
    import torch

    torch.set_num_threads(n)


async def _in_thread(pieces: Iterator[Any], torch_threads: int = 0) -> AsyncIterator[Any]:
    """Iterate a blocking generator on a thread of its own, off the event loop; closing it when
    the caller stops. One thread for the whole render: torch's intra-op thread team belongs to the
    thread that calls into it, and hopping between pool threads would start one team per thread.

    torch_threads > 0: the first piece is made with one thread (it races the rest of the
    request's speech recognition and pose prediction for the cores), the others with
    ``torch_threads``; 0 leaves torch's setting alone.
    """
    loop = asyncio.get_running_loop()
    executor = ThreadPoolExecutor(1, thread_name_prefix="render")
    try:
        if torch_threads:
            await loop.run_in_executor(executor, _set_torch_threads, 1)
        first = True
        while (piece := await loop.run_in_executor(executor, next, pieces, None)) is not None:
            yield piece
            if first and torch_threads:
                await loop.run_in_executor(executor, _set_torch_threads, torch_threads)
            first = False
    finally:
        # still running in its thread after a cancel: it ends by itself
        with contextlib.suppress(ValueError):
            pieces.close()  # type: ignore[attr-defined]
        executor.shutdown(wait=False)


class RenderCancelledError(Exception):
    """Raised in the rendering thread once the caller has gone (cancel, deadline)."""


#: Frames drawn per skeleton block (forward kinematics are batched); a cancel is seen between
#: blocks, so a render stops within this many frames of its caller going.
CANCEL_BLOCK_FRAMES = 4


def frames_until(
    source: Any, cancelled: threading.Event, block: int = CANCEL_BLOCK_FRAMES
) -> Iterator[np.ndarray]:
    """The poses of a Motion or of consecutive blocks, re-cut into blocks of at most ``block``
    frames; raises :class:`RenderCancelledError` before the next block once ``cancelled`` is
    set. The renderer asks for each block just before rendering its frames, so a render stops
    within ``block`` frames of its caller going (the pieces do not depend on how the poses are
    split)."""
    blocks = [source.poses] if isinstance(source, Motion) else source
    for poses in blocks:
        for i in range(0, len(poses), block):
            if cancelled.is_set():
                raise RenderCancelledError
            yield poses[i : i + block]


class _PoseBlocks:
    """Pose blocks handed from the event loop to the rendering thread (blocking iterator);
    an exception put in is raised in the thread, None ends it."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()

    def put(self, item: Any) -> None:
        self._queue.put(item)

    def __iter__(self) -> Iterator[Any]:
        while (item := self._queue.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item


@serve.deployment(
    name="Renderer",
    max_ongoing_requests=2,
    max_queued_requests=8,
)
class Renderer(AppMethods):
    """``speech2video.v1.Renderer``; the speaker id is the multiplexed model id."""

    def __init__(self, args: Args) -> None:
        self.authorize = stage_tokens().check  # the gateway's service token only
        self.args = args
        self.models = speaker_model_getter(
            (RENDERER, BODY_MODEL),
            alias=args.model_alias,
            max_loaded_speakers=args.max_loaded_speakers,
            loader=load_renderer_component,
        )
        self._bounds = Bounds(args.max_audio_seconds)

    def check_health(self) -> None:
        return None

    @observed_rpc("renderer", frames=rendered_frames)
    @streaming_rpc
    async def RenderVideo(  # noqa: N802 - the RPC name
        self, request: pb.RenderVideoRequest, grpc_context: Any
    ) -> AsyncIterator[pb.RenderVideoResponse]:
        motion = motion_from_pb(request.poses, self._bounds.max_seconds)
        async for reply in self._render(request, motion, motion, grpc_context):
            yield reply

    @observed_rpc("renderer", frames=rendered_frames)
    @streaming_rpc
    async def RenderVideoStream(  # noqa: N802 - the RPC name
        self, request_stream: AsyncIterator[pb.RenderVideoRequest], grpc_context: Any
    ) -> AsyncIterator[pb.RenderVideoResponse]:
        first = await anext(aiter(request_stream), None)
        if first is None:
            raise InputError("the request stream is empty")
        head = motion_from_pb(first.poses, self._bounds.max_seconds)
        limit = self._bounds.max_frames(head.fps)
        blocks = _PoseBlocks()
        blocks.put(head.poses)

        async def feed() -> None:
            frames = head.num_frames
            try:
                async for request in request_stream:
                    part = motion_from_pb(request.poses, self._bounds.max_seconds)
                    if part.fps != head.fps:
                        raise InputError(f"poses: fps changed from {head.fps} to {part.fps}")
                    frames += part.num_frames
                    if frames > limit:
                        raise InputError(f"poses: {frames} frames in all; the limit is {limit}")
                    blocks.put(part.poses)
            except Exception as exc:
                blocks.put(exc)
            finally:
                blocks.put(None)

        feeder = asyncio.ensure_future(feed())
        try:
            async for reply in self._render(first, head, blocks, grpc_context):
                yield reply
        finally:
            feeder.cancel()
            blocks.put(None)  # a rendering thread still waiting for poses ends

    async def _render(
        self, request: pb.RenderVideoRequest, head: Any, poses: Any, grpc_context: Any
    ) -> AsyncIterator[pb.RenderVideoResponse]:
        chunk = check_chunk_frames(request.chunk_frames, "chunk_frames")
        first = check_chunk_frames(request.first_chunk_frames, "first_chunk_frames")
        audio = None
        if request.HasField("pcm"):
            audio = request_audio(request.audio, request.pcm, self._bounds)
        elif request.audio:
            audio = await asyncio.to_thread(decode_audio, request.audio, self._bounds)
        models = await request_models(self.models, grpc_context)
        cancelled = threading.Event()
        renderer = models.get(RENDERER)
        pieces = synthesis.render_pieces(
            renderer,
            models.get(BODY_MODEL),
            frames_until(poses, cancelled),
            audio,
            chunk or self.args.render_chunk_frames,
            first or self.args.first_chunk_frames,
            fps=head.fps,
        )
        lineage = lineage_to_pb(models.lineage(RENDERER, BODY_MODEL))
        index = 0
        try:
            async for piece in _in_thread(
                pieces, render_threads(renderer, self.args.torch_threads)
            ):
                reply = pb.RenderVideoResponse(chunk=piece_to_pb(piece, index))
                if piece.last:
                    reply.lineage.CopyFrom(lineage)
                index += 1
                yield reply
        finally:
            cancelled.set()  # the caller went (or all is sent): the thread stops at a frame


def build_app(args: Args | dict[str, Any]) -> Application:
    """The ``renderer`` application. Its resources (CPUs, a GPU) come from the serve config that
    deploys it, never from here: Serve replaces a deployment's ``ray_actor_options`` wholesale
    with the config's (infra/serve/README.md)."""
    return Renderer.bind(Args.model_validate(args))
