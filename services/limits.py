"""Bounds every application enforces on its own input, before any work.

A stage is reachable only with the gateway's service token, but it does not trust the gateway to
have checked: each checks seconds, frames, words, text, fps and values itself and answers
INVALID_ARGUMENT with one line naming the field and the limit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from services.pcm import pcm16_samples
from speech2video.audio.io import SAMPLE_RATE, Audio, decode
from speech2video.errors import InputError

#: Encoded audio accepted in one request (120 s of 16-bit 48 kHz stereo WAV is 23 MB).
MAX_AUDIO_BYTES = 32 << 20
MIN_FPS, MAX_FPS = 1.0, 120.0
MAX_WORDS = 2_000
MAX_WORD_CHARS = 64
MAX_TEXT_CHARS = 4_000
MAX_OPTION_WORDS = 100
#: Words of a transcription request's ``align_if_heard`` (a speaker's key words).
MAX_ALIGN_WORDS = 4096
MAX_CHUNK_FRAMES = 250
MAX_LANGUAGE_CHARS = 16


@dataclass(frozen=True)
class Bounds:
    """An application's bounds: seconds of speech or motion (its ``max_audio_seconds``)."""

    max_seconds: float = 120.0

    def max_frames(self, fps: float) -> int:
        """Frames in :attr:`max_seconds` at ``fps``."""
        return math.ceil(self.max_seconds * fps)


def decode_audio(data: bytes, bounds: Bounds) -> Audio:
    """Request audio → 16 kHz mono: size and header checked first, decoding bounded."""
    from services.metrics import count_decode

    count_decode()
    return decode(data, max_seconds=bounds.max_seconds, max_bytes=MAX_AUDIO_BYTES)


def pcm_audio(pcm: Any, bounds: Bounds, field: str = "pcm") -> Audio:
    """A ``PcmAudio`` message → 16 kHz mono :class:`Audio` (no decoding): the rate must be
    16000, the bytes whole 16-bit samples, at most ``bounds.max_seconds`` long."""
    if pcm.sample_rate != SAMPLE_RATE:
        raise InputError(f"{field}.sample_rate must be {SAMPLE_RATE}; got {pcm.sample_rate}")
    if len(pcm.data) % 2:
        raise InputError(f"{field}.data: {len(pcm.data)} bytes is not whole 16-bit samples")
    seconds = len(pcm.data) / 2 / SAMPLE_RATE
    if seconds > bounds.max_seconds:
        raise InputError(f"{field}: {seconds:.1f} s long; the limit is {bounds.max_seconds:g} s")
    if not pcm.data:
        raise InputError(f"{field}.data is empty")
    return Audio(pcm16_samples(pcm.data), SAMPLE_RATE)


def request_audio(encoded: bytes, pcm: Any | None, bounds: Bounds, field: str = "audio") -> Audio:
    """A stage request's speech: ``pcm`` (decoded by the gateway) when set, else the encoded
    ``encoded`` bytes decoded here; InputError when both or neither are given."""
    if pcm is not None and encoded:
        raise InputError(f"set {field} or pcm, not both")
    if pcm is not None:
        return pcm_audio(pcm, bounds)
    if not encoded:
        raise InputError(f"the request needs {field} or pcm")
    return decode_audio(encoded, bounds)


def check_number(value: float, field: str, low: float, high: float) -> float:
    """``value`` if finite and within [low, high], else InputError naming ``field``."""
    if not math.isfinite(value) or not low <= value <= high:
        raise InputError(f"{field} must be between {low:g} and {high:g}; got {value:g}")
    return float(value)


def check_fps(value: float, field: str = "fps", *, optional: bool = False) -> float:
    """A frame rate in [1, 120]; 0 allowed (the speaker's rate) when ``optional``."""
    if optional and value == 0:
        return 0.0
    return check_number(value, field, MIN_FPS, MAX_FPS)


def check_count(count: int, field: str, limit: int) -> None:
    if count > limit:
        raise InputError(f"{field}: {count} given; the limit is {limit}")


def check_text(text: str, field: str, limit: int = MAX_TEXT_CHARS) -> str:
    if len(text) > limit:
        raise InputError(f"{field} has {len(text)} characters; the limit is {limit}")
    if "\x00" in text:
        raise InputError(f"{field} contains a NUL character")
    return text


def check_language(language: str, field: str = "language") -> str:
    check_text(language, field, MAX_LANGUAGE_CHARS)
    if language and not language.replace("-", "").replace("_", "").isalnum():
        raise InputError(f"{field} must be a language code such as en or zh")
    return language


def check_word_list(words: Sequence[str], field: str) -> None:
    """force_words / forbid_words: how many and how long."""
    check_count(len(words), field, MAX_OPTION_WORDS)
    for word in words:
        check_text(word, field, MAX_WORD_CHARS)


def check_timed_words(words: Sequence[object], bounds: Bounds, field: str = "words") -> None:
    """Words (``common.Word``): at most :data:`MAX_WORDS`, short, finite times within
    [0, max_seconds], start <= end."""
    check_count(len(words), field, MAX_WORDS)
    for i, w in enumerate(words):
        text = str(getattr(w, "word", ""))
        check_text(text, f"{field}[{i}].word", MAX_WORD_CHARS)
        start = float(getattr(w, "start", 0.0))
        end = float(getattr(w, "end", 0.0))
        check_number(start, f"{field}[{i}].start", 0.0, bounds.max_seconds)
        check_number(end, f"{field}[{i}].end", start, bounds.max_seconds)
        confidence = float(getattr(w, "confidence", 0.0))
        check_number(confidence, f"{field}[{i}].confidence", 0.0, 1.0)


def check_chunk_frames(value: int, field: str) -> int:
    check_count(int(value), field, MAX_CHUNK_FRAMES)
    return int(value)
