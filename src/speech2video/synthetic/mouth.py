"""The demo speaker's mouth as a deterministic function of its speech audio (plus small noise).

Per 10 ms step: the loudness (RMS over 25 ms, in dB relative to the utterance's loud frames),
the spectral centroid (200 Hz - 4 kHz: high for "ee", low for "oo") and the share of energy
above 4 kHz (fricatives: "s", "f"). Per video frame (averaged over the frame's span, read
``lead_s`` ahead, since the mouth moves before the sound): jaw opening (rotation about x)
follows the loudness; mouth width and pucker follow the centroid; the upper lip rises with the
fricative share; the lower lip drops with the opening.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from speech2video.audio.io import Audio
from speech2video.errors import InputError

HOP_S = 0.01
WINDOW = 400
#: Expression components the mouth drives (body/face_landmarks.EXPRESSION_NAMES).
MOUTH_WIDE, PUCKER, UPPER_LIP_RAISE, LOWER_LIP_DROP = 1, 2, 6, 7
LIP_COMPONENTS: tuple[int, ...] = (MOUTH_WIDE, PUCKER, UPPER_LIP_RAISE, LOWER_LIP_DROP)
#: Jaw angle (radians about x) when closed, and its range when fully open.
JAW_CLOSED, JAW_RANGE = 0.015, 0.28
#: Loudness window mapped to the opening 0..1: dB below the utterance's loud level.
_DB_SPAN, _DB_FLOOR = 26.0, 28.0


@dataclass(frozen=True)
class AudioTracks:
    """Frame-rate speech descriptors.

    opening: (T,) float32 in [0, 1] — loudness-driven mouth opening
    centroid: (T,) float32 — spectral centroid, standardised over the speech frames
    fricative: (T,) float32 in [0, 1] — share of energy above 4 kHz
    """

    opening: np.ndarray
    centroid: np.ndarray
    fricative: np.ndarray


def _frames(samples: np.ndarray, rate: int) -> np.ndarray:
    hop = round(HOP_S * rate)
    n = max(1, int(np.ceil(samples.size / hop)))
    padded = np.concatenate([samples, np.zeros(n * hop + WINDOW, np.float32)])
    idx = np.arange(n)[:, None] * hop + np.arange(WINDOW)[None, :]
    return padded[idx]


def _to_frames(track: np.ndarray, num_frames: int, fps: float, lead_s: float) -> np.ndarray:
    """Average a 100 Hz track over each video frame's span, read ``lead_s`` ahead."""
    cum = np.concatenate([[0.0], np.cumsum(track, dtype=np.float64)])
    starts = (np.arange(num_frames) / fps + lead_s - 0.5 / fps) / HOP_S
    ends = starts + 1.0 / (fps * HOP_S)
    grid = np.arange(cum.size)
    a = np.interp(np.clip(starts, 0, track.size), grid, cum)
    b = np.interp(np.clip(ends, 0, track.size), grid, cum)
    width = np.maximum(np.clip(ends, 0, track.size) - np.clip(starts, 0, track.size), 1e-9)
    return ((b - a) / width).astype(np.float32)


def audio_tracks(audio: Audio, num_frames: int, fps: float, lead_s: float) -> AudioTracks:
    """Speech descriptors at the video rate.

    audio: mono samples (N,); returns tracks of length ``num_frames`` (frame i at i / fps)
    """
    if audio.samples.ndim != 1 or audio.samples.size == 0:
        raise InputError("speech audio must be non-empty mono samples (N,)")
    if num_frames < 1:
        raise InputError(f"num_frames must be >= 1; got {num_frames}")
    frames = _frames(audio.samples.astype(np.float32), audio.rate)
    window = np.hanning(WINDOW).astype(np.float32)
    power = np.abs(np.fft.rfft(frames * window, n=512, axis=1)) ** 2
    freqs = np.fft.rfftfreq(512, 1.0 / audio.rate)
    energy = np.mean(frames**2, axis=1)
    db = 10.0 * np.log10(energy + 1e-10)
    loud = float(np.percentile(db, 95))
    opening = np.clip((db - (loud - _DB_FLOOR)) / _DB_SPAN, 0.0, 1.0)
    kernel = np.exp(-0.5 * (np.arange(-4, 5) / 2.0) ** 2)
    opening = np.convolve(opening, kernel / kernel.sum(), mode="same")
    band = (freqs >= 200) & (freqs <= 4000)
    centroid = (power[:, band] @ freqs[band]) / (power[:, band].sum(axis=1) + 1e-12)
    high = power[:, freqs > 4000].sum(axis=1)
    fricative = high / (power[:, freqs >= 100].sum(axis=1) + 1e-12)
    speech = opening > 0.2
    if np.count_nonzero(speech) >= 2:
        mu, sd = centroid[speech].mean(), centroid[speech].std() + 1e-6
    else:
        mu, sd = float(centroid.mean()), float(centroid.std() + 1e-6)
    z = np.where(speech, (centroid - mu) / sd, 0.0)
    fric = np.where(db > loud - 25.0, fricative, 0.0)
    return AudioTracks(
        _to_frames(opening, num_frames, fps, lead_s),
        _to_frames(z, num_frames, fps, lead_s),
        np.clip(_to_frames(fric, num_frames, fps, lead_s), 0.0, 1.0),
    )


@dataclass(frozen=True)
class MouthMotion:
    """jaw: (T, 3) float32 axis-angle; lips: (T, 4) float32 — coefficients of the expression
    components in :data:`LIP_COMPONENTS` order."""

    jaw: np.ndarray
    lips: np.ndarray


def mouth_motion(tracks: AudioTracks, rng: np.random.Generator) -> MouthMotion:
    """Jaw and lip shapes from the speech descriptors, with small seeded noise."""
    t = tracks.opening.shape[0]
    opening = tracks.opening
    jaw = np.zeros((t, 3), np.float32)
    jaw[:, 0] = JAW_CLOSED + JAW_RANGE * opening + rng.normal(0.0, 0.006, t) * (opening > 0.05)
    jaw[:, 0] = np.maximum(jaw[:, 0], 0.0)
    c = np.clip(tracks.centroid, -2.5, 2.5)
    lips = np.zeros((t, 4), np.float32)
    lips[:, 0] = np.clip(0.6 * c, -1.0, 1.5) * opening  # mouth_wide
    lips[:, 1] = np.clip(-0.7 * c, 0.0, 1.5) * opening  # pucker
    lips[:, 2] = 2.5 * tracks.fricative  # upper lip raise
    lips[:, 3] = 0.8 * opening  # lower lip drop
    lips += rng.normal(0.0, 0.02, lips.shape).astype(np.float32) * (opening[:, None] > 0.05)
    return MouthMotion(jaw.astype(np.float32), lips.astype(np.float32))
