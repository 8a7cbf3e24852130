"""The synthesis flow, shared by the gateway (stages over gRPC) and ``s2v synthesize`` (in-process).

validate the input (text → TTS here) → transcribe ∥ predict poses → insert key poses → render,
streaming MP4 pieces as they come, then a summary with words, insertions and lineage. The flow is
written once against :class:`Stages`; :class:`services.stage_client.GrpcStages` calls the Serve
applications, :class:`LocalStages` the core with models loaded in this process.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Iterator
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import numpy as np

from services.convert import pcm_grid
from services.limits import Bounds, decode_audio
from services.synthesis_types import KeyPoseRequest, Lineage
from services.transcription_process import TranscriptionProcess
from speech2video import synthesis
from speech2video.audio.io import Audio, decode
from speech2video.body.motion_file import Motion
from speech2video.errors import InputError
from speech2video.motion.keypose_insertion import InsertionLogEntry
from speech2video.motion.words import Word
from speech2video.render.mp4_stream import Mp4Piece

#: Speech is transcribed head first, cut at the quietest 100 ms between these times (seconds).
HEAD_CUT_S = (1.2, 2.2)


@dataclass(frozen=True)
class SynthesisInput:
    """What a caller asks for: speech audio (encoded bytes) or text, for one speaker."""

    speaker: str
    audio: bytes = b""
    text: str = ""
    language: str = "en"
    key_poses: KeyPoseRequest = field(default_factory=KeyPoseRequest)
    #: Words whose hearing makes a transcription align its word times (the speaker's key words
    #: under ``key_poses``: :meth:`KeyPoseRequest.words_to_align`); None: always aligned.
    align_if_heard: frozenset[str] | None = None


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


#: Speech as a stage takes it: decoded once (16 kHz mono :class:`Audio`, what the flow passes)
#: or encoded bytes (decoded by the stage; b"" for none where a stage allows it).
Speech = Audio | bytes


class Stages(Protocol):
    """The four stages, in core types."""

    async def transcribe(
        self, audio: Speech, language: str, align_if_heard: Collection[str] | None = None
    ) -> list[Word]:
        """The words heard; retimed by alignment only when one of ``align_if_heard`` is heard
        (None: always)."""
        ...

    async def predict_poses(self, speaker: str, audio: Speech) -> tuple[Motion, Lineage]: ...

    async def insert_key_poses(
        self,
        speaker: str,
        motion: Motion,
        words: list[Word],
        options: KeyPoseRequest,
        words_complete_before_s: float | None = None,
    ) -> tuple[Motion, list[InsertionLogEntry], Lineage, int]:
        """The edited motion, the log, lineage and how many leading frames are final."""
        ...

    def render(
        self, speaker: str, motion: Motion, audio: Speech
    ) -> AsyncIterator[tuple[Mp4Piece, Lineage | None]]: ...

    def render_stream(
        self, speaker: str, parts: AsyncIterator[Motion], audio: Speech
    ) -> AsyncIterator[tuple[Mp4Piece, Lineage | None]]:
        """Like :meth:`render`, the motion arriving in consecutive parts."""
        ...


def wav_bytes(audio: Audio) -> bytes:
    """16-bit PCM WAV of ``audio``."""
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


@dataclass(frozen=True)
class _Prepared:
    """A validated input: the speech (encoded), its samples decoded once (on the 16-bit grid
    the stages receive, :func:`services.convert.pcm_grid`), the TTS words (None for audio),
    data hashes and the key-pose options with their seed."""

    audio: bytes
    duration: float
    decoded: Audio
    tts_words: list[Word] | None
    hashes: dict[str, str]
    options: KeyPoseRequest


async def _prepare(request: SynthesisInput, max_audio_seconds: float) -> _Prepared:
    if request.text:
        from speech2video.audio.tts import synthesize

        spoken = await asyncio.to_thread(synthesize, request.text, request.language or "en")
        if spoken.audio.duration > max_audio_seconds:
            raise InputError(
                f"the text takes {spoken.audio.duration:.1f} s to speak; the limit is "
                f"{max_audio_seconds:.0f} s"
            )
        audio_bytes, duration = wav_bytes(spoken.audio), spoken.audio.duration
        decoded, tts_words = spoken.audio, spoken.words
        hashes = {"input.text": synthesis.data_hash(request.text)}
    elif request.audio:
        decoded = await asyncio.to_thread(decode_audio, request.audio, Bounds(max_audio_seconds))
        audio_bytes, duration, tts_words = request.audio, decoded.duration, None
        hashes = {"input.audio": synthesis.data_hash(request.audio)}
    else:
        raise InputError("the request needs audio or text")
    options = request.key_poses
    if options.seed is None:
        options = replace(options, seed=synthesis.seed_of(audio_bytes))
    return _Prepared(audio_bytes, duration, pcm_grid(decoded), tts_words, hashes, options)


async def _words_in_parts(
    stages: Stages, job: _Prepared, language: str, align_if_heard: frozenset[str] | None = None
) -> AsyncIterator[tuple[list[Word], float | None]]:
    """The words heard so far and the time before which they are complete (None: all words).

    Speech longer than twice :data:`HEAD_CUT_S` is transcribed in two pieces, cut at the
    quietest 100 ms of that window: the head first (its words let the first frames be final
    early), then the rest. Both flows (video and motion only) hear the same words."""
    from speech2video.audio.whisper_engine import head_cut

    if job.tts_words is not None:
        yield job.tts_words, None
        return
    audio = job.decoded
    cut = head_cut(audio.samples, audio.rate, *HEAD_CUT_S)
    if cut is None:
        yield await stages.transcribe(audio, language, align_if_heard), None
        return
    head = await stages.transcribe(Audio(audio.samples[:cut], audio.rate), language, align_if_heard)
    at = cut / audio.rate
    yield head, at
    tail = await stages.transcribe(Audio(audio.samples[cut:], audio.rate), language, align_if_heard)
    yield [*head, *(replace(w, start=w.start + at, end=w.end + at) for w in tail)], None


async def _motion(
    stages: Stages,
    request: SynthesisInput,
    job: _Prepared,
    on_final: Callable[[Motion], None] | None = None,
) -> MotionResult:
    """Poses ∥ words, then key poses; with ``on_final``, each block of frames goes there as
    soon as no later word can change it: the opening as soon as the poses are there, the rest
    with key poses inserted for the words heard so far."""
    parts = _words_in_parts(stages, job, request.language, request.align_if_heard)
    sent = 0

    async def poses() -> tuple[Motion, Lineage]:
        """The poses; with ``on_final``, the opening goes out at once (no key pose enters it)."""
        nonlocal sent
        motion, lineage = await stages.predict_poses(request.speaker, job.decoded)
        if on_final is not None:
            sent = min(synthesis.opening_frames(motion.fps), motion.num_frames)
            if sent:
                on_final(motion.with_poses(motion.poses[:sent]))
        return motion, lineage

    try:
        (motion, pose_lineage), (words, complete) = await _both(poses(), anext(parts))
        while True:
            if complete is None or on_final is not None:
                edited, log, key_lineage, final = await stages.insert_key_poses(
                    request.speaker, motion, words, job.options, complete
                )
                if on_final is not None and final > sent:
                    on_final(edited.with_poses(edited.poses[sent:final]))
                    sent = final
            if complete is None:
                break
            words, complete = await anext(parts)
    finally:
        with contextlib.suppress(RuntimeError):  # still running in a cancelled task
            await parts.aclose()
    lineage = pose_lineage.merge(key_lineage, Lineage((), job.hashes))
    return MotionResult(edited, words, log, lineage, job.audio, job.duration)


async def synthesize_motion(
    stages: Stages, request: SynthesisInput, max_audio_seconds: float
) -> MotionResult:
    """Validate, then poses and words, then key poses."""
    return await _motion(stages, request, await _prepare(request, max_audio_seconds))


async def synthesize_video(
    stages: Stages, request: SynthesisInput, max_audio_seconds: float
) -> AsyncIterator[Mp4Piece | VideoSummary]:
    """MP4 pieces as they are rendered, then one :class:`VideoSummary`.

    Frames go to the renderer as soon as they are final (see :func:`_motion`), so the first
    piece leaves while the rest of the speech is still being transcribed; the pieces are
    those of rendering the final motion at once."""
    job = await _prepare(request, max_audio_seconds)
    blocks: asyncio.Queue[Motion | None] = asyncio.Queue()
    producer = asyncio.ensure_future(_motion(stages, request, job, blocks.put_nowait))
    producer.add_done_callback(lambda _: blocks.put_nowait(None))

    async def parts() -> AsyncIterator[Motion]:
        while (part := await blocks.get()) is not None:
            yield part

    render_lineage = Lineage((), {})
    try:
        async for piece, lineage in stages.render_stream(request.speaker, parts(), job.decoded):
            if piece.last or producer.done():
                await producer  # the motion's error, if any, before the video's end
            if lineage is not None:
                render_lineage = render_lineage.merge(lineage)
            yield piece
        result = await producer
    finally:
        producer.cancel()
    yield VideoSummary(result, result.lineage.merge(render_lineage))


def _decoded(audio: Speech) -> Audio:
    """Speech as samples: :class:`Audio` as it is, encoded bytes decoded (unbounded: in process
    the caller's own input)."""
    return audio if isinstance(audio, Audio) else decode(audio, max_seconds=None)


class LocalStages:
    """The stages in this process: models from the registry, the core doing the work.

    transcription: recognise speech in that worker process instead of a thread of this one
    (:mod:`services.transcription_process`: the live renderer keeps its pace)."""

    def __init__(
        self,
        alias: str | None = None,
        chunk_frames: int = 25,
        transcription: TranscriptionProcess | None = None,
    ) -> None:
        self.alias = alias
        self.chunk_frames = chunk_frames
        self.transcription = transcription
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

    async def transcribe(
        self, audio: Speech, language: str, align_if_heard: Collection[str] | None = None
    ) -> list[Word]:
        from speech2video.audio.transcriber import transcribe

        if self.transcription is not None:
            decoded = await asyncio.to_thread(_decoded, audio)
            return await self.transcription.transcribe(decoded, language, align_if_heard)
        refine = {} if align_if_heard is None else {"refine_if_heard": align_if_heard}
        result = await asyncio.to_thread(transcribe, audio, language=language or None, **refine)
        return list(result.words)

    async def predict_poses(self, speaker: str, audio: Speech) -> tuple[Motion, Lineage]:
        models = await self._snapshot(speaker, "audio_to_pose", "body_model")
        decoded = await asyncio.to_thread(_decoded, audio)
        profile = models.get("body_model")
        poses = await asyncio.to_thread(
            synthesis.poses_from_audio, models.get("audio_to_pose"), decoded, profile.fps
        )
        return synthesis.speaker_motion(poses, profile.fps, profile), models.lineage()

    async def insert_key_poses(
        self,
        speaker: str,
        motion: Motion,
        words: list[Word],
        options: KeyPoseRequest,
        words_complete_before_s: float | None = None,
    ) -> tuple[Motion, list[InsertionLogEntry], Lineage, int]:
        models = await self._snapshot(speaker, "key_pose_dictionary")
        dictionary = models.get("key_pose_dictionary")
        result = synthesis.insert_key_poses(
            dictionary,
            motion,
            words,
            seed=options.seed,
            force=options.force,
            forbid=options.forbid,
            interpolation=options.interpolation,
            disabled=options.disabled,
        )
        final = synthesis.final_frames(
            dictionary, motion, words_complete_before_s, options.disabled
        )
        return motion.with_poses(result.poses), result.log, models.lineage(), final

    async def render(
        self, speaker: str, motion: Motion, audio: Speech
    ) -> AsyncIterator[tuple[Mp4Piece, Lineage | None]]:
        models = await self._snapshot(speaker, "renderer", "body_model")
        decoded = _decoded(audio) if isinstance(audio, Audio) or audio else None
        pieces: Iterator[Mp4Piece] = synthesis.render_pieces(
            models.get("renderer"), models.get("body_model"), motion, decoded, self.chunk_frames
        )
        for piece in pieces:
            yield piece, models.lineage() if piece.last else None

    async def render_stream(
        self, speaker: str, parts: AsyncIterator[Motion], audio: Speech
    ) -> AsyncIterator[tuple[Mp4Piece, Lineage | None]]:
        """In process the parts are gathered first (no early first piece)."""
        collected = [part async for part in parts]
        if not collected:
            return
        poses = np.concatenate([p.poses for p in collected])
        async for item in self.render(speaker, collected[0].with_poses(poses), audio):
            yield item
