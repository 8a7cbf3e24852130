"""The espeak-ng TTS service and the MP4 recorder in a real Pipecat pipeline, the avatar between
them on a fake live session (tests/unit/services/pipecat_fakes.py; the real gateway is in
tests/integration/serving)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

pytest.importorskip("pipecat")

from pipecat.frames.frames import ErrorFrame, TTSAudioRawFrame, TTSSpeakFrame
from pipecat.pipeline.worker import PipelineParams
from pipecat.tests.utils import run_test

from services.pipecat_avatar.avatar import Speech2VideoAvatarService
from services.pipecat_avatar.espeak_tts import EspeakTTSService
from services.pipecat_avatar.recorder import AvatarRecorder
from tests.unit.services.pipecat_fakes import Sessions


def test_espeak_speech_becomes_an_mp4_with_its_video_in_sync(tmp_path: Path) -> None:
    from pipecat.pipeline.pipeline import Pipeline

    from speech2video.render.video_io import probe

    sessions = Sessions(fps=15.0, size=(16, 12))
    avatar = Speech2VideoAvatarService(speaker="alice", session_factory=sessions)
    recorder = AvatarRecorder(tmp_path / "out.mp4")
    chain = Pipeline([EspeakTTSService(), avatar, recorder])
    params = PipelineParams(audio_out_sample_rate=24_000)
    down, up = asyncio.run(
        run_test(
            chain,
            frames_to_send=[TTSSpeakFrame("Hello there, nice to see you.")],
            pipeline_params=params,
            start_timeout=60,  # espeak-ng warms up in set-up (seconds on a busy machine)
        )
    )
    assert not [f for f in up if isinstance(f, ErrorFrame)]
    audio = [f for f in down if isinstance(f, TTSAudioRawFrame)]
    assert {(f.sample_rate, f.num_channels) for f in audio} == {(24_000, 1)}
    seconds = sum(len(f.audio) for f in audio) / 2 / 24_000
    assert 1.0 < seconds < 4.0 and recorder.audio_s == pytest.approx(seconds)
    assert sessions.made[0].rate == 24_000
    info = probe(tmp_path / "out.mp4")
    assert recorder.written == info.frames == round(seconds * 15)
    assert (info.width, info.height, info.fps) == (16, 12, 15.0) and info.has_audio
    assert info.audio_duration == pytest.approx(seconds, abs=0.1)


def test_unspeakable_text_is_an_error_frame() -> None:
    _, up = asyncio.run(
        run_test(EspeakTTSService(), frames_to_send=[TTSSpeakFrame("...")], start_timeout=60)
    )
    errors = [f.error for f in up if isinstance(f, ErrorFrame)]
    assert errors and "espeak-ng TTS: text has nothing speakable" in errors[0]
