"""Audio of a live stream: bytes as they arrive → 16 kHz mono samples as soon as they are known.

Two encodings (``live.proto`` ``LiveAudioFormat``): raw 16-bit little-endian mono PCM at a stated
rate, resampled to 16 kHz incrementally (the same polyphase filter as whole-file decoding, run
on overlapping spans, so the samples equal ``resample`` of the whole signal up to float
rounding); or an encoded recording in pieces, decoded as far as it has arrived (a WAV decodes
from its first bytes; containers that need their end, such as Ogg, decode once complete).
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from services.limits import MAX_AUDIO_BYTES
from services.pcm import pcm16_samples
from speech2video.audio.features import SAMPLE_RATE
from speech2video.audio.io import AudioError, decode
from speech2video.errors import InputError

PCM, CONTAINER = 1, 2  # LiveAudioFormat.Encoding values
MIN_RATE, MAX_RATE = 8_000, 48_000
#: An encoded stream is decoded again once this many new bytes have come (and at its end).
DECODE_EVERY_BYTES = 8 << 10
#: Decoded samples held back from the end of a partly arrived recording (its last block may
#: still change), seconds.
DECODE_MARGIN_S = 0.05


class Resampler:
    """Stateful ``rate`` → 16 kHz: push (n,) float32 samples, get the 16 kHz samples now known."""

    def __init__(self, rate: int) -> None:
        ratio = Fraction(SAMPLE_RATE, rate)
        self.up, self.down = ratio.numerator, ratio.denominator
        half = 12 * max(self.up, self.down) / self.up  # > the filter's half length, input samples
        self.pad = self.down * math.ceil(max(64.0, half) / self.down)
        self._buf = np.zeros(0, np.float32)
        self._start = 0  # input index of _buf[0] (a multiple of down)
        self._total = 0  # input samples pushed
        self._done = 0  # output samples returned

    def push(self, samples: np.ndarray) -> np.ndarray:
        """samples: (n,) float32 at the input rate → (m,) float32 at 16 kHz."""
        self._buf = np.concatenate([self._buf, np.asarray(samples, np.float32)])
        self._total += len(samples)
        if self.up == self.down:
            return self._take_all()
        return self._emit(((self._total - self.pad) * self.up) // self.down, end=False)

    def flush(self) -> np.ndarray:
        """The rest: (m,) float32, the stream's 16 kHz length ``round(n × 16000 / rate)``."""
        if self.up == self.down:
            return self._take_all()
        return self._emit(round(self._total * self.up / self.down), end=True)

    def _take_all(self) -> np.ndarray:
        out, self._buf = self._buf, np.zeros(0, np.float32)
        self._done += len(out)
        return out

    def _emit(self, upto: int, end: bool) -> np.ndarray:
        from scipy.signal import resample_poly

        if upto <= self._done:
            return np.zeros(0, np.float32)
        # input span from an aligned start with `pad` samples of context before the first output
        a0 = max(0, ((self._done * self.down // self.up - self.pad) // self.down) * self.down)
        a0 = max(a0, self._start)
        span = self._buf[a0 - self._start :]
        y = resample_poly(span, self.up, self.down).astype(np.float32)
        offset = a0 * self.up // self.down
        out = y[self._done - offset : upto - offset]
        self._done += len(out)
        keep = ((self._done * self.down // self.up - self.pad) // self.down) * self.down
        if keep > self._start:
            self._buf = self._buf[keep - self._start :]
            self._start = keep
        return out


class LiveAudioInput:
    """Bytes of a live stream in, 16 kHz float32 samples out; bounded by ``max_seconds``."""

    def __init__(self, encoding: int, sample_rate: int, max_seconds: float) -> None:
        if encoding not in (PCM, CONTAINER):
            raise InputError(
                "config.audio_format.encoding must be ENCODING_PCM_S16LE or ENCODING_CONTAINER"
            )
        if encoding == PCM and not MIN_RATE <= sample_rate <= MAX_RATE:
            raise InputError(
                f"config.audio_format.sample_rate must be {MIN_RATE}-{MAX_RATE} Hz for PCM; "
                f"got {sample_rate}"
            )
        self.encoding = encoding
        self.max_seconds = max_seconds
        self.samples_out = 0  # 16 kHz samples returned
        self._resampler = Resampler(sample_rate) if encoding == PCM else None
        self._rate = sample_rate
        self._carry = b""
        self._encoded = bytearray()
        self._decoded_at = 0

    @property
    def seconds(self) -> float:
        """Seconds of audio returned so far."""
        return self.samples_out / SAMPLE_RATE

    def push(self, data: bytes) -> np.ndarray:
        """The next bytes → (n,) float32 16 kHz samples now known (maybe none)."""
        if self._resampler is not None:
            data = self._carry + data
            even = len(data) - len(data) % 2
            self._carry = data[even:]
            raw = pcm16_samples(data[:even])
            if (self._resampler._total + len(raw)) / self._rate > self.max_seconds:
                raise InputError(
                    f"audio: the stream is longer than the limit, {self.max_seconds:g} s"
                )
            return self._out(self._resampler.push(raw))
        self._encoded += data
        if len(self._encoded) > MAX_AUDIO_BYTES:
            raise InputError(f"audio: more than {MAX_AUDIO_BYTES} bytes; that is the limit")
        if len(self._encoded) - self._decoded_at < DECODE_EVERY_BYTES:
            return np.zeros(0, np.float32)
        return self._decode(final=False)

    def finish(self) -> np.ndarray:
        """End of the stream: the remaining samples."""
        if self._resampler is not None:
            return self._out(self._resampler.flush())
        if not self._encoded:
            return np.zeros(0, np.float32)
        return self._decode(final=True)

    def _decode(self, final: bool) -> np.ndarray:
        self._decoded_at = len(self._encoded)
        try:
            audio = decode(bytes(self._encoded), max_seconds=self.max_seconds)
        except AudioError as exc:
            if final or "long" in str(exc) or "limit" in str(exc):
                raise InputError(f"audio: {exc}") from None
            return np.zeros(0, np.float32)  # not decodable yet: wait for more bytes
        margin = 0 if final else int(DECODE_MARGIN_S * SAMPLE_RATE)
        known = len(audio.samples) - margin
        return self._out(audio.samples[self.samples_out : max(known, self.samples_out)])

    def _out(self, samples: np.ndarray) -> np.ndarray:
        self.samples_out += len(samples)
        return samples
