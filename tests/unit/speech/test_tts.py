"""espeak-ng synthesis: exact word times, Mandarin per character, noise, bad input."""

from __future__ import annotations

import itertools
import threading

import numpy as np
import pytest

from speech2video.audio.tts import add_noise, synthesize, written_tokens
from speech2video.errors import InputError

PAUSED = "Apples. Money. Lemon. Under. Orange. Mellow."


def _first_sound_errors(audio, words, threshold=0.01):
    """|reported onset − first sample above threshold| for words after a pause (seconds)."""
    x = np.abs(audio.samples)
    errs = []
    for prev, word in itertools.pairwise(words):
        lo = round((prev.end + word.start) / 2 * audio.rate)
        errs.append(abs((lo + np.nonzero(x[lo:] > threshold)[0][0]) / audio.rate - word.start))
    return np.array(errs)


def test_english_words_in_order_with_exact_onsets() -> None:
    result = synthesize(PAUSED, noise_level=0.0)
    assert [w.word for w in result.words] == [
        "Apples",
        "Money",
        "Lemon",
        "Under",
        "Orange",
        "Mellow",
    ]
    assert result.audio.rate == 16_000
    starts = [w.start for w in result.words]
    assert starts == sorted(starts) and all(w.end > w.start for w in result.words)
    assert result.words[-1].end <= result.audio.duration + 1e-6
    # pauses between sentences: the word's reported onset is where sound begins, within 10 ms
    assert _first_sound_errors(result.audio, result.words).max() < 0.010
    # and the pause before each word is silent in clean audio
    for prev, word in zip(result.words[:-1], result.words[1:], strict=True):
        gap = result.audio.samples[round(prev.end * 16000) + 80 : round(word.start * 16000) - 80]
        assert gap.size > 0 and np.abs(gap).max() < 0.01


def test_numbers_and_punctuation_map_to_written_words() -> None:
    result = synthesize("I have 42 apples, Dr. Smith's car-park -- ok?", noise_level=0.0)
    assert [w.word for w in result.words] == [
        "I", "have", "42", "apples", "Dr", "Smith's", "car-park", "ok",
    ]  # fmt: skip


def test_mandarin_one_word_per_character_with_pauses() -> None:
    result = synthesize("妈, 你, 来, 爱", "zh", noise_level=0.0)
    assert [w.word for w in result.words] == ["妈", "你", "来", "爱"]
    assert _first_sound_errors(result.audio, result.words).max() < 0.010
    sentence = synthesize("银行行长说你好", "zh")
    assert "".join(w.word for w in sentence.words) == "银行行长说你好"


def test_noise_level_sets_pause_rms_and_is_deterministic() -> None:
    clean = synthesize(PAUSED, noise_level=0.0)
    noisy = add_noise(clean.audio, 0.01, seed=3)
    assert np.array_equal(noisy.samples, add_noise(clean.audio, 0.01, seed=3).samples)
    assert not np.array_equal(noisy.samples, add_noise(clean.audio, 0.01, seed=4).samples)
    a, b = clean.words[0], clean.words[1]
    pause = noisy.samples[round(a.end * 16000) + 160 : round(b.start * 16000) - 160]
    assert np.sqrt(np.mean(pause**2)) == pytest.approx(0.01, rel=0.15)
    default = synthesize(PAUSED)  # on by default: the pauses are not digital silence
    a, b = default.words[0], default.words[1]
    pause = default.audio.samples[round(a.end * 16000) + 160 : round(b.start * 16000) - 160]
    assert np.sqrt(np.mean(pause**2)) == pytest.approx(0.003, rel=0.2)
    with pytest.raises(InputError, match="noise level"):
        add_noise(clean.audio, -1.0)


def test_concurrent_calls_do_not_mix() -> None:
    expected = {t: synthesize(t, noise_level=0.0).words for t in ("one two three", "four five")}
    results: dict[str, list] = {}

    def worker(text: str) -> None:
        results[text] = synthesize(text, noise_level=0.0).words

    threads = [threading.Thread(target=worker, args=(t,)) for t in expected]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # espeak-ng's output drifts by a few ms between calls (its internal state), so compare the
    # words and their times loosely: mixed-up buffers would give wrong words or wild times
    for text, words in expected.items():
        assert [w.word for w in results[text]] == [w.word for w in words]
        for got, want in zip(results[text], words, strict=True):
            assert got.start == pytest.approx(want.start, abs=0.06)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"text": "  "}, "empty"),
        ({"text": "hi", "lang": "fr"}, "language"),
        ({"text": "hi", "words_per_minute": 20}, "words per minute"),
        ({"text": "x" * 30_000}, "limit"),
        ({"text": "... --"}, "nothing speakable"),
    ],
)
def test_bad_input_is_named(kwargs: dict, message: str) -> None:
    with pytest.raises(InputError, match=message):
        synthesize(**kwargs)


def test_written_tokens_split_han_characters() -> None:
    tokens = written_tokens("Hi, 你好 -- there!")
    assert [t.text for t in tokens] == ["Hi", "你", "好", "there"]
    assert [(t.start, t.end) for t in tokens][:3] == [(0, 3), (4, 5), (5, 6)]
