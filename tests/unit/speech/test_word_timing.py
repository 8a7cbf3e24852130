"""Recognised words retimed by forced alignment (alignment.refine_word_times) and the TextGrid
reader (audio/textgrid.py), on the project's own TTS speech and on real speech when present."""

from __future__ import annotations

import itertools
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from speech2video.audio.alignment import onset_errors, refine_word_times
from speech2video.audio.io import decode
from speech2video.audio.textgrid import load_textgrid_words, read_textgrid
from speech2video.audio.transcriber import transcribe
from speech2video.errors import InputError


def test_shifted_words_are_put_back_and_an_outlier_stays_in_order(spoken_sentence) -> None:
    truth = spoken_sentence.words
    shifted = [replace(w, start=w.start + 0.12, end=w.end + 0.12, confidence=0.7) for w in truth]
    far = len(shifted) // 2
    shifted[far] = replace(shifted[far], start=truth[far].start + 2.0, end=truth[far].end + 2.0)
    refined = refine_word_times(spoken_sentence.audio, shifted)
    assert [w.word for w in refined] == [w.word for w in truth]
    errs = np.array([abs(r.start - t.start) for r, t in zip(refined, truth, strict=True)])
    keep = np.arange(len(truth)) != far
    assert np.median(errs[keep]) <= 0.04  # was 0.12 before refinement
    # The outlier is not taken from the aligner (2 s > max shift) and does not push its
    # neighbours: it is held between them.
    assert refined[far - 1].start <= refined[far].start <= refined[far + 1].start
    assert errs[far + 1] <= 0.05
    assert all(r.confidence == 0.7 for i, r in enumerate(refined) if i != far)
    assert all(b.start >= a.start for a, b in itertools.pairwise(refined))
    assert all(w.end >= w.start for w in refined)
    assert refine_word_times(spoken_sentence.audio, []) == []


def test_shifts_beyond_the_limit_keep_the_recognisers_times(spoken_sentence) -> None:
    shifted = [replace(w, start=w.start + 0.12, end=w.end + 0.12) for w in spoken_sentence.words]
    kept = refine_word_times(spoken_sentence.audio, shifted, max_shift_s=0.05)
    assert [(w.start, w.end) for w in kept] == [(w.start, w.end) for w in shifted]


def test_transcribe_refines_english_word_times_by_default(spoken_sentence) -> None:
    coarse = transcribe(spoken_sentence.audio, refine_times=False)
    fine = transcribe(spoken_sentence.audio)
    assert [w.word for w in fine.words] == [w.word for w in coarse.words]
    e_fine = onset_errors(spoken_sentence.words, fine.words)
    e_coarse = onset_errors(spoken_sentence.words, coarse.words)
    assert e_fine.size >= 0.75 * len(spoken_sentence.words)
    assert np.median(e_fine) <= 0.03
    assert np.median(e_fine) < np.median(e_coarse)


def test_refinement_only_when_a_wanted_word_is_heard(spoken_sentence) -> None:
    coarse = transcribe(spoken_sentence.audio, refine_times=False)
    fine = transcribe(spoken_sentence.audio)
    heard = coarse.words[len(coarse.words) // 2].word
    assert fine.words != coarse.words  # refinement moves some onsets on this sentence
    # a wanted word (any case or punctuation) is heard: the words are retimed as always
    wanted = transcribe(spoken_sentence.audio, refine_if_heard=[heard.upper() + "!"])
    assert wanted.words == fine.words
    # none is: the recogniser's own times, no alignment
    unheard = transcribe(spoken_sentence.audio, refine_if_heard=["zebra", "quixotic"])
    assert unheard.words == coarse.words
    assert transcribe(spoken_sentence.audio, refine_if_heard=[]).words == coarse.words


@pytest.mark.slow
def test_real_speech_onsets_within_30_ms_after_refinement(shared_data: Path) -> None:
    wav = shared_data / "speech" / "BEAT2_2_scott_0_2_2.wav"
    if not wav.is_file():
        pytest.skip(f"{wav} absent")
    truth = load_textgrid_words(wav.with_suffix(".TextGrid"))
    result = transcribe(decode(str(wav)))
    errs = onset_errors(truth, result.words)
    assert errs.size >= 0.8 * len(truth)
    assert np.median(errs) <= 0.03


def test_textgrid_long_and_short_formats(tmp_path: Path) -> None:
    long = tmp_path / "long.TextGrid"
    long.write_text(
        'File type = "ooTextFile"\nObject class = "TextGrid"\n\nxmin = 0\nxmax = 2\n'
        "tiers? <exists>\nsize = 1\nitem []:\n    item [1]:\n"
        '        class = "IntervalTier"\n        name = "words"\n        xmin = 0\n'
        "        xmax = 2\n        intervals: size = 3\n"
        "        intervals [1]:\n            xmin = 0\n            xmax = 0.5\n"
        '            text = ""\n'
        "        intervals [2]:\n            xmin = 0.5\n            xmax = 1.2\n"
        '            text = "hello"\n'
        "        intervals [3]:\n            xmin = 1.2\n            xmax = 2\n"
        '            text = "world"\n'
    )
    short = tmp_path / "short.TextGrid"
    short.write_text(
        '"ooTextFile"\n"TextGrid"\n0\n2\n<exists>\n1\n"IntervalTier"\n"word"\n0\n2\n2\n'
        '0\n1\n"hi"\n1\n2\n"there"\n'
    )
    assert [(w.word, w.start, w.end) for w in load_textgrid_words(long)] == [
        ("hello", 0.5, 1.2),
        ("world", 1.2, 2.0),
    ]
    assert [w.word for w in load_textgrid_words(short)] == ["hi", "there"]
    assert list(read_textgrid(long)) == ["words"]


def test_textgrid_errors_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        read_textgrid(tmp_path / "absent.TextGrid")
    bad = tmp_path / "bad.TextGrid"
    bad.write_text("hello\n")
    with pytest.raises(InputError, match="not a Praat TextGrid"):
        read_textgrid(bad)
    cut = tmp_path / "cut.TextGrid"
    cut.write_text(
        '"ooTextFile"\n"TextGrid"\n0\n2\n<exists>\n1\n"IntervalTier"\n"words"\n0\n2\n5\n'
    )
    with pytest.raises(InputError, match="truncated or malformed"):
        read_textgrid(cut)
    phones = tmp_path / "phones.TextGrid"
    phones.write_text(
        '"ooTextFile"\n"TextGrid"\n0\n1\n<exists>\n1\n"IntervalTier"\n"phones"\n0\n1\n0\n'
    )
    with pytest.raises(InputError, match="no word tier"):
        load_textgrid_words(phones)
