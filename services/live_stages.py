"""The stages a live synthesis needs (:class:`LiveStages`), over gRPC and in this process.

Beside the whole-file :class:`services.synthesis_flow.Stages` (transcribe, render_stream), a
live stream needs poses as audio arrives (``AudioToPose.PredictPosesStream``) and the speaker's
key-pose dictionary, applied where frames and words meet (the gateway holds it: a few KB, loaded
once per speaker and kept in step with the request's pinned version, as the BVH body model is).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import AsyncIterator, Collection
from typing import Any, Protocol

import numpy as np

from services.convert import lineage_from_pb, motion_from_pb
from services.pcm import pcm16_bytes
from services.stage_client import GrpcStages, _stage_error
from services.synthesis_flow import LocalStages
from services.synthesis_types import Lineage
from speech2video.audio.io import Audio
from speech2video.body.motion_file import Motion
from speech2video.model_set import KEY_POSE_DICTIONARY
from speech2video.motion.keypose_dictionary import KeyPoseDictionary
from speech2video.motion.words import Word
from speech2video.render.mp4_stream import Mp4Piece

#: Speakers whose key-pose dictionary a gateway replica keeps loaded.
MAX_DICTIONARIES = 16
#: Frames of a live stream's first MP4 piece (it leaves once the next frame is encoded) and of
#: the others: small pieces, so a frame waits little for its piece to be cut.
FIRST_CHUNK_FRAMES = 1
CHUNK_FRAMES = 5


class LiveStages(Protocol):
    """What :func:`services.live_flow.synthesize_live` calls, in core types."""

    async def transcribe(
        self, audio: Audio, language: str, align_if_heard: Collection[str] | None = None
    ) -> list[Word]:
        """The words of a segment; retimed by alignment only when one of ``align_if_heard`` is
        heard (None: always)."""
        ...

    async def key_pose_dictionary(self, speaker: str) -> tuple[KeyPoseDictionary, Lineage]: ...

    def predict_pose_stream(
        self, speaker: str, samples: AsyncIterator[np.ndarray], gain: float
    ) -> AsyncIterator[tuple[Motion | None, Lineage | None]]:
        """16 kHz float32 sample blocks in; the frames that became final out (None when a reply
        has none), the last item carrying the lineage."""
        ...

    def render_stream(
        self, speaker: str, parts: AsyncIterator[Motion], audio: bytes
    ) -> AsyncIterator[tuple[Mp4Piece, Lineage | None]]: ...


class GrpcLiveStages:
    """:class:`LiveStages` through Serve's gRPC proxy (one request's pinned view of a
    :class:`GrpcStages`); ``dictionaries`` is the gateway replica's cache."""

    def __init__(
        self, stages: GrpcStages, dictionaries: OrderedDict[str, Any], alias: str | None = None
    ) -> None:
        self.stages = stages
        self.dictionaries = dictionaries
        self.alias = alias

    async def transcribe(
        self, audio: Audio, language: str, align_if_heard: Collection[str] | None = None
    ) -> list[Word]:
        return await self.stages.transcribe(audio, language, align_if_heard)

    async def key_pose_dictionary(self, speaker: str) -> tuple[KeyPoseDictionary, Lineage]:
        from services.speaker_models import SpeakerModels

        if speaker not in self.dictionaries:
            self.dictionaries[speaker] = await SpeakerModels.open(
                speaker, (KEY_POSE_DICTIONARY,), alias=self.alias
            )
            while len(self.dictionaries) > MAX_DICTIONARIES:
                self.dictionaries.popitem(last=False)
        self.dictionaries.move_to_end(speaker)
        models = self.dictionaries[speaker]
        snapshot = await models.pinned(self.stages.versions) if self.stages.versions else None
        snapshot = snapshot or models.snapshot()
        return snapshot.get(KEY_POSE_DICTIONARY), snapshot.lineage(KEY_POSE_DICTIONARY)

    async def predict_pose_stream(
        self, speaker: str, samples: AsyncIterator[np.ndarray], gain: float
    ) -> AsyncIterator[tuple[Motion | None, Lineage | None]]:
        import grpc

        from speech2video_api.v1 import audio_to_pose_pb2, audio_to_pose_pb2_grpc

        stub = audio_to_pose_pb2_grpc.AudioToPoseStub(self.stages._ch())

        async def requests() -> AsyncIterator[Any]:
            first = True
            async for block in samples:
                request = audio_to_pose_pb2.PredictPosesStreamRequest(pcm=pcm16_bytes(block))
                if first:
                    request.gain, first = gain, False
                yield request

        call = stub.PredictPosesStream(
            requests(),
            metadata=self.stages._meta("audio_to_pose", speaker),
            timeout=self.stages.timeout_s,
        )
        try:
            async for reply in call:
                motion = motion_from_pb(reply.poses) if reply.HasField("poses") else None
                lineage = lineage_from_pb(reply.lineage) if reply.HasField("lineage") else None
                yield motion, lineage
        except grpc.aio.AioRpcError as exc:
            raise _stage_error("audio_to_pose", exc) from None
        finally:
            call.cancel()

    async def render_stream(
        self, speaker: str, parts: AsyncIterator[Motion], audio: bytes
    ) -> AsyncIterator[tuple[Mp4Piece, Lineage | None]]:
        """``Renderer.RenderVideoStream`` with live-sized pieces (:data:`FIRST_CHUNK_FRAMES`,
        then :data:`CHUNK_FRAMES`); retried like the whole-file render (the parts are kept)."""
        from services.convert import motion_to_pb
        from services.stage_client import _pieces, _Replay
        from speech2video_api.v1 import renderer_pb2, renderer_pb2_grpc

        first = await anext(aiter(parts), None)
        if first is None:
            return
        replay = _Replay(parts)
        stub = renderer_pb2_grpc.RendererStub(self.stages._ch())

        async def requests() -> AsyncIterator[Any]:
            yield renderer_pb2.RenderVideoRequest(
                poses=motion_to_pb(first),
                chunk_frames=CHUNK_FRAMES,
                first_chunk_frames=FIRST_CHUNK_FRAMES,
            )
            async for part in replay.iterate():
                yield renderer_pb2.RenderVideoRequest(poses=motion_to_pb(part))

        def start() -> Any:
            meta = self.stages._meta("renderer", speaker)
            return stub.RenderVideoStream(requests(), metadata=meta, timeout=self.stages.timeout_s)

        try:
            async for item in _pieces(start):
                yield item
        finally:
            replay.close()


class LocalLiveStages:
    """:class:`LiveStages` in this process (``s2v synthesize --live`` without a server, and the
    live benchmark): the models of a :class:`LocalStages`, rendering in a thread of its own
    as the pose parts arrive (as the renderer application does)."""

    def __init__(self, local: LocalStages | None = None) -> None:
        self.local = local or LocalStages()

    async def transcribe(
        self, audio: Audio, language: str, align_if_heard: Collection[str] | None = None
    ) -> list[Word]:
        return await self.local.transcribe(audio, language, align_if_heard)

    async def key_pose_dictionary(self, speaker: str) -> tuple[KeyPoseDictionary, Lineage]:
        models = await self.local._snapshot(speaker, KEY_POSE_DICTIONARY)
        return models.get(KEY_POSE_DICTIONARY), models.lineage()

    async def predict_pose_stream(
        self, speaker: str, samples: AsyncIterator[np.ndarray], gain: float
    ) -> AsyncIterator[tuple[Motion | None, Lineage | None]]:
        from speech2video import synthesis
        from speech2video.motion.pose_stream import PoseStream

        models = await self.local._snapshot(speaker, "audio_to_pose", "body_model")
        profile = models.get("body_model")
        stream = PoseStream(models.get("audio_to_pose"), profile.fps, gain)

        def part(frames: np.ndarray) -> Motion | None:
            return synthesis.speaker_motion(frames, profile.fps, profile) if len(frames) else None

        async for block in samples:
            frames = await asyncio.to_thread(stream.push, block)
            if len(frames):
                yield part(frames), None
        yield part(await asyncio.to_thread(stream.flush)), models.lineage()

    async def render_stream(
        self, speaker: str, parts: AsyncIterator[Motion], audio: bytes
    ) -> AsyncIterator[tuple[Mp4Piece, Lineage | None]]:
        import threading

        from services.renderer.app import _in_thread, _PoseBlocks, frames_until
        from speech2video import synthesis

        first = await anext(aiter(parts), None)
        if first is None:
            return
        models = await self.local._snapshot(speaker, "renderer", "body_model")
        blocks = _PoseBlocks()
        blocks.put(first.poses)

        async def feed() -> None:
            try:
                async for item in parts:
                    blocks.put(item.poses)
            except Exception as exc:
                blocks.put(exc)
            finally:
                blocks.put(None)

        cancelled = threading.Event()
        pieces = synthesis.render_pieces(
            models.get("renderer"),
            models.get("body_model"),
            frames_until(blocks, cancelled),
            None,
            CHUNK_FRAMES,
            FIRST_CHUNK_FRAMES,
            fps=first.fps,
        )
        feeder = asyncio.ensure_future(feed())
        try:
            async for piece in _in_thread(pieces):
                yield piece, models.lineage() if piece.last else None
        finally:
            cancelled.set()
            feeder.cancel()
            blocks.put(None)
