"""Text as the LSTM's input sequence (paper §3.4, "Text to Pose").

Timed words become one input vector per 10 ms step (100 Hz, the audio features' rate): each
word's vector is held over its [start, end) span, and pauses are zeros. Words are encoded without
a vocabulary, so unseen words still encode and equal spellings coincide: the word, wrapped as
``<word>``, is cut into letter 1- to 3-grams plus the whole token, each hashed (BLAKE2b, fixed
across processes and machines) to one of ``dim`` signed slots, and the vector is L2-normalised.

Chinese is first converted to tone-numbered pinyin (pypinyin, with phrase context: 银行行长 →
yin2 hang2 hang2 zhang3), one syllable per character, so characters that sound the same share an
input. The text-driven LSTM is the audio one with ``input_dim`` = :data:`TEXT_DIM`
(:func:`text_to_pose_config`).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from speech2video.errors import InputError
from speech2video.motion.words import Word, normalize_word

if TYPE_CHECKING:
    from speech2video.motion.lstm import LSTMConfig

#: Input vector size of the text-driven LSTM.
TEXT_DIM = 128
#: Steps per second; the audio features use the same 10 ms hop.
STEP_RATE = 100
LANGUAGES = ("en", "zh")
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def is_han(char: str) -> bool:
    """Whether ``char`` is a CJK ideograph (a Chinese character)."""
    return bool(_HAN.fullmatch(char))


def hanzi_to_pinyin(text: str) -> list[str]:
    """One tone-numbered pinyin syllable per Chinese character of ``text`` (others skipped),
    read in phrase context; neutral tone is 5, ü is ``v`` (``女`` → ``nv3``)."""
    from pypinyin import Style, lazy_pinyin

    out: list[str] = []
    for run in re.findall(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+", text):
        syllables = lazy_pinyin(run, style=Style.TONE3, neutral_tone_with_five=True)
        if len(syllables) != len(run):  # a character pypinyin cannot read: one at a time
            syllables = [
                lazy_pinyin(c, style=Style.TONE3, neutral_tone_with_five=True)[0] for c in run
            ]
        out.extend(syllables)
    return out


def word_units(words: Sequence[Word], lang: str) -> list[Word]:
    """The units that get one vector each: English words as they are; for ``zh`` each Chinese
    character becomes its pinyin syllable, a multi-character word's span split evenly."""
    if lang not in LANGUAGES:
        raise InputError(f"unknown text language {lang!r}; choose one of {list(LANGUAGES)}")
    if lang == "en":
        return list(words)
    syllables = iter(hanzi_to_pinyin("".join(w.word for w in words)))
    units: list[Word] = []
    for w in words:
        chars = [c for c in w.word if is_han(c)]
        if not chars:
            units.append(w)
            continue
        step = (w.end - w.start) / len(chars)
        for k in range(len(chars)):
            units.append(
                Word(next(syllables), w.start + k * step, w.start + (k + 1) * step, w.confidence)
            )
    return units


def _slot(feature: str, dim: int) -> tuple[int, float]:
    digest = hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest()
    value = int.from_bytes(digest, "little")
    return (value >> 1) % dim, 1.0 if value & 1 else -1.0


@lru_cache(maxsize=65_536)
def encode_token(token: str, dim: int = TEXT_DIM) -> np.ndarray:
    """One word (or pinyin syllable) → (dim,) float32, unit L2 norm; zeros for an empty token.

    Case and edge punctuation are ignored (``"Huge!"`` encodes as ``"huge"``).
    """
    key = normalize_word(token)
    vec = np.zeros(dim, np.float32)
    if not key:
        return vec
    wrapped = f"<{key}>"
    features = [f"w:{key}"]
    for n in (1, 2, 3):
        features.extend(f"{n}:{wrapped[i : i + n]}" for i in range(len(wrapped) - n + 1))
    for feature in features:
        index, sign = _slot(feature, dim)
        vec[index] += sign
    norm = float(np.linalg.norm(vec))
    if norm > 0:
        vec /= norm
    vec.setflags(write=False)
    return vec


def encode_words(
    words: Sequence[Word], num_steps: int, lang: str = "en", *, dim: int = TEXT_DIM
) -> np.ndarray:
    """Timed words → the per-step input sequence of the text-driven LSTM.

    words: spoken words with times in seconds; num_steps: T, the number of 10 ms steps (match
    the audio features' length for the same clip). Returns (T, dim) float32: step t holds the
    vector of the word whose [start, end) contains t / 100 s (a later word wins on overlap),
    zeros where no word is spoken.
    """
    if num_steps < 0:
        raise InputError(f"num_steps must be >= 0; got {num_steps}")
    out = np.zeros((num_steps, dim), np.float32)
    for unit in word_units(words, lang):
        lo = max(round(unit.start * STEP_RATE), 0)
        hi = min(max(round(unit.end * STEP_RATE), lo + 1), num_steps)
        if lo < hi:
            out[lo:hi] = encode_token(unit.word, dim)
    return out


def text_to_pose_config(**overrides: object) -> LSTMConfig:
    """The LSTM configuration of the text-driven model: the audio model's, with
    ``input_dim`` = :data:`TEXT_DIM` (other fields may be overridden)."""
    from speech2video.motion.lstm import LSTMConfig

    return LSTMConfig(**{"input_dim": TEXT_DIM, "input_rate": float(STEP_RATE), **overrides})
