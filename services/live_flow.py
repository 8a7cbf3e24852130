"""The live synthesis flow: audio chunks in as they are spoken, MP4 pieces out as they are made.

    bytes ─► LiveAudioInput (16 kHz) ─┬─► PredictPosesStream (LSTM state carried: final frames)
                                      │            │
                                      └─► segments ─► transcribe ─► words ─► LiveKeyPoses
                                                                              │ final frames
                                       MP4 pieces ◄── RenderVideoStream ◄─────┘

Frames wait for the words that may put a key pose on them at most ``key_pose_wait_s`` of audio
(the deadline), and past it only while the renderer still has :data:`RENDER_QUEUE_S` of frames
queued; key words heard later are reported ``late``. After the audio ends the deadline's clock
runs on in wall time, so the last frames wait no longer than the others: a recogniser still busy
with the last seconds does not hold the end of the video back (its words, late for key poses,
still come in the summary). Speech is recognised in segments cut
at a quiet 100 ms 1.0-1.8 s after the previous cut, or, when the recogniser has fallen behind,
near the end of the backlog (:func:`segment_cut`). Back-pressure:
a stream more than ``max_buffered_s`` of audio ahead of the video rendered is ended
RESOURCE_EXHAUSTED; one with no message for ``idle_timeout_s`` DEADLINE_EXCEEDED; a caller who
goes cancels every stage call. Written against :class:`services.live_stages.LiveStages`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass, field, replace
from typing import Any

import grpc
import numpy as np

from services.errors import RpcError
from services.live_audio import LiveAudioInput
from services.live_stages import LiveStages
from services.synthesis_types import KeyPoseRequest, Lineage
from speech2video import synthesis
from speech2video.audio.features import SAMPLE_RATE, rms_gain
from speech2video.audio.io import Audio
from speech2video.body.motion_file import Motion
from speech2video.errors import InputError
from speech2video.motion.keypose_insertion import InsertionLogEntry
from speech2video.motion.live_keyposes import LiveKeyPoses
from speech2video.motion.words import Word
from speech2video.render.mp4_stream import Mp4Piece

#: A recognition segment ends at the quietest 100 ms of the last ``SEGMENT_S[1] - SEGMENT_S[0]``
#: seconds of the audio not yet recognised, at least ``SEGMENT_S[0]`` s in and once
#: ``SEGMENT_S[1]`` s have arrived: while the recogniser keeps up, segments are 1.0-1.8 s; when
#: it falls behind, the next segment takes the backlog (up to :data:`MAX_SEGMENT_S`), so the
#: calls per second adapt to its speed (a Whisper call costs about as much for 1 s as for 10 s:
#: it encodes a 30 s window either way).
SEGMENT_S = (1.0, 1.8)
MAX_SEGMENT_S = 20.0
#: Seconds of audio whose RMS sets the stream's feature gain (the whole-file path uses the
#: whole recording's).
GAIN_S = 0.3
MAX_KEY_POSE_WAIT_S = 10.0
#: Seconds of released frames kept ahead of the video rendered so far (the renderer's queue).
RENDER_QUEUE_S = 0.7


@dataclass(frozen=True)
class LiveLimits:
    """A gateway's bounds on one live stream."""

    max_seconds: float = 120.0
    max_buffered_s: float = 10.0
    idle_timeout_s: float = 10.0
    key_pose_wait_s: float = 3.0


@dataclass(frozen=True)
class LiveRequest:
    """A validated first message."""

    speaker: str
    encoding: int
    sample_rate: int
    key_poses: KeyPoseRequest = field(default_factory=KeyPoseRequest)
    key_pose_wait_s: float = 0.0  # 0: the limits' default
    language: str = "en"
    raw_frames: bool = False  # the gateway also sends decoded frames (services/live_frames.py)


@dataclass(frozen=True)
class LivePiece:
    """An MP4 piece of the live video and the video's frame rate."""

    piece: Mp4Piece
    fps: float


@dataclass(frozen=True)
class LiveSummary:
    """The last item of a live stream."""

    words: list[Word]
    insertions: list[InsertionLogEntry]
    lineage: Lineage
    num_frames: int
    fps: float
    duration_s: float

    @property
    def late(self) -> list[InsertionLogEntry]:
        return [e for e in self.insertions if e.status == "late"]


def segment_cut(samples: np.ndarray, rate: int = SAMPLE_RATE) -> int | None:
    """Where the next recognition segment ends (:data:`SEGMENT_S`): the middle of the quietest
    100 ms of the last ``SEGMENT_S[1] - SEGMENT_S[0]`` s before the audio's end (or before
    :data:`MAX_SEGMENT_S`), at least ``SEGMENT_S[0]`` s in; None while fewer than
    ``SEGMENT_S[1]`` seconds have arrived.

    samples: (N,) float32, from the segment's start (the audio not yet recognised)
    """
    hop = rate // 10
    lo, hi = round(SEGMENT_S[0] * rate), round(SEGMENT_S[1] * rate)
    if samples.shape[0] < hi:
        return None
    end = min(samples.shape[0], round(MAX_SEGMENT_S * rate))
    start = max(lo, end - (hi - lo))
    frames = (end - start) // hop
    window = samples[start : start + frames * hop].reshape(frames, hop)
    return start + int(np.argmin(np.square(window).mean(axis=1))) * hop + hop // 2


async def _first_done(aws: list[Awaitable[Any]]) -> None:
    tasks = [asyncio.ensure_future(a) for a in aws]
    await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for task in tasks:
        task.cancel()


class _LiveRun:
    """One stream's state; :meth:`run` yields its pieces then the summary."""

    def __init__(self, stages: LiveStages, request: LiveRequest, limits: LiveLimits) -> None:
        self.stages, self.request, self.limits = stages, request, limits
        self.wait_s = request.key_pose_wait_s or limits.key_pose_wait_s
        self.audio = LiveAudioInput(request.encoding, request.sample_rate, limits.max_seconds)
        self.hash = hashlib.sha256()
        self.ended = False  # all audio in
        self.ended_at = 0.0  # time.monotonic() when it was
        self.changed = asyncio.Event()  # audio, frames or words arrived
        self.failure: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.pose_in: asyncio.Queue[np.ndarray | None] = asyncio.Queue()
        self.parts: asyncio.Queue[Motion | None] = asyncio.Queue()
        self.pcm = np.zeros(0, np.float32)  # audio not yet recognised, from heard_s
        self.heard_s = 0.0
        self.words: list[Word] = []
        self.keys: LiveKeyPoses | None = None
        self.fps = 0.0
        self.frames_in = 0
        self.poses_done = False
        self.words_done = False
        self.rendered = 0
        self.closed = False
        self.template: Motion | None = None  # global orient, speaker of the parts
        self.lineage = Lineage((), {})
        self.tasks: list[asyncio.Task[Any]] = []

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        task.add_done_callback(self._check)
        self.tasks.append(task)

    def _check(self, task: asyncio.Task[Any]) -> None:
        if not task.cancelled() and task.exception() is not None and not self.failure.done():
            self.failure.set_exception(task.exception())  # type: ignore[arg-type]
        self.changed.set()

    async def _guard(self, aw: Awaitable[Any]) -> Any:
        """``aw``, unless a background task failed first (its error is raised)."""
        task = asyncio.ensure_future(aw)
        await asyncio.wait([task, self.failure], return_when=asyncio.FIRST_COMPLETED)
        if self.failure.done():
            task.cancel()
            self.failure.result()
        return task.result()

    # ------------------------------------------------------------------ audio in

    async def _read(self, chunks: AsyncIterator[bytes]) -> None:
        gain_pending: list[np.ndarray] = []
        while True:
            try:
                data = await asyncio.wait_for(anext(chunks, None), self.limits.idle_timeout_s)
            except TimeoutError:
                raise RpcError(
                    grpc.StatusCode.DEADLINE_EXCEEDED,
                    f"audio: no message for {self.limits.idle_timeout_s:g} s; the stream is ended",
                ) from None
            samples = self.audio.push(data) if data is not None else self.audio.finish()
            if data is not None:
                self.hash.update(data)
            if len(samples):
                self.pcm = np.concatenate([self.pcm, samples])
                if gain_pending is not None:
                    gain_pending.append(samples)
                    if sum(map(len, gain_pending)) >= GAIN_S * SAMPLE_RATE or data is None:
                        self._start_poses(np.concatenate(gain_pending))
                        gain_pending = None  # type: ignore[assignment]
                else:
                    self.pose_in.put_nowait(samples)
            if data is None:
                if gain_pending:
                    self._start_poses(np.concatenate(gain_pending))
                elif gain_pending is not None:
                    raise InputError("audio: the stream ended before any audio arrived")
                self.ended, self.ended_at = True, time.monotonic()
                self.pose_in.put_nowait(None)
                self.changed.set()
                return
            ahead = self.audio.seconds - (self.rendered / self.fps if self.fps else 0.0)
            if ahead > self.limits.max_buffered_s:
                raise RpcError(
                    grpc.StatusCode.RESOURCE_EXHAUSTED,
                    f"audio: {ahead:.1f} s buffered ahead of the video; the limit is "
                    f"{self.limits.max_buffered_s:g} s (send audio no faster than real time)",
                )
            self.changed.set()

    def _start_poses(self, head: np.ndarray) -> None:
        self.pose_in.put_nowait(head)
        self._spawn(self._poses(float(rms_gain(head[: int(GAIN_S * SAMPLE_RATE)]))))

    # ------------------------------------------------------------------ poses and words

    async def _samples(self) -> AsyncIterator[np.ndarray]:
        while (block := await self.pose_in.get()) is not None:
            yield block

    async def _poses(self, gain: float) -> None:
        speaker = self.request.speaker
        async for part, lineage in self.stages.predict_pose_stream(speaker, self._samples(), gain):
            if lineage is not None:
                self.lineage = self.lineage.merge(lineage)
            if part is not None:
                if self.keys is None:
                    await self._open(part)
                assert self.keys is not None
                self.keys.push_frames(part.poses)
                self.frames_in += part.num_frames
                self._release()
        if self.keys is None:
            raise InputError("audio: too short for one video frame")
        self.poses_done = True
        self._release()

    async def _open(self, part: Motion) -> None:
        dictionary, lineage = await self.stages.key_pose_dictionary(self.request.speaker)
        self.lineage = self.lineage.merge(lineage)
        o = self.request.key_poses
        self.fps, self.template = part.fps, part
        self.keys = LiveKeyPoses(
            dictionary,
            part.fps,
            seed=o.seed,
            force=o.force,
            forbid=o.forbid,
            interpolation=o.interpolation,  # type: ignore[arg-type]
            disabled=o.disabled,
            locked_frames=synthesis.opening_frames(part.fps),
        )
        self.keys.push_words(self.words, self.heard_s)

    async def _align_if_heard(self) -> frozenset[str]:
        """The words whose hearing makes a segment's word times worth aligning: the key words
        that may put a key pose on a frame (none when key poses are off). Other segments keep
        the recogniser's times (~100 ms), sparing the alignment (a quarter of the CPU)."""
        if self.request.key_poses.disabled:
            return frozenset()
        dictionary, _ = await self.stages.key_pose_dictionary(self.request.speaker)
        return self.request.key_poses.words_to_align(dictionary.entries)

    async def _recognise(self) -> None:
        align_if_heard = await self._align_if_heard()
        while True:
            cut = segment_cut(self.pcm)
            if cut is None and not self.ended:
                self.changed.clear()
                await self.changed.wait()
                continue
            last = cut is None
            segment = self.pcm if last else self.pcm[:cut]
            self.pcm = self.pcm[len(segment) :]
            at = self.heard_s
            words: list[Word] = []
            if len(segment) >= SAMPLE_RATE // 10:
                heard = await self.stages.transcribe(
                    Audio(segment, SAMPLE_RATE), self.request.language, align_if_heard
                )
                words = [replace(w, start=w.start + at, end=w.end + at) for w in heard]
            self.heard_s = at + len(segment) / SAMPLE_RATE
            self.words.extend(words)
            if self.keys is not None:
                self.keys.push_words(words, None if last else self.heard_s)
            if last:
                self.words_done = True
                self._release()
                return
            self._release()

    # ------------------------------------------------------------------ frames out

    def _release(self) -> None:
        keys = self.keys
        if keys is None or self.template is None or self.closed:
            return
        if self.poses_done and self.words_done:
            poses = keys.finish()
            done = True
        else:
            # past its wait, a frame goes only when the renderer would otherwise run dry: a
            # renderer behind the speech leaves the words more time (more key poses in time)
            heard = self.audio.seconds
            if self.ended:  # the clock runs on: the last frames wait no longer than the others
                heard += time.monotonic() - self.ended_at
            deadline = int((heard - self.wait_s) * self.fps)
            deadline = min(deadline, self.rendered + int(RENDER_QUEUE_S * self.fps) + 1)
            poses, done = keys.take(deadline if deadline > 0 else None), False
            if self.poses_done and keys.released >= keys.num_frames:
                keys.close()  # every frame is out before the last words: the video ends
                done = True
        if len(poses):
            self.parts.put_nowait(self.template.with_poses(poses))
        if done:
            self.closed = True
            self.parts.put_nowait(None)

    async def _parts(self) -> AsyncIterator[Motion]:
        while (part := await self.parts.get()) is not None:
            yield part

    async def _deadlines(self) -> None:
        """Releases frames whose deadline passed while no frame or word arrived."""
        while True:
            await asyncio.sleep(0.05)
            self._release()

    # ------------------------------------------------------------------ the stream

    async def run(self, chunks: AsyncIterator[bytes]) -> AsyncIterator[LivePiece | LiveSummary]:
        self._spawn(self._read(chunks))
        self._spawn(self._recognise())
        self._spawn(self._deadlines())
        renders = self.stages.render_stream(self.request.speaker, self._parts(), b"")
        pieces = aiter(renders)
        try:
            while True:
                item = await self._guard(anext(pieces, None))
                if item is None:
                    break
                piece, lineage = item
                if lineage is not None:
                    self.lineage = self.lineage.merge(lineage)
                self.rendered = piece.first_frame + piece.num_frames
                yield LivePiece(piece, self.fps)
            while not self.words_done:  # the video is out; the summary waits for its words
                self.changed.clear()
                await self._guard(self.changed.wait())
            if self.failure.done():
                self.failure.result()
        finally:
            for task in self.tasks:
                task.cancel()
            with contextlib.suppress(Exception):
                await renders.aclose()  # type: ignore[attr-defined]
        assert self.keys is not None
        hashes = {"input.audio": self.hash.hexdigest()[:16]}
        yield LiveSummary(
            self.words,
            list(self.keys.log),
            self.lineage.merge(Lineage((), hashes)),
            self.keys.released,
            self.fps,
            self.audio.seconds,
        )


async def synthesize_live(
    stages: LiveStages, request: LiveRequest, chunks: AsyncIterator[bytes], limits: LiveLimits
) -> AsyncIterator[LivePiece | LiveSummary]:
    """MP4 pieces as they are rendered (:class:`LivePiece`), then one :class:`LiveSummary`."""
    if not 0 <= request.key_pose_wait_s <= MAX_KEY_POSE_WAIT_S:
        raise InputError(
            f"config.key_pose_wait_s must be between 0 and {MAX_KEY_POSE_WAIT_S:g} s; "
            f"got {request.key_pose_wait_s:g}"
        )
    async for item in _LiveRun(stages, request, limits).run(chunks):
        yield item
