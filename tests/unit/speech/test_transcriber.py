"""Speech-to-text: faster-whisper with word times; silence; bad input; long audio; registry."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from speech2video.audio.alignment import onset_errors, word_error_rate
from speech2video.audio.io import Audio, AudioError, write_wav
from speech2video.audio.transcriber import (
    Transcript,
    available_engines,
    get_transcriber,
    transcribe,
)
from speech2video.audio.whisper_engine import WhisperTranscriber, split_points
from speech2video.errors import NotFoundError


def test_tts_sentence_is_transcribed_with_word_times(spoken_sentence) -> None:
    result = transcribe(spoken_sentence.audio)
    assert isinstance(result, Transcript)
    assert (result.engine, result.language) == ("whisper", "en")
    ref = [w.word for w in spoken_sentence.words]
    assert word_error_rate(ref, [w.word for w in result.words]) <= 0.25
    errs = onset_errors(spoken_sentence.words, result.words)
    assert errs.size >= 0.75 * len(ref) and np.median(errs) <= 0.15
    assert all(0 <= w.start <= w.end <= spoken_sentence.audio.duration for w in result.words)
    assert all(0 <= w.confidence <= 1 for w in result.words)
    d = result.to_dict()
    assert list(d) == ["language", "engine", "words"]
    assert list(d["words"][0]) == ["word", "start", "end", "confidence"]


def test_silence_and_noise_give_no_words() -> None:
    assert transcribe(Audio(np.zeros(48_000, np.float32), 16_000)).words == []
    noise = np.random.default_rng(0).standard_normal(48_000).astype(np.float32) * 0.02
    assert transcribe(Audio(noise, 16_000)).words == []


def test_stereo_44k_file_is_accepted(tmp_path, spoken_sentence) -> None:
    import soundfile

    from speech2video.audio.io import resample

    mono = resample(spoken_sentence.audio.samples, 16_000, 44_100)
    path = tmp_path / "stereo.wav"
    soundfile.write(str(path), np.stack([mono, mono * 0.5], axis=1), 44_100)
    words = transcribe(path).words
    assert word_error_rate([w.word for w in spoken_sentence.words], [w.word for w in words]) <= 0.25


def test_bad_audio_is_refused_with_a_reason(tmp_path) -> None:
    with pytest.raises(AudioError, match="could not be decoded"):
        transcribe(b"this is not audio at all")
    with pytest.raises(AudioError, match="empty"):
        transcribe(b"")
    path = tmp_path / "long.wav"
    write_wav(path, Audio(np.zeros(16_000 * 5, np.float32), 16_000))
    with pytest.raises(AudioError, match="limit"):
        transcribe(path, max_seconds=2)
    with pytest.raises(AudioError, match="not found"):
        transcribe(tmp_path / "missing.wav")


def test_long_audio_is_cut_into_pieces_at_pauses(spoken_sentence) -> None:
    a = spoken_sentence.audio.samples
    gap = np.zeros(16_000, np.float32)
    audio = Audio(np.concatenate([a, gap, a]), 16_000)
    engine = WhisperTranscriber(chunk_seconds=audio.duration * 0.6)  # forces two pieces
    cut = split_points(audio.samples, 16_000, engine.chunk_seconds)
    assert len(cut) == 1 and a.size <= cut[0] <= a.size + gap.size  # in the pause
    words = engine.transcribe(audio).words
    ref = spoken_sentence.words + [
        type(w)(
            w.word, w.start + (a.size + gap.size) / 16_000, w.end + (a.size + gap.size) / 16_000
        )
        for w in spoken_sentence.words
    ]
    assert word_error_rate([w.word for w in ref], [w.word for w in words]) <= 0.25
    assert np.median(onset_errors(ref, words)) <= 0.15  # second piece offset correctly


def test_split_points_bound_every_piece() -> None:
    x = np.random.default_rng(1).standard_normal(16_000 * 50).astype(np.float32)
    x[16_000 * 27 : 16_000 * 28] = 0.0  # a quiet second
    cuts = split_points(x, 16_000, 30.0)
    assert 16_000 * 27 <= cuts[0] <= 16_000 * 28
    bounds = [0, *cuts, x.size]
    assert max(b - a for a, b in itertools.pairwise(bounds)) <= 16_000 * 30
    assert split_points(x[:16_000], 16_000, 30.0) == []


def test_engine_registry_caches_and_refuses_unknown(tmp_path) -> None:
    assert "whisper" in available_engines()
    assert get_transcriber() is get_transcriber("whisper")
    with pytest.raises(NotFoundError, match="unknown speech-to-text engine 'nope'"):
        get_transcriber("nope")
    with pytest.raises(NotFoundError, match="no CTranslate2 Whisper model"):
        get_transcriber("whisper", tmp_path)


def test_a_stop_request_ends_transcription_at_the_next_check(spoken_sentence) -> None:
    from speech2video.audio.transcriber import TranscriptionCancelledError

    asked: list[int] = []

    def stop_now() -> bool:
        asked.append(1)
        return True  # the caller has gone before the work starts

    with pytest.raises(TranscriptionCancelledError, match="cancelled"):
        transcribe(spoken_sentence.audio, should_stop=stop_now)
    assert len(asked) == 1  # stopped at the first check, before any decoding
    checks: list[int] = []
    kept = transcribe(spoken_sentence.audio, should_stop=lambda: bool(checks.append(1)))
    plain = transcribe(spoken_sentence.audio)
    assert checks and [w.word for w in kept.words] == [w.word for w in plain.words]


def test_recogniser_threads_come_from_the_environment(monkeypatch) -> None:
    from speech2video.audio.whisper_engine import THREADS_ENV, threads_from_env
    from speech2video.errors import InputError

    monkeypatch.delenv(THREADS_ENV, raising=False)
    assert threads_from_env() == 0
    monkeypatch.setenv(THREADS_ENV, "1")
    assert threads_from_env() == 1
    assert WhisperTranscriber().cpu_threads == 1
    monkeypatch.setenv(THREADS_ENV, "two")
    with pytest.raises(InputError, match="S2V_STT_THREADS must be a whole number"):
        threads_from_env()
