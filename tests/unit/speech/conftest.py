"""Speech recordings the project makes itself (espeak-ng), shared by the speech tests."""

from __future__ import annotations

import pytest

from speech2video.audio.tts import Synthesis, synthesize

SENTENCE = "The quick brown fox jumps over the lazy dog near the river bank."


@pytest.fixture(scope="session")
def spoken_sentence() -> Synthesis:
    """About 4 s of English TTS with its exact word times (a little noise, as in the paper)."""
    return synthesize(SENTENCE, words_per_minute=150)
