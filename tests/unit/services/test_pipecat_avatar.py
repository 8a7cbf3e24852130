"""The Pipecat avatar service's frame handling, in a real Pipecat pipeline, against a fake live
session (tests/unit/services/pipecat_fakes.py): the only way to hold the server's timing still
and to make it fail on cue. The real gateway: tests/integration/serving (test_serving.py)."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
import numpy as np
import pytest

pytest.importorskip("pipecat")

from pipecat.frames.frames import (
    ErrorFrame,
    InterruptionFrame,
    OutputImageRawFrame,
    TTSAudioRawFrame,
    TTSStartedFrame,
    TTSStoppedFrame,
)
from pipecat.tests.utils import SleepFrame, run_test

from services.pipecat_avatar.avatar import Speech2VideoAvatarService
from tests.unit.services.pipecat_fakes import Sessions


def _speech(seconds: float, rate: int, channels: int, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    n = round(seconds * rate) * channels
    return (rng.standard_normal(n) * 3000).astype("<i2").tobytes()


def _chunks(pcm: bytes, rate: int, channels: int, seed: int = 0) -> list[TTSAudioRawFrame]:
    """TTS frames of uneven sizes (5-90 ms; some straddle many frame boundaries)."""
    rng = np.random.default_rng(seed)
    out, i, bps = [], 0, 2 * channels
    while i < len(pcm):
        n = int(rng.integers(rate // 200, rate * 9 // 100)) * bps
        out.append(TTSAudioRawFrame(pcm[i : i + n], rate, channels, context_id="ctx"))
        i += n
    return out


def _run(service: Any, frames: list, **kw: Any) -> tuple[list, list]:
    return asyncio.run(run_test(service, frames_to_send=frames, **kw))


def _service(sessions: Sessions, **kw: Any) -> Speech2VideoAvatarService:
    return Speech2VideoAvatarService(speaker="alice", session_factory=sessions, **kw)


@pytest.mark.parametrize(("rate", "channels"), [(24_000, 1), (16_000, 2), (44_100, 1)])
def test_images_interleave_with_the_audio_they_go_with(rate: int, channels: int) -> None:
    pcm = _speech(1.3, rate, channels)
    sessions = Sessions(fps=15.0, size=(8, 6))
    service = _service(sessions)
    frames = [TTSStartedFrame(), *_chunks(pcm, rate, channels), TTSStoppedFrame()]
    down, up = _run(service, frames)
    assert not [f for f in up if isinstance(f, ErrorFrame)]
    session = sessions.made[0]
    assert session.rate == rate and session.config.raw_frames and session.finished
    mono = np.frombuffer(pcm, "<i2").reshape(-1, channels).astype(np.float32).mean(axis=1)
    assert np.abs(np.frombuffer(bytes(session.sent), "<i2") - mono).max() <= 0.5  # the mix sent
    audio = [f for f in down if isinstance(f, TTSAudioRawFrame)]
    images = [f for f in down if isinstance(f, OutputImageRawFrame)]
    assert b"".join(f.audio for f in audio) == pcm  # the audio is intact
    assert {(f.sample_rate, f.num_channels, f.context_id) for f in audio} == {
        (rate, channels, "ctx")
    }
    assert len(images) == round(1.3 * 15)
    assert all(f.size == (8, 6) and f.format == "RGB" and len(f.image) == 8 * 6 * 3 for f in images)
    assert [f.image[0] for f in images] == list(range(len(images)))
    assert all(f.sync_with_audio for f in images)
    # order: image k, then the audio of [k/fps, (k+1)/fps): every sample after the images before it
    pts = [f.pts for f in down if isinstance(f, TTSAudioRawFrame | OutputImageRawFrame)]
    assert pts == sorted(pts)
    assert [f.pts for f in images] == [round(k * rate / 15) * 10**9 // rate for k in range(20)]
    kinds = [type(f).__name__ for f in down]
    assert kinds[0] == "TTSStartedFrame" and kinds[-1] == "TTSStoppedFrame"
    assert kinds.index("OutputImageRawFrame") < kinds.index("TTSAudioRawFrame")
    assert service.fps == 15.0 and service.size == (8, 6)
    stats = service.stats[0]
    assert stats.frames == len(images) and stats.first_frame_latency_s is not None


def test_the_clock_runs_on_across_utterances() -> None:
    sessions = Sessions()
    service = _service(sessions)
    first, second = _speech(0.5, 16_000, 1, 1), _speech(0.7, 16_000, 1, 2)
    frames = [TTSStartedFrame(), *_chunks(first, 16_000, 1), TTSStoppedFrame()]
    frames += [TTSStartedFrame(), *_chunks(second, 16_000, 1), TTSStoppedFrame()]
    down, _ = _run(service, frames)
    assert len(sessions.made) == 2
    images = [f for f in down if isinstance(f, OutputImageRawFrame)]
    assert len(images) == round(0.5 * 15) + round(0.7 * 15)
    assert images[round(0.5 * 15)].pts == 5 * 10**8  # the second starts where its audio did
    pts = [f.pts for f in down if isinstance(f, TTSAudioRawFrame | OutputImageRawFrame)]
    assert pts == sorted(pts)
    assert b"".join(f.audio for f in down if isinstance(f, TTSAudioRawFrame)) == first + second


def test_an_unknown_speaker_is_an_error_frame_and_the_speech_goes_on() -> None:
    sessions = Sessions(fail=(grpc.StatusCode.NOT_FOUND, "speaker 'zed' has no production models"))
    service = _service(sessions)
    pcm = _speech(0.6, 16_000, 1)
    down, up = _run(service, [TTSStartedFrame(), *_chunks(pcm, 16_000, 1), TTSStoppedFrame()])
    errors = [f for f in up if isinstance(f, ErrorFrame)]
    assert len(errors) == 1
    assert "NOT_FOUND" in errors[0].error and "speaker 'zed'" in errors[0].error
    assert "Traceback" not in errors[0].error and errors[0].exception is None
    assert not [f for f in down if isinstance(f, OutputImageRawFrame)]
    assert b"".join(f.audio for f in down if isinstance(f, TTSAudioRawFrame)) == pcm
    assert service.stats[0].error == errors[0].error


def test_an_interruption_cancels_the_stream_and_drops_what_it_holds() -> None:
    sessions = Sessions(first={"hold": True})  # a renderer that has sent nothing yet
    service = _service(sessions)
    pcm = _speech(1.0, 16_000, 1)
    after = _speech(0.4, 16_000, 1, 3)
    frames = [TTSStartedFrame(), *_chunks(pcm, 16_000, 1), SleepFrame(0.1), InterruptionFrame()]
    frames += [SleepFrame(0.1), TTSStartedFrame(), *_chunks(after, 16_000, 1), TTSStoppedFrame()]
    down, up = _run(service, frames)
    first, second = sessions.made[0], sessions.made[1]
    assert first.cancelled and not first.finished
    assert second.finished and not second.cancelled
    assert not [f for f in up if isinstance(f, ErrorFrame)]
    cut = next(i for i, f in enumerate(down) if isinstance(f, InterruptionFrame))
    assert not [f for f in down[:cut] if isinstance(f, TTSAudioRawFrame | OutputImageRawFrame)]
    audio = b"".join(f.audio for f in down[cut:] if isinstance(f, TTSAudioRawFrame))
    assert audio == after  # none of the interrupted speech, all of the next
    assert service.stats[0].interrupted and not service.stats[1].interrupted


def test_audio_is_sent_at_most_max_ahead_of_the_video() -> None:
    sessions = Sessions(lag=5)
    service = _service(sessions, max_ahead_s=0.5)
    pcm = _speech(3.0, 16_000, 1)
    down, _ = _run(service, [TTSStartedFrame(), *_chunks(pcm, 16_000, 1), TTSStoppedFrame()])
    session = sessions.made[0]
    assert session.seconds == pytest.approx(3.0)
    assert session.most_ahead_s <= 0.5 + 0.09 + 1e-6  # one TTS chunk past the limit at most
    assert len([f for f in down if isinstance(f, OutputImageRawFrame)]) == 45


def test_resource_exhausted_backs_off_with_the_speech_going_on() -> None:
    sessions = Sessions(fail=(grpc.StatusCode.RESOURCE_EXHAUSTED, "audio: 12.0 s buffered ahead"))
    service = _service(sessions)
    one, two = _speech(0.3, 16_000, 1, 1), _speech(0.3, 16_000, 1, 2)
    frames = [TTSStartedFrame(), *_chunks(one, 16_000, 1), TTSStoppedFrame()]
    frames += [TTSStartedFrame(), *_chunks(two, 16_000, 1), TTSStoppedFrame()]
    down, up = _run(service, frames)
    errors = [f for f in up if isinstance(f, ErrorFrame)]
    assert len(errors) == 1 and "RESOURCE_EXHAUSTED" in errors[0].error
    assert errors[0].category.value == "rate_limit"
    assert len(sessions.made) == 1  # the second utterance came within the back-off: no call
    assert b"".join(f.audio for f in down if isinstance(f, TTSAudioRawFrame)) == one + two


def test_a_pause_in_the_speech_ends_the_stream() -> None:
    sessions = Sessions()
    service = _service(sessions, max_gap_s=0.2)
    one, two = _speech(0.4, 16_000, 1, 1), _speech(0.4, 16_000, 1, 2)
    frames = [TTSStartedFrame(), *_chunks(one, 16_000, 1), SleepFrame(0.5)]
    frames += [*_chunks(two, 16_000, 1), TTSStoppedFrame()]
    down, _ = _run(service, frames)
    assert len(sessions.made) == 2 and all(s.finished for s in sessions.made)
    assert b"".join(f.audio for f in down if isinstance(f, TTSAudioRawFrame)) == one + two
    assert len([f for f in down if isinstance(f, OutputImageRawFrame)]) == 12


def test_end_frame_flushes_an_open_stream_and_leaves_no_tasks() -> None:
    sessions = Sessions()
    service = _service(sessions)
    pcm = _speech(0.5, 16_000, 1)

    async def scenario() -> tuple[list, set]:
        down, _ = await run_test(
            service, frames_to_send=[TTSStartedFrame(), *_chunks(pcm, 16_000, 1)]
        )
        await asyncio.sleep(0)
        return down, asyncio.all_tasks() - {asyncio.current_task()}

    down, tasks = asyncio.run(scenario())
    assert sessions.made[0].finished
    assert b"".join(f.audio for f in down if isinstance(f, TTSAudioRawFrame)) == pcm
    assert len([f for f in down if isinstance(f, OutputImageRawFrame)]) == round(0.5 * 15)
    assert not tasks, tasks
