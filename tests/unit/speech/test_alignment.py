"""Forced alignment of a known transcript: every word placed, or the missing ones named."""

from __future__ import annotations

import numpy as np
import pytest

from speech2video.audio.alignment import (
    AlignmentError,
    _interpolate,
    align,
    align_pocketsphinx,
    match_words,
    transcript_words,
    word_error_rate,
)
from speech2video.audio.io import Audio
from speech2video.audio.tts import synthesize
from speech2video.errors import InputError
from speech2video.motion.words import Word


def test_match_words_and_word_error_rate() -> None:
    ref = ["the", "cat", "sat", "down"]
    assert match_words(ref, ["The", "cat", "sat", "down!"]) == [(0, 0), (1, 1), (2, 2), (3, 3)]
    assert match_words(ref, ["cat", "sat", "up", "down"]) == [
        (0, None), (1, 0), (2, 1), (None, 2), (3, 3),
    ]  # fmt: skip
    assert word_error_rate(ref, ["cat", "sat", "up", "down"]) == pytest.approx(0.5)
    assert word_error_rate(ref, ref) == 0.0
    assert transcript_words("Hello, world -- ok!") == ["Hello", "world", "ok"]


@pytest.mark.parametrize("engine", ["pocketsphinx", "hybrid"])
def test_alignment_recovers_tts_word_times(spoken_sentence, engine: str) -> None:
    text = " ".join(w.word for w in spoken_sentence.words)
    result = align(spoken_sentence.audio, text, engine=engine)
    assert [w.word for w in result.words] == [w.word for w in spoken_sentence.words]
    assert result.guessed == ()
    errs = [
        abs(a.start - b.start) for a, b in zip(result.words, spoken_sentence.words, strict=True)
    ]
    assert np.median(errs) <= 0.05 and max(errs) <= 0.15


def test_words_missing_from_the_dictionary_are_placed() -> None:
    tts = synthesize("We deploy Kubernetes with Zorblax tooling in 2024.", noise_level=0.001)
    placed = align_pocketsphinx(tts.audio, [w.word for w in tts.words])
    assert all(p is not None for p in placed)
    errs = [abs(p.start - w.start) for p, w in zip(placed, tts.words, strict=True)]
    assert np.median(errs) <= 0.05


def test_silence_cannot_be_aligned_and_the_words_are_named() -> None:
    silence = Audio(np.zeros(32_000, np.float32), 16_000)
    with pytest.raises(AlignmentError, match="could not be placed") as info:
        align(silence, "mary rolled the barrel", engine="whisper")
    assert info.value.words == ["mary", "rolled", "the", "barrel"]
    with pytest.raises(InputError, match="no words"):
        align(silence, " ... ")
    with pytest.raises(InputError, match="alignment engine"):
        align(silence, "hi", engine="nope")


def test_interpolation_fills_gaps_between_placed_words() -> None:
    placed = [Word("a", 0.0, 0.2), None, None, Word("d", 1.0, 1.2), None]
    words, guessed = _interpolate(placed, ["a", "bb", "cc", "d", "e"], 2.0)
    assert guessed == (1, 2, 4)
    assert [w.word for w in words] == ["a", "bb", "cc", "d", "e"]
    assert words[1].start == pytest.approx(0.2) and words[2].end == pytest.approx(1.0)
    assert words[1].end == pytest.approx(0.6) and words[4].start == pytest.approx(1.2)
    assert all(w.confidence == 0.0 for i, w in enumerate(words) if i in guessed)


def test_real_recording_alignment_matches_textgrid(shared_data) -> None:
    path = shared_data / "speech" / "praatio_mary.wav"
    if not path.is_file():
        pytest.skip(f"{path} absent")
    truth = [0.315, 0.676, 0.984, 1.064]  # word onsets in praatio_mary.TextGrid
    result = align(str(path), "mary rolled the barrel")
    errs = [abs(w.start - t) for w, t in zip(result.words, truth, strict=True)]
    assert np.median(errs) <= 0.05
