"""The paper's 28-D audio features at 100 Hz (§3.4), whole-signal and streaming.

Per 10 ms step ``t`` (frame ``t`` covers samples ``[160 t, 160 t + 400)`` of the 16 kHz signal,
the end padded with zeros, so ``T = ceil(N / 160)``)::

    [ 0:13]  MFCC: Hann window (periodic, 400), |rfft|^2 (201 bins), 40 triangular mel filters
             (Slaney scale and area norm, as ``librosa.filters.mel``), natural log, DCT-II ortho
    [13]     log mean volume: log of the frame's mean energy, mean(x^2) over its 400 samples
    [14:28]  first-order differences of [0:14]: row t minus row t-1 (zeros for t = 0)

Before framing, the whole signal is scaled by one RMS gain (``TARGET_RMS / rms``; 1 when the
signal is near-silent), so the features do not depend on the recording's volume. A stream uses
the same arithmetic frame by frame: :class:`StreamingFeatureExtractor` given the whole-file gain
emits the same rows as :func:`compute_features`.

Only numpy and scipy run here: no librosa/numba on the hot path.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from speech2video.errors import InputError

SAMPLE_RATE = 16_000
#: 25 ms analysis window, samples.
WINDOW = 400
#: 10 ms step, samples.
HOP = 160
#: rfft length (= the window, no zero padding).
N_FFT = 400
N_MELS = 40
N_MFCC = 13
#: 13 MFCC + log mean volume.
STATIC_DIM = N_MFCC + 1
#: Static features and their first-order differences.
FEATURE_DIM = 2 * STATIC_DIM
#: Feature rows per second.
FEATURE_RATE = SAMPLE_RATE / HOP
#: RMS the signal is normalised to (-20 dBFS).
TARGET_RMS = 0.1
#: Below this RMS the signal counts as silent and is not amplified.
SILENCE_RMS = 1e-4
#: Floor added before each logarithm, so silence gives finite features.
LOG_FLOOR = 1e-10


def rms_gain(samples: np.ndarray, target_rms: float = TARGET_RMS) -> float:
    """Gain that brings the whole signal to ``target_rms``; 1.0 for a near-silent signal.

    samples: (N,) float — mono audio in [-1, 1]
    """
    x = _check_samples(samples)
    if x.size == 0:
        return 1.0
    rms = float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))
    if not math.isfinite(rms) or rms < SILENCE_RMS:
        return 1.0
    return target_rms / rms


def compute_features(
    samples: np.ndarray, rate: int = SAMPLE_RATE, gain: float | None = None
) -> np.ndarray:
    """The 28-D features of a whole signal.

    samples: (N,) float — 16 kHz mono audio (``audio.io.decode`` gives that)
    gain: RMS gain to apply; ``None`` computes it from the signal itself (:func:`rms_gain`)
    returns: (ceil(N / 160), 28) float32
    """
    _check_rate(rate)
    x = _check_samples(samples)
    if x.size == 0:
        raise InputError("audio samples are empty (0 samples); need at least one")
    g = rms_gain(x) if gain is None else _check_gain(gain)
    stream = StreamingFeatureExtractor(g, rate)
    head = stream.push(x)
    tail = stream.flush()
    return np.concatenate([head, tail]) if head.size else tail


class StreamingFeatureExtractor:
    """Features of audio that arrives in chunks of any size.

    ``push(chunk)`` returns the rows whose 400-sample frame is complete; ``flush()`` pads the end
    with zeros and returns the rest. Over a whole stream the rows equal
    ``compute_features(all_samples, gain=gain)``. Row ``t`` is ready once ``160 t + 400``
    samples have arrived (15 ms after its hop starts).
    """

    def __init__(self, gain: float = 1.0, rate: int = SAMPLE_RATE) -> None:
        _check_rate(rate)
        self.gain = _check_gain(gain)
        self._reset()

    def _reset(self) -> None:
        self._buffer = np.zeros(0, np.float32)
        self._previous: np.ndarray | None = None
        self._samples_seen = 0
        self._rows_emitted = 0

    @property
    def rows_emitted(self) -> int:
        """Feature rows returned so far."""
        return self._rows_emitted

    def push(self, chunk: np.ndarray) -> np.ndarray:
        """chunk: (n,) float audio → (k, 28) float32 rows that became final (k may be 0)."""
        x = _check_samples(chunk, "audio chunk")
        self._samples_seen += x.size
        self._buffer = np.concatenate([self._buffer, x * np.float32(self.gain)])
        if self._buffer.size < WINDOW:
            return np.zeros((0, FEATURE_DIM), np.float32)
        count = (self._buffer.size - WINDOW) // HOP + 1
        return self._emit(self._buffer, count)

    def flush(self) -> np.ndarray:
        """Zero-pad the end and return the remaining rows, (k, 28) float32; then reset."""
        total = -(-self._samples_seen // HOP)
        count = total - self._rows_emitted
        rows = np.zeros((0, FEATURE_DIM), np.float32)
        if count > 0:
            need = (count - 1) * HOP + WINDOW
            padded = np.zeros(max(need, self._buffer.size), np.float32)
            padded[: self._buffer.size] = self._buffer
            rows = self._emit(padded, count)
        self._reset()
        return rows

    def _emit(self, buffer: np.ndarray, count: int) -> np.ndarray:
        frames = np.lib.stride_tricks.sliding_window_view(buffer, WINDOW)[: count * HOP : HOP]
        static = _static64(frames)
        previous = static[:1] if self._previous is None else self._previous
        deltas = np.diff(static, axis=0, prepend=previous)
        self._previous = static[-1:].copy()
        self._buffer = buffer[count * HOP :].copy()
        self._rows_emitted += count
        return np.concatenate([static, deltas], axis=1).astype(np.float32)


def mel_power(frames: np.ndarray) -> np.ndarray:
    """Mel power spectrum: Hann window, |rfft|^2, 40 triangular filters.

    frames: (T, 400) float → (T, 40) float32
    """
    return _mel_power64(np.asarray(frames, np.float32)).astype(np.float32)


def _mel_power64(frames: np.ndarray) -> np.ndarray:
    # Every step works row by row (FFT per row, element-wise power, a sparse filter product that
    # sums each output in a fixed order): a row never depends on how many frames share the call,
    # so streamed and whole-signal features are equal, and no BLAS thread pool is involved.
    import scipy.fft

    bank = _filterbank()
    spectrum = scipy.fft.rfft(frames * bank.window32, n=N_FFT, axis=1)
    power = np.square(spectrum.real) + np.square(spectrum.imag)
    return (bank.mel @ power.T.astype(np.float64)).T


def _static64(frames: np.ndarray) -> np.ndarray:
    import scipy.fft

    log_mel = np.log(_mel_power64(frames) + LOG_FLOOR)
    mfcc = scipy.fft.dct(log_mel, type=2, norm="ortho", axis=1)[:, :N_MFCC]
    energy = np.einsum("ij,ij->i", frames, frames).astype(np.float64) / WINDOW
    volume = np.log(energy + LOG_FLOOR)
    return np.concatenate([mfcc, volume[:, None]], axis=1)


@dataclass(frozen=True)
class _FilterBank:
    """window32: (400,) float32 periodic Hann; mel: (40, 201) float64 sparse (CSR) filters."""

    window32: np.ndarray
    mel: object


@lru_cache(maxsize=1)
def _filterbank() -> _FilterBank:
    import scipy.sparse

    n = np.arange(WINDOW)
    window = (0.5 - 0.5 * np.cos(2.0 * np.pi * n / WINDOW)).astype(np.float32)
    return _FilterBank(window, scipy.sparse.csr_array(mel_filters()))


def mel_filters(
    rate: int = SAMPLE_RATE, n_fft: int = N_FFT, n_mels: int = N_MELS, fmax: float | None = None
) -> np.ndarray:
    """Triangular mel filters on the Slaney scale with area normalisation (librosa's default).

    returns: (n_mels, n_fft // 2 + 1) float64
    """
    fmax = rate / 2.0 if fmax is None else fmax
    fft_freqs = np.linspace(0.0, rate / 2.0, n_fft // 2 + 1)
    mel_points = np.linspace(_hz_to_mel(0.0), _hz_to_mel(fmax), n_mels + 2)
    hz = _mel_to_hz(mel_points)
    widths = np.diff(hz)
    ramps = hz[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (hz[2:] - hz[:-2]))[:, None]
    return weights


_F_SP = 200.0 / 3.0
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP
_LOG_STEP = math.log(6.4) / 27.0


def _hz_to_mel(hz: float) -> float:
    if hz >= _MIN_LOG_HZ:
        return _MIN_LOG_MEL + math.log(hz / _MIN_LOG_HZ) / _LOG_STEP
    return hz / _F_SP


def _mel_to_hz(mels: np.ndarray) -> np.ndarray:
    linear = _F_SP * mels
    log = _MIN_LOG_HZ * np.exp(_LOG_STEP * (mels - _MIN_LOG_MEL))
    return np.where(mels >= _MIN_LOG_MEL, log, linear)


def _check_samples(samples: np.ndarray, name: str = "audio samples") -> np.ndarray:
    arr = np.asarray(samples)
    if arr.ndim != 1:
        raise InputError(f"{name} must be mono with shape (N,); got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.number):
        raise InputError(f"{name} must be numeric; got dtype {arr.dtype}")
    arr = arr.astype(np.float32, copy=False)
    if not np.all(np.isfinite(arr)):
        raise InputError(f"{name} contain NaN or infinite values")
    return arr


def _check_rate(rate: int) -> None:
    if rate != SAMPLE_RATE:
        raise InputError(
            f"audio rate must be {SAMPLE_RATE} Hz for features; got {rate} Hz "
            "(audio.io.decode resamples)"
        )


def _check_gain(gain: float) -> float:
    g = float(gain)
    if not math.isfinite(g) or g <= 0.0:
        raise InputError(f"gain must be a positive finite number; got {gain}")
    return g
