"""Reading audio of any common type, rate and channel count into 16 kHz mono float32.

WAV, FLAC and OGG are read with soundfile; anything else (mp3, m4a, mp4/mkv/webm audio tracks)
with PyAV. Resampling is polyphase (exact rational ratio), so a 48 kHz or 44.1 kHz file gives the
same samples on every run.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from speech2video.errors import InputError

SAMPLE_RATE = 16_000
#: Input rates accepted by default (Hz); anything else is refused with a clear message.
MIN_INPUT_RATE = 8_000
MAX_INPUT_RATE = 48_000
#: Default longest accepted audio, seconds.
DEFAULT_MAX_SECONDS = 600.0


class AudioError(InputError):
    """Audio that cannot be used: undecodable, empty, too long, or an unsupported rate."""


@dataclass(frozen=True)
class Audio:
    """Mono audio.

    samples: (N,) float32 in [-1, 1]; rate: Hz
    """

    samples: np.ndarray
    rate: int

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.samples.shape[0] / float(self.rate)


def to_mono(samples: np.ndarray) -> np.ndarray:
    """samples: (N,) or (N, C) → (N,) float32, the mean over channels."""
    arr = np.asarray(samples, dtype=np.float32)
    if arr.ndim == 2:
        arr = arr.mean(axis=1)
    elif arr.ndim != 1:
        raise AudioError(f"audio samples must be (N,) or (N, channels); got shape {arr.shape}")
    return arr


def resample(samples: np.ndarray, rate: int, target: int = SAMPLE_RATE) -> np.ndarray:
    """samples: (N,) at ``rate`` → (round(N * target / rate),) float32 at ``target``."""
    if rate == target:
        return np.asarray(samples, np.float32)
    from scipy.signal import resample_poly

    ratio = Fraction(target, rate)
    return resample_poly(samples, ratio.numerator, ratio.denominator).astype(np.float32)


def _decode_soundfile(source: Path | io.BytesIO) -> tuple[np.ndarray, int] | None:
    import soundfile

    try:
        data, rate = soundfile.read(source, dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, TypeError):
        return None
    return data, int(rate)


def _decode_av(source: Path | io.BytesIO) -> tuple[np.ndarray, int] | None:
    import av

    try:
        with av.open(source if isinstance(source, io.BytesIO) else str(source)) as container:
            streams = container.streams.audio
            if not streams:
                raise AudioError("the file has no audio stream")
            stream = streams[0]
            resampler = av.AudioResampler(format="flt", layout="mono", rate=stream.rate)
            chunks = []
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().reshape(-1))
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1))
            rate = int(stream.rate)
    except AudioError:
        raise
    except (av.error.FFmpegError, ValueError, OSError):
        return None
    data = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    return data.reshape(-1, 1), rate


def decode(
    source: str | Path | bytes,
    *,
    target_rate: int = SAMPLE_RATE,
    max_seconds: float | None = DEFAULT_MAX_SECONDS,
    min_rate: int = MIN_INPUT_RATE,
    max_rate: int = MAX_INPUT_RATE,
) -> Audio:
    """Decode a file path or encoded bytes to mono audio at ``target_rate``.

    Raises :class:`AudioError` naming the problem for a missing file, undecodable bytes, zero
    length, a rate outside ``[min_rate, max_rate]`` or audio longer than ``max_seconds``.
    """
    if isinstance(source, bytes | bytearray):
        if not source:
            raise AudioError("audio is empty (0 bytes)")
        make = lambda: io.BytesIO(bytes(source))  # noqa: E731
        label = "audio bytes"
    else:
        path = Path(source)
        if not path.is_file():
            raise AudioError(f"audio file not found: {path}")
        make = lambda: path  # noqa: E731
        label = f"audio file {path.name}"
    decoded = _decode_soundfile(make()) or _decode_av(make())
    if decoded is None:
        raise AudioError(f"{label} could not be decoded as audio")
    data, rate = decoded
    if rate < min_rate or rate > max_rate:
        raise AudioError(f"{label} has sample rate {rate} Hz; accepted {min_rate}-{max_rate} Hz")
    mono = to_mono(data)
    if mono.size == 0:
        raise AudioError(f"{label} has zero length")
    seconds = mono.size / rate
    if max_seconds is not None and seconds > max_seconds:
        raise AudioError(f"{label} is {seconds:.1f} s long; the limit is {max_seconds:.0f} s")
    return Audio(resample(mono, rate, target_rate), target_rate)


def write_wav(path: str | Path, audio: Audio) -> None:
    """Write 16-bit PCM WAV."""
    import soundfile

    soundfile.write(str(path), np.clip(audio.samples, -1.0, 1.0), audio.rate, subtype="PCM_16")
