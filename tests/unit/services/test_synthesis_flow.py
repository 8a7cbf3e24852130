"""The synthesis flow against fake stages (no Ray, no models): what each stage is handed and when.

The fakes stand in for the four stages so the flow's own rules are checked alone: the audio is
decoded once and every stage gets the samples; speech is heard head first and the tail's words
are shifted by the cut; frames reach the renderer in order, the opening first; a caller that
leaves cancels the stage work still running. The real stages are exercised in
``tests/integration/serving``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import numpy as np
import pytest

from services import limits
from services.synthesis_flow import (
    SynthesisInput,
    VideoSummary,
    synthesize_motion,
    synthesize_video,
    wav_bytes,
)
from services.synthesis_types import KeyPoseRequest, Lineage
from speech2video import synthesis
from speech2video.audio.io import Audio
from speech2video.body.motion_file import Motion
from speech2video.motion.words import Word
from speech2video.render.mp4_stream import Mp4Piece

FPS = 15.0
RATE = 16_000


def _speech(seconds: float = 5.0, pause_at: float = 1.6) -> bytes:
    """Noise with a 200 ms pause at ``pause_at`` (where the head is cut)."""
    rng = np.random.default_rng(0)
    samples = (0.3 * rng.standard_normal(int(seconds * RATE))).astype(np.float32)
    a = int(pause_at * RATE)
    samples[a - RATE // 10 : a + RATE // 10] = 0.0
    return wav_bytes(Audio(np.clip(samples, -1, 1), RATE))


class FakeStages:
    """Records what each stage got. Words: one per transcribed piece, 0.1 s into it; poses:
    frame t has t in column 0; key poses change nothing and the frames before the words'
    horizon are final."""

    def __init__(self, tail_blocks: asyncio.Event | None = None) -> None:
        self.heard: list[Audio | bytes] = []
        self.align_if_heard: list[frozenset[str] | None] = []
        self.posed: list[Audio | bytes] = []
        self.rendered: list[Audio | bytes] = []
        self.parts: list[np.ndarray] = []
        self.tail_blocks = tail_blocks
        self.cancelled: list[str] = []

    async def transcribe(
        self, audio: Audio | bytes, language: str, align_if_heard: frozenset[str] | None = None
    ) -> list[Word]:
        self.heard.append(audio)
        self.align_if_heard.append(align_if_heard)
        if self.tail_blocks is not None and len(self.heard) == 2:
            try:
                await self.tail_blocks.wait()
            except asyncio.CancelledError:
                self.cancelled.append("transcribe")
                raise
        n = len(self.heard)
        return [Word(f"piece{n}", 0.1, 0.3, 1.0)]

    async def predict_poses(self, speaker: str, audio: Audio | bytes) -> tuple[Motion, Lineage]:
        self.posed.append(audio)
        assert isinstance(audio, Audio)
        frames = round(audio.duration * FPS)
        poses = np.zeros((frames, 106), np.float32)
        poses[:, 0] = np.arange(frames)
        return Motion(poses, FPS, speaker=speaker), Lineage()

    async def insert_key_poses(
        self,
        speaker: str,
        motion: Motion,
        words: list[Word],
        options: KeyPoseRequest,
        words_complete_before_s: float | None = None,
    ) -> tuple[Motion, list, Lineage, int]:
        if words_complete_before_s is None:
            final = motion.num_frames
        else:
            final = max(int(words_complete_before_s * FPS) - 5, 0)
        return motion, [], Lineage(), final

    def render(self, speaker: str, motion: Motion, audio: Audio | bytes) -> AsyncIterator:
        raise AssertionError("the video flow renders as a stream")

    async def render_stream(
        self, speaker: str, parts: AsyncIterator[Motion], audio: Audio | bytes
    ) -> AsyncIterator[tuple[Mp4Piece, Lineage | None]]:
        self.rendered.append(audio)
        first = 0
        async for part in parts:
            self.parts.append(part.poses[:, 0].copy())
            yield Mp4Piece(b"x", first, part.num_frames, False), None
            first += part.num_frames
        yield Mp4Piece(b"", first, 0, True), Lineage()


def _run_video(
    stages: FakeStages, audio: bytes, align_if_heard: frozenset[str] | None = None
) -> list:
    async def go() -> list:
        request = SynthesisInput("alice", audio=audio, align_if_heard=align_if_heard)
        return [m async for m in synthesize_video(stages, request, 60.0)]

    return asyncio.run(go())


def test_the_audio_is_decoded_once_and_every_stage_gets_the_samples(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    decodes = []
    real = limits.decode
    monkeypatch.setattr(limits, "decode", lambda *a, **k: decodes.append(1) or real(*a, **k))
    stages = FakeStages()
    _run_video(stages, _speech())
    assert len(decodes) == 1
    for got in (*stages.heard, *stages.posed, *stages.rendered):
        assert isinstance(got, Audio) and got.rate == RATE


def test_speech_is_heard_head_first_and_the_tail_words_are_shifted_by_the_cut() -> None:
    stages = FakeStages()
    messages = _run_video(stages, _speech(5.0, pause_at=1.6))
    head, tail = stages.heard
    assert 1.2 <= head.duration <= 2.2 and abs(head.duration + tail.duration - 5.0) < 1e-3
    summary = messages[-1]
    assert isinstance(summary, VideoSummary)
    words = summary.result.words
    assert [w.word for w in words] == ["piece1", "piece2"]
    assert words[1].start == pytest.approx(head.duration + 0.1)


def test_every_piece_is_heard_with_the_requests_words_to_align() -> None:
    stages = FakeStages()
    _run_video(stages, _speech(5.0, pause_at=1.6), frozenset({"huge"}))
    assert stages.align_if_heard == [frozenset({"huge"})] * 2  # head and tail
    stages = FakeStages()
    _run_video(stages, _speech(5.0, pause_at=1.6))
    assert stages.align_if_heard == [None, None]  # not asked: always aligned


def test_frames_reach_the_renderer_once_in_order_opening_first() -> None:
    stages = FakeStages()
    messages = _run_video(stages, _speech())
    frames = np.concatenate(stages.parts)
    np.testing.assert_array_equal(frames, np.arange(round(5.0 * FPS)))
    assert len(stages.parts) >= 3  # opening, head-final block, the rest
    assert stages.parts[0].size == synthesis.opening_frames(FPS)
    pieces = [m for m in messages if isinstance(m, Mp4Piece)]
    assert pieces[-1].last and sum(p.num_frames for p in pieces) == frames.size


def test_a_caller_that_leaves_cancels_the_stage_work_still_running() -> None:
    stages = FakeStages(tail_blocks=asyncio.Event())  # the tail's transcription never ends

    async def leave_after_the_first_piece() -> None:
        request = SynthesisInput("alice", audio=_speech())
        video = synthesize_video(stages, request, 60.0)
        first = await anext(video)
        assert isinstance(first, Mp4Piece)
        await asyncio.sleep(0.05)  # the tail transcription is under way
        await video.aclose()
        await asyncio.sleep(0.05)

    asyncio.run(leave_after_the_first_piece())
    assert stages.cancelled == ["transcribe"]


def test_motion_only_hears_the_same_words_and_gets_the_final_motion() -> None:
    stages = FakeStages()
    result = asyncio.run(synthesize_motion(stages, SynthesisInput("alice", audio=_speech()), 60.0))
    assert [w.word for w in result.words] == ["piece1", "piece2"]
    assert result.motion.num_frames == round(5.0 * FPS) and stages.rendered == []
