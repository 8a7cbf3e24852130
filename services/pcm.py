"""16-bit little-endian PCM, the one convention of every path: a sample ``x`` in [-1, 1] is
``round(x · 32768)`` clipped to the int16 range, and back ``i / 32768`` (what audio decoders give),
so a 16-bit source round-trips exactly."""

from __future__ import annotations

import numpy as np

#: 16-bit full scale.
PCM_SCALE = 32768.0


def pcm16_bytes(samples: np.ndarray) -> bytes:
    """(n,) float samples in [-1, 1] → 2·n bytes of 16-bit little-endian PCM."""
    scaled = np.rint(np.asarray(samples, np.float64) * PCM_SCALE)
    return np.clip(scaled, -32768, 32767).astype("<i2").tobytes()


def pcm16_samples(data: bytes) -> np.ndarray:
    """16-bit little-endian PCM (an even number of bytes) → (n,) float32 in [-1, 1)."""
    return np.frombuffer(data, "<i2").astype(np.float32) / PCM_SCALE
