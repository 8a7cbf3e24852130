"""The gateway's client of the stage applications, through Serve's gRPC proxy.

Stage calls carry the service token (:mod:`services.auth`). A call whose replica stopped
(UNAVAILABLE: killed, restarting) is made again up to :data:`RETRIES` times; the stages are
deterministic, so a re-render gives the same pieces and those already passed on are skipped.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from typing import Any

import grpc

from services.auth import stage_tokens
from services.convert import (
    insertion_from_pb,
    key_pose_options_to_pb,
    lineage_from_pb,
    motion_from_pb,
    motion_to_pb,
    pcm_to_pb,
    piece_from_pb,
    words_from_pb,
    words_to_pb,
)
from services.errors import RpcError, status_of
from services.observability import stage_interceptors
from services.pose_deltas import apply_edits, motion_digest
from services.speaker_models import PIN_METADATA, pins_to_metadata
from services.synthesis_types import KeyPoseRequest, Lineage
from speech2video.audio.io import Audio
from speech2video.body.motion_file import Motion
from speech2video.motion.keypose_insertion import InsertionLogEntry
from speech2video.motion.words import Word
from speech2video.render.mp4_stream import Mp4Piece
from speech2video_api.v1 import (
    audio_to_pose_pb2,
    audio_to_pose_pb2_grpc,
    key_pose_pb2,
    key_pose_pb2_grpc,
    renderer_pb2,
    renderer_pb2_grpc,
    transcription_pb2,
    transcription_pb2_grpc,
)

logger = logging.getLogger("ray.serve")
DEFAULT_TARGET = "127.0.0.1:9000"
#: Times a stage call is made again after its replica stopped (UNAVAILABLE), and the pause
#: before the first retry (seconds; each next one waits twice as long: 15.5 s in all, time for
#: Serve to replace a killed replica).
RETRIES = 5
RETRY_DELAY_S = 0.5
#: Motions a client remembers having sent the KeyPose stage (their digests).
SENT_MOTIONS = 16
#: Messages up to 256 MiB (long videos in few pieces, long audio).
CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", 256 << 20),
    ("grpc.max_send_message_length", 256 << 20),
]


def grpc_target() -> str:
    return os.environ.get("S2V_GRPC_TARGET") or DEFAULT_TARGET


def _metadata(app: str, speaker: str = "", token: str | None = None) -> tuple[tuple[str, str], ...]:
    out = [("application", app)]
    if token:
        out.append(("authorization", f"Bearer {token}"))
    if speaker:
        out.append(("multiplexed_model_id", speaker))
    return tuple(out)


def _stage_error(stage: str, exc: grpc.aio.AioRpcError) -> RpcError:
    code, message = status_of(exc, stage)
    return RpcError(code, message)


def _speech(audio: Audio | bytes) -> dict[str, Any]:
    """A stage request's speech fields: decoded samples as 16-bit PCM (the stage decodes
    nothing), encoded bytes as they are."""
    if isinstance(audio, Audio):
        return {"pcm": pcm_to_pb(audio)}
    return {"audio": audio} if audio else {}


class GrpcStages:
    """:class:`services.synthesis_flow.Stages` over gRPC; one channel per event loop."""

    def __init__(self, target: str | None = None, timeout_s: float = 600.0) -> None:
        self.target = target or grpc_target()
        self.timeout_s = timeout_s
        #: The service token the stages accept (``$S2V_STAGE_TOKEN_FILE``, re-read on change).
        self.tokens = stage_tokens()
        #: The versions stage calls are pinned to (see :meth:`with_versions`); {}: the alias.
        self.versions: dict[str, str] = {}
        #: Motions this view sent the KeyPose stage: our digest → the stage's.
        self._sent: dict[str, str] = {}
        self._channel: Any = None

    def with_versions(self, versions: dict[str, str]) -> GrpcStages:
        """A view for one request whose stage calls are pinned to ``versions`` (component →
        version; sharing this client's channel)."""
        self._ch()
        view = copy.copy(self)
        view.versions = dict(versions)
        view._sent = {}
        return view

    def _meta(self, app: str, speaker: str = "") -> tuple[tuple[str, str], ...]:
        meta = _metadata(app, speaker, self.tokens.token())
        if speaker and self.versions:
            meta = (*meta, (PIN_METADATA, pins_to_metadata(self.versions)))
        return meta

    def _ch(self) -> Any:
        if self._channel is None:
            self._channel = grpc.aio.insecure_channel(
                self.target, options=CHANNEL_OPTIONS, interceptors=stage_interceptors()
            )
        return self._channel

    async def close(self) -> None:
        if self._channel is not None:
            await self._channel.close()
            self._channel = None

    async def _unary(self, stage: str, call: Callable[[], Awaitable[Any]]) -> Any:
        """``call()`` with retries when the stage's replica stopped (UNAVAILABLE): the stages
        are deterministic, so the call is simply made again."""
        for attempt in range(RETRIES + 1):
            try:
                return await call()
            except grpc.aio.AioRpcError as exc:
                if exc.code() != grpc.StatusCode.UNAVAILABLE or attempt == RETRIES:
                    raise _stage_error(stage, exc) from None
                logger.warning("%s stage unavailable, retrying (%d)", stage, attempt + 1)
                await asyncio.sleep(RETRY_DELAY_S * 2**attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    async def transcribe(
        self, audio: Audio | bytes, language: str, align_if_heard: Collection[str] | None = None
    ) -> list[Word]:
        """Words heard; ``align_if_heard``: retime them only when one of these is heard (None:
        always; empty: never, the recogniser's times)."""
        stub = transcription_pb2_grpc.TranscriptionStub(self._ch())
        timing: dict[str, Any] = {}
        if align_if_heard is not None:
            timing = {"word_timing": transcription_pb2.WORD_TIMING_RECOGNISER}
            if align_if_heard:
                timing = {
                    "word_timing": transcription_pb2.WORD_TIMING_ALIGNED_IF_HEARD,
                    "align_if_heard": sorted(align_if_heard),
                }
        request = transcription_pb2.TranscribeRequest(**_speech(audio), language=language, **timing)
        reply = await self._unary(
            "transcription",
            lambda: stub.Transcribe(
                request, metadata=self._meta("transcription"), timeout=self.timeout_s
            ),
        )
        return words_from_pb(reply.words)

    async def predict_poses(self, speaker: str, audio: Audio | bytes) -> tuple[Motion, Lineage]:
        stub = audio_to_pose_pb2_grpc.AudioToPoseStub(self._ch())
        request = audio_to_pose_pb2.PredictPosesRequest(**_speech(audio))
        reply = await self._unary(
            "audio_to_pose",
            lambda: stub.PredictPoses(
                request, metadata=self._meta("audio_to_pose", speaker), timeout=self.timeout_s
            ),
        )
        return motion_from_pb(reply.poses), lineage_from_pb(reply.lineage)

    async def insert_key_poses(
        self,
        speaker: str,
        motion: Motion,
        words: list[Word],
        options: KeyPoseRequest,
        words_complete_before_s: float | None = None,
    ) -> tuple[Motion, list[InsertionLogEntry], Lineage, int]:
        """The motion goes once per request: a later call with the same motion sends the digest
        the stage gave back (the poses again if the stage no longer holds them); each reply
        carries only the frames the key poses changed (:mod:`services.pose_deltas`)."""
        stub = key_pose_pb2_grpc.KeyPoseStub(self._ch())
        local = motion_digest(motion)
        request = key_pose_pb2.InsertKeyPosesRequest(
            words=words_to_pb(words),
            options=key_pose_options_to_pb(options),
            words_complete_before_s=words_complete_before_s,
            edits_only=True,
        )
        if local in self._sent:
            request.poses_digest = self._sent[local]
        else:
            request.poses.CopyFrom(motion_to_pb(motion))

        def call() -> Any:
            return stub.InsertKeyPoses(
                request, metadata=self._meta("key_pose", speaker), timeout=self.timeout_s
            )

        try:
            reply = await self._unary("key_pose", call)
        except RpcError as exc:
            if exc.code != grpc.StatusCode.FAILED_PRECONDITION or not request.poses_digest:
                raise
            request.ClearField("poses_digest")  # the replica forgot them: send the poses
            request.poses.CopyFrom(motion_to_pb(motion))
            reply = await self._unary("key_pose", call)
        self._sent[local] = reply.poses_digest
        while len(self._sent) > SENT_MOTIONS:  # a long-lived client keeps the latest only
            del self._sent[next(iter(self._sent))]
        edits = [(int(e.start_frame), motion_from_pb(e.poses).poses) for e in reply.edits]
        try:
            edited = motion.with_poses(apply_edits(motion.poses, edits))
        except ValueError as exc:
            raise RpcError(grpc.StatusCode.INTERNAL, "the key_pose stage failed") from exc
        log = [insertion_from_pb(e) for e in reply.insertions]
        return edited, log, lineage_from_pb(reply.lineage), int(reply.final_frames)

    async def render(
        self, speaker: str, motion: Motion, audio: Audio | bytes
    ) -> AsyncIterator[tuple[Mp4Piece, Lineage | None]]:
        stub = renderer_pb2_grpc.RendererStub(self._ch())
        request = renderer_pb2.RenderVideoRequest(poses=motion_to_pb(motion), **_speech(audio))

        def start() -> Any:
            return stub.RenderVideo(
                request, metadata=self._meta("renderer", speaker), timeout=self.timeout_s
            )

        async for item in _pieces(start):
            yield item

    async def render_stream(
        self, speaker: str, parts: AsyncIterator[Motion], audio: Audio | bytes
    ) -> AsyncIterator[tuple[Mp4Piece, Lineage | None]]:
        """Render poses arriving in parts (consecutive frames); nothing when there are none.
        A retry sends the parts already sent again (they are kept), then the rest."""
        first = await anext(aiter(parts), None)
        if first is None:
            return
        replay = _Replay(parts)
        stub = renderer_pb2_grpc.RendererStub(self._ch())

        async def requests() -> AsyncIterator[renderer_pb2.RenderVideoRequest]:
            yield renderer_pb2.RenderVideoRequest(poses=motion_to_pb(first), **_speech(audio))
            async for part in replay.iterate():
                yield renderer_pb2.RenderVideoRequest(poses=motion_to_pb(part))

        def start() -> Any:
            return stub.RenderVideoStream(
                requests(), metadata=self._meta("renderer", speaker), timeout=self.timeout_s
            )

        try:
            async for item in _pieces(start):
                yield item
        finally:
            replay.close()


class _Replay:
    """An async iterator's items, pulled once by a task of their own and kept, so that each
    retry iterates them all again (a cancelled reader does not end the source)."""

    def __init__(self, source: AsyncIterator[Any]) -> None:
        self.items: list[Any] = []
        self.done = False
        self.error: BaseException | None = None
        self._changed = asyncio.Event()
        self._pump = asyncio.ensure_future(self._fill(source))

    async def _fill(self, source: AsyncIterator[Any]) -> None:
        try:
            async for item in source:
                self.items.append(item)
                self._changed.set()
        except Exception as exc:
            self.error = exc
        finally:
            self.done = True
            self._changed.set()

    async def iterate(self) -> AsyncIterator[Any]:
        i = 0
        while True:
            if i < len(self.items):
                yield self.items[i]
                i += 1
                continue
            if self.done:
                if self.error is not None:
                    raise self.error
                return
            self._changed.clear()
            if i < len(self.items) or self.done:
                continue
            await self._changed.wait()

    def close(self) -> None:
        self._pump.cancel()


async def _pieces(start: Callable[[], Any]) -> AsyncIterator[tuple[Mp4Piece, Lineage | None]]:
    """The renderer's pieces; when its replica stops (UNAVAILABLE) the render is made again
    and the pieces already passed on are skipped (rendering is deterministic)."""
    sent = 0
    for attempt in range(RETRIES + 1):
        call = start()
        index = 0
        try:
            async for reply in call:
                if index >= sent:
                    lineage = lineage_from_pb(reply.lineage) if reply.HasField("lineage") else None
                    yield piece_from_pb(reply.chunk), lineage
                    sent += 1
                index += 1
            return
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.UNAVAILABLE or attempt == RETRIES:
                raise _stage_error("renderer", exc) from None
            logger.warning("renderer unavailable after %d pieces, rendering again", sent)
            await asyncio.sleep(RETRY_DELAY_S * 2**attempt)
        finally:
            call.cancel()
