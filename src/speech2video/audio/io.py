"""Reading audio of any common type, rate and channel count into 16 kHz mono float32.

WAV, FLAC and OGG are read with soundfile; anything else (mp3, m4a, mp4/mkv/webm audio tracks)
with PyAV. The header is checked before decoding and decoding is bounded (see :func:`decode`):
a small file that claims or holds hours of many-channel audio costs almost nothing to refuse.
Resampling is polyphase (exact rational ratio), so a 48 kHz or 44.1 kHz file gives the same
samples on every run.
"""

from __future__ import annotations

import io
import itertools
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
#: Most channels accepted (the mono mix is made block by block).
MAX_CHANNELS = 8
#: Frames per block read from a file (per channel).
_BLOCK_FRAMES = 1 << 15


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


@dataclass(frozen=True)
class AudioInfo:
    """What a container's header says, read without decoding any audio.

    frames: samples per channel, None when the header does not say."""

    rate: int
    channels: int
    frames: int | None

    @property
    def duration(self) -> float | None:
        return None if self.frames is None or self.rate <= 0 else self.frames / self.rate


class _TooLongError(Exception):
    """Decoding passed the limit (the header said less, or nothing)."""


def _probe_soundfile(source: Path | io.BytesIO) -> AudioInfo | None:
    import soundfile

    try:
        info = soundfile.info(source)
    except (soundfile.LibsndfileError, RuntimeError, TypeError):
        return None
    frames = int(info.frames)
    known = 0 < frames < (1 << 62)  # libsndfile says 0 or SF_COUNT_MAX when it does not know
    return AudioInfo(int(info.samplerate), int(info.channels), frames if known else None)


def _read_soundfile(source: Path | io.BytesIO, limit: int | None) -> np.ndarray:
    """Mono float32 at the file's rate, block by block; _TooLongError once past ``limit`` frames."""
    import soundfile

    parts: list[np.ndarray] = []
    total = 0
    with soundfile.SoundFile(source) as f:
        for block in f.blocks(blocksize=_BLOCK_FRAMES, dtype="float32", always_2d=True):
            mono = block.mean(axis=1, dtype=np.float32)
            total += mono.size
            if limit is not None and total > limit:
                raise _TooLongError
            parts.append(mono)
    return np.concatenate(parts) if parts else np.zeros(0, np.float32)


def _probe_av(source: Path | io.BytesIO) -> AudioInfo | None:
    import av

    try:
        with av.open(source if isinstance(source, io.BytesIO) else str(source)) as container:
            streams = container.streams.audio
            if not streams:
                raise AudioError("the file has no audio stream")
            stream = streams[0]
            rate = int(stream.rate or 0)
            seconds = None
            if stream.duration is not None and stream.time_base is not None:
                seconds = float(stream.duration * stream.time_base)
            elif container.duration is not None:
                seconds = container.duration / 1_000_000  # AV_TIME_BASE
            frames = round(seconds * rate) if seconds and rate else None
            return AudioInfo(rate, int(stream.channels or 0), frames)
    except AudioError:
        raise
    except (av.error.FFmpegError, ValueError, OSError, ZeroDivisionError):
        return None


def _read_av(source: Path | io.BytesIO, limit: int | None) -> np.ndarray | None:
    """Mono float32 at the stream's rate, frame by frame; _TooLongError once past ``limit``."""
    import av

    parts: list[np.ndarray] = []
    total = 0
    try:
        with av.open(source if isinstance(source, io.BytesIO) else str(source)) as container:
            stream = container.streams.audio[0]
            resampler = av.AudioResampler(format="flt", layout="mono", rate=stream.rate)
            for frame in itertools.chain(container.decode(stream), [None]):
                for out in resampler.resample(frame):
                    mono = out.to_ndarray().reshape(-1)
                    total += mono.size
                    if limit is not None and total > limit:
                        raise _TooLongError
                    parts.append(mono)
    except (av.error.FFmpegError, ValueError, OSError):
        return None
    return np.concatenate(parts) if parts else np.zeros(0, np.float32)


def probe(source: str | Path | bytes) -> AudioInfo:
    """Rate, channels and length from the container's header, without decoding the audio;
    :class:`AudioError` when no reader recognises it."""
    if isinstance(source, bytes | bytearray):
        info = _probe_soundfile(io.BytesIO(bytes(source))) or _probe_av(io.BytesIO(bytes(source)))
    else:
        info = _probe_soundfile(Path(source)) or _probe_av(Path(source))
    if info is None:
        raise AudioError("audio could not be decoded as audio")
    return info


def decode(
    source: str | Path | bytes,
    *,
    target_rate: int = SAMPLE_RATE,
    max_seconds: float | None = DEFAULT_MAX_SECONDS,
    min_rate: int = MIN_INPUT_RATE,
    max_rate: int = MAX_INPUT_RATE,
    max_channels: int = MAX_CHANNELS,
    max_bytes: int | None = None,
) -> Audio:
    """Decode a file path or encoded bytes to mono audio at ``target_rate``.

    Limits come before work: the encoded size (``max_bytes``), then the container's header
    (rate, channels, length) is checked before anything is decoded, and decoding keeps only the
    mono mix, block by block, stopping as soon as it passes ``max_seconds`` (a header may lie
    or not say). Memory stays near the mono audio at the input rate, whatever the header.

    Raises :class:`AudioError` naming the problem for a missing file, undecodable bytes, zero
    length, a rate outside ``[min_rate, max_rate]``, too many channels, too many bytes or audio
    longer than ``max_seconds``.
    """
    if isinstance(source, bytes | bytearray):
        if not source:
            raise AudioError("audio is empty (0 bytes)")
        size = len(source)
        make = lambda: io.BytesIO(bytes(source))  # noqa: E731
        label = "audio bytes"
    else:
        path = Path(source)
        if not path.is_file():
            raise AudioError(f"audio file not found: {path}")
        size = path.stat().st_size
        make = lambda: path  # noqa: E731
        label = f"audio file {path.name}"
    if max_bytes is not None and size > max_bytes:
        raise AudioError(f"{label} is {size} bytes; the limit is {max_bytes} bytes")
    reader = _read_soundfile
    info = _probe_soundfile(make())
    if info is None:
        reader, info = _read_av, _probe_av(make())  # type: ignore[assignment]
    if info is None:
        raise AudioError(f"{label} could not be decoded as audio")
    rate = info.rate
    if rate < min_rate or rate > max_rate:
        raise AudioError(f"{label} has sample rate {rate} Hz; accepted {min_rate}-{max_rate} Hz")
    if info.channels < 1 or info.channels > max_channels:
        raise AudioError(f"{label} has {info.channels} channels; the limit is {max_channels}")
    seconds = info.duration
    if max_seconds is not None and seconds is not None and seconds > max_seconds + 0.05:
        raise AudioError(f"{label} is {seconds:.1f} s long; the limit is {max_seconds:.0f} s")
    limit = None if max_seconds is None else int(max_seconds * rate) + 1
    try:
        mono = reader(make(), limit)
    except _TooLongError:
        raise AudioError(
            f"{label} is longer than {max_seconds:.0f} s; the limit is {max_seconds:.0f} s"
        ) from None
    if mono is None:
        raise AudioError(f"{label} could not be decoded as audio")
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
