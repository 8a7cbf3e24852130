"""The gateway's client of the stage applications, through Serve's gRPC proxy."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import Any

import grpc

from services.convert import (
    KeyPoseRequest,
    Lineage,
    insertion_from_pb,
    key_pose_options_to_pb,
    lineage_from_pb,
    motion_from_pb,
    motion_to_pb,
    piece_from_pb,
    words_from_pb,
    words_to_pb,
)
from services.errors import RpcError, status_of
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

DEFAULT_TARGET = "127.0.0.1:9000"
#: Messages up to 256 MiB (long videos in few pieces, long audio).
CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", 256 << 20),
    ("grpc.max_send_message_length", 256 << 20),
]


def grpc_target() -> str:
    return os.environ.get("S2V_GRPC_TARGET") or DEFAULT_TARGET


def _metadata(app: str, speaker: str = "", request_id: str = "") -> tuple[tuple[str, str], ...]:
    out = [("application", app)]
    if speaker:
        out.append(("multiplexed_model_id", speaker))
    if request_id:
        out.append(("request_id", request_id))
    return tuple(out)


def _stage_error(stage: str, exc: grpc.aio.AioRpcError) -> RpcError:
    code, message = status_of(exc, stage)
    return RpcError(code, message)


class GrpcStages:
    """:class:`services.pipeline_runner.Stages` over gRPC; one channel per event loop."""

    def __init__(self, target: str | None = None, timeout_s: float = 600.0) -> None:
        self.target = target or grpc_target()
        self.timeout_s = timeout_s
        self._channel: Any = None

    def _ch(self) -> Any:
        if self._channel is None:
            self._channel = grpc.aio.insecure_channel(self.target, options=CHANNEL_OPTIONS)
        return self._channel

    async def close(self) -> None:
        if self._channel is not None:
            await self._channel.close()
            self._channel = None

    async def transcribe(self, audio: bytes, language: str) -> list[Word]:
        stub = transcription_pb2_grpc.TranscriptionStub(self._ch())
        request = transcription_pb2.TranscribeRequest(audio=audio, language=language)
        try:
            reply = await stub.Transcribe(
                request, metadata=_metadata("transcription"), timeout=self.timeout_s
            )
        except grpc.aio.AioRpcError as exc:
            raise _stage_error("transcription", exc) from None
        return words_from_pb(reply.words)

    async def predict_poses(self, speaker: str, audio: bytes) -> tuple[Motion, Lineage]:
        stub = audio_to_pose_pb2_grpc.AudioToPoseStub(self._ch())
        request = audio_to_pose_pb2.PredictPosesRequest(audio=audio)
        try:
            reply = await stub.PredictPoses(
                request, metadata=_metadata("audio_to_pose", speaker), timeout=self.timeout_s
            )
        except grpc.aio.AioRpcError as exc:
            raise _stage_error("audio_to_pose", exc) from None
        return motion_from_pb(reply.poses), lineage_from_pb(reply.lineage)

    async def insert_key_poses(
        self,
        speaker: str,
        motion: Motion,
        words: list[Word],
        options: KeyPoseRequest,
        words_complete_before_s: float | None = None,
    ) -> tuple[Motion, list[InsertionLogEntry], Lineage, int]:
        stub = key_pose_pb2_grpc.KeyPoseStub(self._ch())
        request = key_pose_pb2.InsertKeyPosesRequest(
            poses=motion_to_pb(motion),
            words=words_to_pb(words),
            options=key_pose_options_to_pb(options),
            words_complete_before_s=words_complete_before_s,
        )
        try:
            reply = await stub.InsertKeyPoses(
                request, metadata=_metadata("key_pose", speaker), timeout=self.timeout_s
            )
        except grpc.aio.AioRpcError as exc:
            raise _stage_error("key_pose", exc) from None
        log = [insertion_from_pb(e) for e in reply.insertions]
        poses = motion_from_pb(reply.poses)
        return poses, log, lineage_from_pb(reply.lineage), int(reply.final_frames)

    async def render(
        self, speaker: str, motion: Motion, audio: bytes
    ) -> AsyncIterator[tuple[Mp4Piece, Lineage | None]]:
        stub = renderer_pb2_grpc.RendererStub(self._ch())
        request = renderer_pb2.RenderVideoRequest(poses=motion_to_pb(motion), audio=audio)
        call = stub.RenderVideo(
            request, metadata=_metadata("renderer", speaker), timeout=self.timeout_s
        )
        async for item in _pieces(call):
            yield item

    async def render_stream(
        self, speaker: str, parts: AsyncIterator[Motion], audio: bytes
    ) -> AsyncIterator[tuple[Mp4Piece, Lineage | None]]:
        """Render poses arriving in parts (consecutive frames); nothing when there are none."""
        first = await anext(aiter(parts), None)
        if first is None:
            return

        async def requests() -> AsyncIterator[renderer_pb2.RenderVideoRequest]:
            yield renderer_pb2.RenderVideoRequest(poses=motion_to_pb(first), audio=audio)
            async for part in parts:
                yield renderer_pb2.RenderVideoRequest(poses=motion_to_pb(part))

        stub = renderer_pb2_grpc.RendererStub(self._ch())
        call = stub.RenderVideoStream(
            requests(), metadata=_metadata("renderer", speaker), timeout=self.timeout_s
        )
        async for item in _pieces(call):
            yield item


async def _pieces(call: Any) -> AsyncIterator[tuple[Mp4Piece, Lineage | None]]:
    try:
        async for reply in call:
            lineage = lineage_from_pb(reply.lineage) if reply.HasField("lineage") else None
            yield piece_from_pb(reply.chunk), lineage
    except grpc.aio.AioRpcError as exc:
        raise _stage_error("renderer", exc) from None
    finally:
        call.cancel()
