"""Phonetic input: phone spans from forced alignment of timed words, and their one-hot rows."""

from __future__ import annotations

import numpy as np
import pytest

from speech2video.audio.io import Audio
from speech2video.audio.phones import (
    CMU_PHONES,
    PHONE_SETS,
    VISEMES,
    PhoneSpan,
    align_phones,
    encode_phones,
    phone_dim,
    phone_features,
)
from speech2video.errors import InputError
from speech2video.motion.words import Word


def test_encoding_is_one_hot_with_silence_between_phones() -> None:
    spans = [PhoneSpan("M", 0.05, 0.10, 0), PhoneSpan("AA", 0.10, 0.30, 0)]
    rows = encode_phones(spans, 40, "cmu")
    assert rows.shape == (40, 40) and rows.dtype == np.float32
    np.testing.assert_array_equal(rows.sum(axis=1), np.ones(40))
    labels = PHONE_SETS["cmu"]
    assert [labels[i] for i in rows.argmax(axis=1)[[0, 4, 5, 9, 10, 29, 30]]] == [
        "SIL", "SIL", "M", "M", "AA", "AA", "SIL",
    ]  # fmt: skip
    vis = encode_phones(spans, 40, "viseme")
    assert vis.shape == (40, 15)
    assert [VISEMES[i] for i in vis.argmax(axis=1)[[0, 5, 10]]] == ["sil", "PP", "aa"]


def test_later_phone_wins_and_spans_past_the_end_are_cut() -> None:
    spans = [PhoneSpan("S", 0.0, 0.2, 0), PhoneSpan("IY", 0.1, 0.5, 1)]
    rows = encode_phones(spans, 30, "cmu")
    labels = PHONE_SETS["cmu"]
    assert labels[rows[5].argmax()] == "S" and labels[rows[15].argmax()] == "IY"
    assert labels[rows[29].argmax()] == "IY"


def test_every_cmu_phone_has_its_own_column_and_a_viseme() -> None:
    assert phone_dim("cmu") == 40 and phone_dim("viseme") == 15
    spans = [PhoneSpan(p, k * 0.1, (k + 1) * 0.1, k) for k, p in enumerate(CMU_PHONES)]
    cmu = encode_phones(spans, 10 * len(CMU_PHONES), "cmu").argmax(axis=1)[5::10]
    assert len(set(cmu.tolist())) == len(CMU_PHONES) and 0 not in cmu  # none falls to silence
    vis = encode_phones(spans, 10 * len(CMU_PHONES), "viseme").argmax(axis=1)[5::10]
    assert 0 not in vis and len(set(vis.tolist())) == len(VISEMES) - 1
    with pytest.raises(InputError, match="unknown phone set"):
        encode_phones(spans, 10, "ipa")


def test_tts_words_get_their_dictionary_phones_inside_their_spans(spoken_sentence) -> None:
    words = spoken_sentence.words
    spans = align_phones(spoken_sentence.audio, words)
    assert all(s.aligned for s in spans)
    assert {s.word for s in spans} == set(range(len(words)))
    by_word = {i: [s for s in spans if s.word == i] for i in range(len(words))}
    assert [s.phone for s in by_word[1]] == ["K", "W", "IH", "K"]  # quick
    assert [s.phone for s in by_word[3]] == ["F", "AA", "K", "S"]  # fox
    for i, w in enumerate(words):
        assert by_word[i][0].start >= w.start - 0.08
        assert by_word[i][-1].end <= w.end + 0.08
    starts = [s.start for s in spans]
    assert starts == sorted(starts)
    assert all(s.end > s.start for s in spans)


def test_words_the_aligner_cannot_place_are_spread_over_their_span() -> None:
    silence = Audio(np.zeros(16_000, np.float32), 16_000)
    spans = align_phones(silence, [Word("mary", 0.2, 0.6)])
    assert [s.phone for s in spans] in (["M", "EH", "R", "IY"], ["M", "EY", "R", "IY"])
    if not spans[0].aligned:  # the even split over the word's own span
        assert spans[0].start == pytest.approx(0.2) and spans[-1].end == pytest.approx(0.6)
    assert all(s.start >= 0.1 and s.end <= 0.7 for s in spans)


def test_no_words_give_silence_and_bad_audio_is_refused() -> None:
    audio = Audio(np.zeros(8_000, np.float32), 16_000)
    rows = phone_features(audio, [], 50, "viseme")
    assert rows.shape == (50, 15) and np.all(rows[:, 0] == 1.0)
    with pytest.raises(InputError, match="16 kHz"):
        align_phones(Audio(np.zeros(800, np.float32), 8_000), [Word("a", 0.0, 0.05)])
    with pytest.raises(InputError, match="num_steps"):
        encode_phones([], -1)
