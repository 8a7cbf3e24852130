"""The Whisper-encoder speech embedding: the shipped tiny.en model, run on real speech."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from speech2video.audio.features import compute_features
from speech2video.audio.io import decode
from speech2video.audio.speech_embedding import embedding_dim, speech_embedding
from speech2video.errors import InputError

JFK = Path(__file__).resolve().parents[3] / "assets" / "demo" / "jfk.wav"


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    return decode(JFK).samples[: 16_000 * 4]


def test_rows_line_up_with_the_audio_features(speech: np.ndarray) -> None:
    rows = compute_features(speech).shape[0]
    emb = speech_embedding(speech, rows)
    assert emb.shape == (rows, embedding_dim("whisper")) == (rows, 384)
    assert emb.dtype == np.float32 and np.all(np.isfinite(emb))
    # one 20 ms encoder vector covers two 10 ms steps
    assert np.array_equal(emb[10], emb[11]) and not np.array_equal(emb[11], emb[12])
    again = speech_embedding(speech, rows + 7)  # steps past the audio repeat its last vector
    np.testing.assert_array_equal(again[:rows], emb)
    np.testing.assert_array_equal(again[rows:], np.repeat(emb[-1:], 7, axis=0))


def test_speech_and_silence_differ(speech: np.ndarray) -> None:
    silent = np.zeros_like(speech)
    a = speech_embedding(speech, 400)
    b = speech_embedding(silent, 400)
    assert np.abs(a - b).mean() > 0.1 * np.abs(b).mean()
    assert a[50:350].std(axis=0).mean() > b[50:350].std(axis=0).mean()


def test_bad_requests_are_named() -> None:
    with pytest.raises(InputError, match="unknown speech embedding 'wav2vec'"):
        speech_embedding(np.zeros(1600, np.float32), 10, "wav2vec")
    with pytest.raises(InputError, match="needs audio"):
        speech_embedding(np.zeros(0, np.float32), 10)
    with pytest.raises(InputError, match="finite"):
        speech_embedding(np.full(1600, np.nan, np.float32), 10)


def test_the_thread_count_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    from speech2video.audio.speech_embedding import THREADS_ENV, embedding_threads

    monkeypatch.delenv(THREADS_ENV, raising=False)
    assert embedding_threads() == 1
    monkeypatch.setenv(THREADS_ENV, "3")
    assert embedding_threads() == 3
    monkeypatch.setenv(THREADS_ENV, "0")
    with pytest.raises(InputError, match="S2V_EMBEDDING_THREADS must be a whole number >= 1"):
        embedding_threads()
