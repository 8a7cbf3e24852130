"""The synthesis flow, shared by the gateway (stages over gRPC) and ``s2v synthesize`` (in-process).

validate the input (text → TTS here) → transcribe ∥ predict poses → insert key poses → render,
streaming MP4 pieces as they come, then a summary with words, insertions and lineage. The flow is
written once against :class:`Stages`; :class:`services.stage_client.GrpcStages` calls the Serve
applications, :class:`LocalStages` the core with models loaded in this process.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Awaitable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from services.convert import KeyPoseRequest, Lineage
from speech2video import synthesis
from speech2video.audio.io import Audio, decode
from speech2video.body.motion_file import Motion
from speech2video.errors import InputError
from speech2video.motion.keypose_insertion import InsertionLogEntry
from speech2video.motion.words import Word
from speech2video.render.mp4_stream import Mp4Piece


@dataclass(frozen=True)
class SynthesisInput:
    """What a caller asks for: speech audio (encoded bytes) or text, for one speaker."""

    speaker: str
    audio: bytes = b""
    text: str = ""
    language: str = "en"
    key_poses: KeyPoseRequest = field(default_factory=KeyPoseRequest)


@dataclass(frozen=True)
class MotionResult:
    """Motion with its words and key-pose log; ``audio`` is the speech (WAV for TTS input)."""

    motion: Motion
    words: list[Word]
    insertions: list[InsertionLogEntry]
    lineage: Lineage
    audio: bytes
    duration_s: float


@dataclass(frozen=True)
class VideoSummary:
    """The final message of a video synthesis."""

    result: MotionResult
    lineage: Lineage


class Stages(Protocol):
    """The four stages, in core types."""

    async def transcribe(self, audio: bytes, language: str) -> list[Word]: ...

    async def predict_poses(self, speaker: str, audio: bytes) -> tuple[Motion, Lineage]: ...

    async def insert_key_poses(
        self, speaker: str, motion: Motion, words: list[Word], options: KeyPoseRequest
    ) -> tuple[Motion, list[InsertionLogEntry], Lineage]: ...

    def render(
        self, speaker: str, motion: Motion, audio: bytes
    ) -> AsyncIterator[tuple[Mp4Piece, Lineage | None]]: ...


def wav_bytes(audio: Audio) -> bytes:
    """16-bit PCM WAV of ``audio``."""
    import numpy as np
    import soundfile

    buf = io.BytesIO()
    soundfile.write(buf, np.clip(audio.samples, -1, 1), audio.rate, format="WAV", subtype="PCM_16")
    return buf.getvalue()


async def _both(first: Awaitable[Any], second: Awaitable[Any]) -> tuple[Any, Any]:
    """Run two awaitables concurrently; the first failure cancels the other and is raised."""
    tasks = [asyncio.ensure_future(first), asyncio.ensure_future(second)]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for task in tasks:
            if task in done and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
        return tasks[0].result(), tasks[1].result()
    finally:
        for task in tasks:
            task.cancel()


async def synthesize_motion(
    stages: Stages, request: SynthesisInput, max_audio_seconds: float
) -> MotionResult:
    """Validate, then poses and words, then key poses."""
    hashes: dict[str, str] = {}
    tts_words: list[Word] | None = None
    if request.text:
        from speech2video.audio.tts import synthesize

        spoken = await asyncio.to_thread(synthesize, request.text, request.language or "en")
        if spoken.audio.duration > max_audio_seconds:
            raise InputError(
                f"the text takes {spoken.audio.duration:.1f} s to speak; the limit is "
                f"{max_audio_seconds:.0f} s"
            )
        audio_bytes, duration, tts_words = (
            wav_bytes(spoken.audio),
            spoken.audio.duration,
            spoken.words,
        )
        hashes["input.text"] = synthesis.data_hash(request.text)
    elif request.audio:
        audio = await asyncio.to_thread(decode, request.audio, max_seconds=max_audio_seconds)
        audio_bytes, duration = request.audio, audio.duration
        hashes["input.audio"] = synthesis.data_hash(request.audio)
    else:
        raise InputError("the request needs audio or text")
    if tts_words is None:
        words, (motion, pose_lineage) = await _both(
            stages.transcribe(audio_bytes, request.language),
            stages.predict_poses(request.speaker, audio_bytes),
        )
    else:
        words = tts_words
        motion, pose_lineage = await stages.predict_poses(request.speaker, audio_bytes)
    options = request.key_poses
    if options.seed is None:
        options = replace(options, seed=synthesis.seed_of(audio_bytes))
    motion, log, key_lineage = await stages.insert_key_poses(
        request.speaker, motion, words, options
    )
    lineage = pose_lineage.merge(key_lineage, Lineage((), hashes))
    return MotionResult(motion, words, log, lineage, audio_bytes, duration)


async def synthesize_video(
    stages: Stages, request: SynthesisInput, max_audio_seconds: float
) -> AsyncIterator[Mp4Piece | VideoSummary]:
    """MP4 pieces as they are rendered, then one :class:`VideoSummary`."""
    result = await synthesize_motion(stages, request, max_audio_seconds)
    lineage = result.lineage
    async for piece, render_lineage in stages.render(request.speaker, result.motion, result.audio):
        if render_lineage is not None:
            lineage = lineage.merge(render_lineage)
        yield piece
    yield VideoSummary(result, lineage)


class LocalStages:
    """The stages in this process: models from the registry, the core doing the work."""

    def __init__(self, alias: str | None = None, chunk_frames: int = 25) -> None:
        self.alias = alias
        self.chunk_frames = chunk_frames
        self._models: dict[tuple[str, tuple[str, ...]], Any] = {}

    async def _snapshot(self, speaker: str, *components: str) -> Any:
        from services.speaker_models import SpeakerModels

        key = (speaker, components)
        if key not in self._models:
            loader = None
            if "renderer" in components:
                from services.renderer.app import load_renderer_component

                loader = load_renderer_component
            kwargs = {"loader": loader} if loader else {}
            self._models[key] = await SpeakerModels.open(
                speaker, components, alias=self.alias, **kwargs
            )
        return self._models[key].snapshot()

    async def transcribe(self, audio: bytes, language: str) -> list[Word]:
        from speech2video.audio.transcriber import transcribe

        result = await asyncio.to_thread(transcribe, audio, language=language or None)
        return list(result.words)

    async def predict_poses(self, speaker: str, audio: bytes) -> tuple[Motion, Lineage]:
        models = await self._snapshot(speaker, "audio_to_pose", "body_model")
        decoded = await asyncio.to_thread(decode, audio, max_seconds=None)
        profile = models.get("body_model")
        poses = await asyncio.to_thread(
            synthesis.poses_from_audio, models.get("audio_to_pose"), decoded, profile.fps
        )
        return synthesis.speaker_motion(poses, profile.fps, profile), models.lineage()

    async def insert_key_poses(
        self, speaker: str, motion: Motion, words: list[Word], options: KeyPoseRequest
    ) -> tuple[Motion, list[InsertionLogEntry], Lineage]:
        models = await self._snapshot(speaker, "key_pose_dictionary")
        result = synthesis.insert_key_poses(
            models.get("key_pose_dictionary"),
            motion,
            words,
            seed=options.seed,
            force=options.force,
            forbid=options.forbid,
            interpolation=options.interpolation,
            disabled=options.disabled,
        )
        return motion.with_poses(result.poses), result.log, models.lineage()

    async def render(
        self, speaker: str, motion: Motion, audio: bytes
    ) -> AsyncIterator[tuple[Mp4Piece, Lineage | None]]:
        models = await self._snapshot(speaker, "renderer", "body_model")
        decoded = decode(audio, max_seconds=None) if audio else None
        pieces: Iterator[Mp4Piece] = synthesis.render_pieces(
            models.get("renderer"), models.get("body_model"), motion, decoded, self.chunk_frames
        )
        for piece in pieces:
            yield piece, models.lineage() if piece.last else None
