"""The live flow on fake stages (no Ray, no models): windowing, deadlines, limits, errors."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc
import numpy as np
import pytest

from services.errors import RpcError
from services.live_flow import (
    MAX_SEGMENT_S,
    SEGMENT_S,
    LiveLimits,
    LiveRequest,
    LiveSummary,
    segment_cut,
    synthesize_live,
)
from services.synthesis_types import KeyPoseRequest, Lineage
from speech2video.audio.io import Audio
from speech2video.body.motion_file import Motion
from speech2video.errors import InputError
from speech2video.motion.keypose_dictionary import KeyPoseDictionary, KeyPoseEntry
from speech2video.motion.words import Word
from speech2video.render.mp4_stream import Mp4Piece

FPS = 25.0
RATE = 16_000


class FakeStages:
    """Poses: frame f is final once audio reaches f/fps + 0.2 s; words: "huge" at 0.5 s of each
    segment; rendering: one piece per part, after ``render_s``."""

    def __init__(self, render_s: float = 0.0, transcribe_s: float = 0.0) -> None:
        self.render_s, self.transcribe_s = render_s, transcribe_s
        self.segments: list[float] = []
        self.align_if_heard: list[frozenset[str] | None] = []
        self.parts: list[int] = []

    async def transcribe(
        self, audio: Audio, language: str, align_if_heard: frozenset[str] | None = None
    ) -> list[Word]:
        seconds = audio.duration
        self.segments.append(seconds)
        self.align_if_heard.append(align_if_heard)
        await asyncio.sleep(self.transcribe_s)
        return [Word("huge", 0.5, 0.8)] if seconds > 0.8 else []

    async def key_pose_dictionary(self, speaker: str) -> tuple[KeyPoseDictionary, Lineage]:
        entry = KeyPoseEntry("huge", 1.0, np.full((1, 106), 0.5, np.float32), False)
        lineage = Lineage(({"component": "kp", "name": "k"},))
        return KeyPoseDictionary(speaker, {"huge": entry}), lineage

    async def predict_pose_stream(
        self, speaker: str, samples: AsyncIterator[np.ndarray], gain: float
    ) -> AsyncIterator[tuple[Motion | None, Lineage | None]]:
        heard, sent = 0, 0
        async for block in samples:
            heard += len(block)
            final = max(0, int((heard / RATE - 0.2) * FPS))
            if final > sent:
                yield Motion(np.zeros((final - sent, 106), np.float32), FPS), None
                sent = final
        total = round(heard / RATE * FPS)
        rest = Motion(np.zeros((total - sent, 106), np.float32), FPS) if total > sent else None
        yield rest, Lineage(({"component": "a2p", "name": "a"},))

    async def render_stream(
        self, speaker: str, parts: AsyncIterator[Motion], audio: bytes
    ) -> AsyncIterator[tuple[Mp4Piece, Lineage | None]]:
        done = 0
        pending = None
        async for part in parts:
            await asyncio.sleep(self.render_s)
            if pending is not None:
                yield pending, None
            self.parts.append(part.num_frames)
            pending = Mp4Piece(b"x", done, part.num_frames, False)
            done += part.num_frames
        if pending is not None:
            yield Mp4Piece(b"x", pending.first_frame, pending.num_frames, True), Lineage()


def _pcm(seconds: float) -> bytes:
    t = np.arange(int(seconds * RATE)) / RATE
    x = 0.3 * np.sin(2 * np.pi * 200 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 1.3 * t))
    return (x * 32767).astype("<i2").tobytes()


async def _chunks(pcm: bytes, step_s: float, pace: float, idle_after: int | None = None):
    n = int(step_s * RATE) * 2
    for i, at in enumerate(range(0, len(pcm), n)):
        if idle_after is not None and i == idle_after:
            await asyncio.sleep(3600)
        yield pcm[at : at + n]
        if pace:
            await asyncio.sleep(step_s / pace)


DEFAULT_LIMITS = LiveLimits()


def _run(
    stages,
    pcm,
    limits=DEFAULT_LIMITS,
    pace=0.0,
    step_s=0.1,
    wait_s=0.0,
    idle_after=None,
    key_poses=KeyPoseRequest(seed=0),  # noqa: B008 - frozen
):
    request = LiveRequest("alice", 1, RATE, key_poses, key_pose_wait_s=wait_s)

    async def go() -> list:
        chunks = _chunks(pcm, step_s, pace, idle_after)
        return [item async for item in synthesize_live(stages, request, chunks, limits)]

    return asyncio.run(go())


def test_segments_are_cut_in_the_quietest_100_ms_of_their_window() -> None:
    x = np.ones(int(2.0 * RATE), np.float32)
    x[int(1.3 * RATE) : int(1.4 * RATE)] = 0.0
    assert segment_cut(x) == int(1.3 * RATE) + RATE // 20
    assert segment_cut(x[: int(SEGMENT_S[1] * RATE) - 1]) is None


def test_a_backlog_is_recognised_in_one_segment_cut_near_its_end() -> None:
    # a recogniser behind the speech gets its backlog in one call, not many 1-1.8 s ones
    x = np.ones(int(6.0 * RATE), np.float32)
    x[int(1.3 * RATE) : int(1.4 * RATE)] = 0.0  # quiet, but too early in a 6 s backlog
    x[int(5.5 * RATE) : int(5.6 * RATE)] = 0.0
    assert segment_cut(x) == int(5.5 * RATE) + RATE // 20
    long = np.ones(int(3 * MAX_SEGMENT_S * RATE), np.float32)
    assert int(MAX_SEGMENT_S * RATE) - RATE <= segment_cut(long) <= int(MAX_SEGMENT_S * RATE)


def test_every_frame_once_in_order_and_words_in_their_segments() -> None:
    stages = FakeStages()
    items = _run(stages, _pcm(5.0), pace=5.0, wait_s=2.0)
    pieces, summary = [p.piece for p in items[:-1]], items[-1]
    assert isinstance(summary, LiveSummary) and summary.num_frames == 125 == sum(stages.parts)
    assert [p.first_frame for p in pieces] == list(np.cumsum([0, *stages.parts[:-1]]))
    assert pieces[-1].last and summary.fps == FPS and summary.duration_s == pytest.approx(5.0)
    assert sum(stages.segments) == pytest.approx(5.0, abs=1e-3)
    assert all(s <= MAX_SEGMENT_S for s in stages.segments)
    starts = [w.start for w in summary.words]
    assert starts == sorted(starts) and len(starts) >= 3
    statuses = [e.status for e in summary.insertions]
    assert statuses.count("inserted") >= 2 and "late" not in statuses  # words came in time
    assert {m["component"] for m in summary.lineage.models} == {"kp", "a2p"}


def test_no_wait_for_words_makes_key_words_late_at_real_time() -> None:
    items = _run(FakeStages(transcribe_s=0.05), _pcm(4.0), pace=4.0, wait_s=0.05)
    summary = items[-1]
    assert summary.num_frames == 100 and summary.late
    assert all(e.status in ("late", "overlap") for e in summary.insertions)


def test_a_client_far_ahead_of_the_video_is_told_resource_exhausted() -> None:
    limits = LiveLimits(max_buffered_s=2.0)
    with pytest.raises(RpcError) as err:
        _run(FakeStages(render_s=0.5), _pcm(8.0), limits, step_s=0.5)
    assert err.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "limit is 2 s" in err.value.message


def test_a_stalled_client_is_ended_with_deadline_exceeded() -> None:
    limits = LiveLimits(idle_timeout_s=0.3)
    with pytest.raises(RpcError) as err:
        _run(FakeStages(), _pcm(3.0), limits, idle_after=5)
    assert err.value.code == grpc.StatusCode.DEADLINE_EXCEEDED and "0.3 s" in err.value.message


def test_no_audio_and_a_bad_wait_are_invalid() -> None:
    with pytest.raises(InputError, match="before any audio"):
        _run(FakeStages(), b"")
    with pytest.raises(InputError, match="key_pose_wait_s"):
        _run(FakeStages(), _pcm(1.0), wait_s=float("nan"))


def test_segments_ask_for_aligned_times_only_where_a_key_word_may_be_heard() -> None:
    stages = FakeStages()
    _run(stages, _pcm(4.0), pace=8.0)
    assert stages.align_if_heard and set(stages.align_if_heard) == {frozenset({"huge"})}
    stages = FakeStages()
    _run(stages, _pcm(4.0), pace=8.0, key_poses=KeyPoseRequest(seed=0, forbid=("Huge",)))
    assert set(stages.align_if_heard) == {frozenset()}  # its only key word is forbidden
    stages = FakeStages()
    _run(stages, _pcm(4.0), pace=8.0, key_poses=KeyPoseRequest(disabled=True))
    assert set(stages.align_if_heard) == {frozenset()}  # no key poses: recogniser's times


class SlowEndStages(FakeStages):
    """The recogniser takes ``final_s`` over the stream's last segment (the rest of the audio)."""

    def __init__(self, total_s: float, final_s: float) -> None:
        super().__init__()
        self.total_s, self.final_s = total_s, final_s
        self.final_started = 0.0

    async def transcribe(
        self, audio: Audio, language: str, align_if_heard: frozenset[str] | None = None
    ) -> list[Word]:
        if sum(self.segments) + audio.duration >= self.total_s - 1e-3:
            self.final_started = asyncio.get_running_loop().time()
            await asyncio.sleep(self.final_s)
        return await super().transcribe(audio, language, align_if_heard)


def test_a_recogniser_busy_at_the_end_does_not_hold_the_video_back() -> None:
    """After the audio ends the last frames wait no longer than ``key_pose_wait_s``: the video
    ends while the last segment is still being recognised; the summary then has its words, and
    the key word in it is late."""
    stages = SlowEndStages(total_s=4.0, final_s=2.0)
    request = LiveRequest("alice", 1, RATE, KeyPoseRequest(seed=0), key_pose_wait_s=0.5)

    async def go() -> tuple[list, list[float]]:
        items, times = [], []
        async for item in synthesize_live(
            stages, request, _chunks(_pcm(4.0), 0.1, 4.0), LiveLimits()
        ):
            items.append(item)
            times.append(asyncio.get_running_loop().time())
        return items, times

    items, times = asyncio.run(go())
    summary, last_piece = items[-1], items[-2].piece
    assert isinstance(summary, LiveSummary) and last_piece.last
    assert summary.num_frames == 100 == last_piece.first_frame + last_piece.num_frames
    started = stages.final_started
    assert started and times[-2] - started < 1.5  # the video's end did not wait the 2 s
    assert times[-1] - started >= 2.0  # the summary waited for the last words
    final = summary.words[-1]
    assert final.start >= 4.0 - stages.segments[-1] - 1e-6  # the last segment's word is there
    late = [e for e in summary.insertions if e.status == "late"]
    assert late and late[-1].time == pytest.approx(final.start)
