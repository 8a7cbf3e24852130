"""Timed words JSON: both accepted forms, normalisation, and errors naming the fault."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from speech2video.errors import InputError
from speech2video.motion.words import Word, load_words, normalize_word, save_words, words_from_json


@pytest.mark.parametrize(
    "raw, key",
    [
        ("Huge!", "huge"),
        ("HUGE", "huge"),
        ('"wave,"', "wave"),
        ("don't", "don't"),
        ("'quoted'", "quoted"),
        ("我们", "我们"),
    ],
)
def test_normalize_word(raw: str, key: str) -> None:
    assert normalize_word(raw) == key


def test_round_trip_and_both_forms(tmp_path: Path) -> None:
    words = [Word("huge", 1.23, 1.61, 0.9), Word("tiny", 2.0, 2.4)]
    save_words(tmp_path / "w.json", words, language="en", engine="test")
    assert load_words(tmp_path / "w.json") == words
    data = json.loads((tmp_path / "w.json").read_text())
    assert data["language"] == "en"
    assert words_from_json(data["words"]) == words


@pytest.mark.parametrize(
    "data, message",
    [
        ({"text": []}, "lacks the key 'words'"),
        ([{"word": "a", "start": 1.0}], r"words\[0\] lacks the key 'end'"),
        ([{"word": "a", "start": 2.0, "end": 1.0}], "start <= end"),
        ([{"word": "a", "start": "x", "end": 1.0}], r"words\[0\]"),
        ("nope", "must be a list"),
    ],
)
def test_bad_words(data: object, message: str) -> None:
    with pytest.raises(InputError, match=message):
        words_from_json(data)
