"""The demo speaker's voice: TTS speech padded with quiet lead-in and tail, word times shifted.

espeak-ng carries state from call to call (the same text comes out a few samples longer or
shorter each time), so within one process each (text, rate, noise, seed) is synthesized once
and reused: generating the same speaker twice in a process gives identical audio, and a fresh
process making the same calls in the same order gets the same audio too.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from speech2video.audio.io import Audio
from speech2video.motion.words import Word


@dataclass(frozen=True)
class Speech:
    """One recording's sound and words.

    audio: 16 kHz mono, lead-in and tail included; words: times in seconds from the audio's start
    speech_start, speech_end: where the TTS speech lies in ``audio``, seconds
    """

    text: str
    audio: Audio
    words: tuple[Word, ...]
    speech_start: float
    speech_end: float


@functools.lru_cache(maxsize=512)
def _synthesize(text: str, words_per_minute: int, seed: int) -> tuple[np.ndarray, tuple[Word, ...]]:
    from speech2video.audio.tts import synthesize

    result = synthesize(text, "en", words_per_minute=words_per_minute, noise_level=0.0, seed=seed)
    samples = result.audio.samples.astype(np.float32)
    samples.flags.writeable = False
    return samples, tuple(result.words)


def speak(
    text: str,
    words_per_minute: int,
    lead_s: float,
    tail_s: float,
    noise_level: float,
    seed: int,
) -> Speech:
    """Speak ``text`` with ``lead_s`` / ``tail_s`` seconds of quiet around it.

    The whole recording (speech and pads) carries white noise of RMS ``noise_level`` (the TTS
    noise of paper §4.2, here also the room tone of a recording), seeded by ``seed``.
    """
    clean, words = _synthesize(text, int(words_per_minute), int(seed))
    rate = 16_000
    lead, tail = round(lead_s * rate), round(tail_s * rate)
    samples = np.concatenate([np.zeros(lead, np.float32), clean, np.zeros(tail, np.float32)])
    if noise_level > 0:
        rng = np.random.default_rng(seed)
        samples = samples + rng.standard_normal(samples.size).astype(np.float32) * noise_level
    samples = np.clip(samples, -1.0, 1.0).astype(np.float32)
    offset = lead / rate
    shifted = tuple(Word(w.word, w.start + offset, w.end + offset, w.confidence) for w in words)
    return Speech(text, Audio(samples, rate), shifted, offset, offset + clean.size / rate)
