"""One live stream's video frames and the TTS audio they go with, in the order they may leave.

Audio is held as it arrives; the frames come from the gateway later. What leaves, in order, is
image 0, the audio of [0, 1/fps), image 1, the audio of [1/fps, 2/fps), ...: an image once every
sample before its time has left, a sample once the image whose span holds it has left. A chunk
that straddles a frame boundary is cut there (the pieces, joined, are the bytes that came in).
When the stream ends the audio past the last frame leaves; when it fails, all held audio leaves
without images (the speech goes on, the video stops). No pipecat here: the avatar service
(:mod:`services.pipecat_avatar.avatar`) turns the items into frames.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class AudioOut:
    """Audio to push: ``data`` interleaved 16-bit PCM; ``start`` its first sample (per channel)
    from the stream's start; ``source`` the frame it came in; ``whole``: ``data`` is all of that
    frame's audio (else a piece of it)."""

    data: bytes
    start: int
    source: Any = None
    whole: bool = False


@dataclass(frozen=True)
class ImageOut:
    """A video frame to push: ``rgb`` is height × width × 3 bytes, row-major; ``time_s`` is
    ``index / fps`` from the stream's start, ``start`` the audio sample its span begins at."""

    index: int
    time_s: float
    width: int
    height: int
    rgb: bytes
    start: int = 0


class StreamTimeline:
    """The ordering state of one stream: ``sample_rate`` Hz, ``channels`` interleaved 16-bit."""

    def __init__(self, sample_rate: int, channels: int) -> None:
        if sample_rate <= 0 or channels <= 0:
            raise ValueError(f"audio rate and channels must be positive: {sample_rate}, {channels}")
        self.sample_rate, self.channels = int(sample_rate), int(channels)
        self.bytes_per_sample = 2 * self.channels
        self.fps: float | None = None
        self.images_in = 0  # frames received
        self.images_out = 0  # frames released
        self.audio_in = 0  # bytes received (whole samples)
        self._pos = 0  # bytes released
        self._audio: deque[tuple[bytes, Any, bool]] = deque()  # (bytes, source, intact)
        self._head = 0  # bytes of _audio[0] already released
        self._carry = b""  # a partial sample waiting for its other bytes
        self._images: deque[ImageOut] = deque()
        self._finished = False
        self._abandoned = False

    @property
    def audio_s(self) -> float:
        """Seconds of audio received."""
        return self.audio_in / self.bytes_per_sample / self.sample_rate

    @property
    def video_s(self) -> float:
        """Seconds of video received."""
        return self.images_in / self.fps if self.fps else 0.0

    @property
    def held_bytes(self) -> int:
        return self.audio_in - self._pos

    def add_audio(self, data: bytes, source: Any = None) -> None:
        """The next bytes of the stream's audio (``source``: the frame they came in)."""
        intact = not self._carry and len(data) % self.bytes_per_sample == 0
        if not intact:
            data = self._carry + bytes(data)
            cut = len(data) - len(data) % self.bytes_per_sample
            data, self._carry = data[:cut], data[cut:]
        if data:
            self._audio.append((bytes(data), source, intact))
            self.audio_in += len(data)

    def add_image(self, index: int, width: int, height: int, rgb: bytes, fps: float) -> None:
        """The next frame from the server (indices count up from 0, none skipped)."""
        if index != self.images_in:
            raise ValueError(f"frame {index} arrived where frame {self.images_in} was due")
        if len(rgb) != width * height * 3:
            raise ValueError(f"frame {index}: {len(rgb)} bytes for {width}x{height} RGB")
        if fps <= 0:
            raise ValueError(f"frame {index}: fps must be positive; got {fps}")
        self.fps = float(fps)
        start = self._bound(index) // self.bytes_per_sample
        self._images.append(ImageOut(index, index / fps, width, height, rgb, start))
        self.images_in += 1

    def finish(self) -> None:
        """The stream ended normally: the audio past its last frame may leave."""
        self._finished = True

    def abandon(self) -> None:
        """The stream failed: frames not yet released are dropped, all audio may leave."""
        self._abandoned = True
        self._images.clear()

    def drop(self) -> None:
        """Forget everything held (an interruption)."""
        self._audio.clear()
        self._images.clear()
        self._head, self._carry = 0, b""
        self._pos = self.audio_in

    def _bound(self, frame: int) -> int:
        """Byte offset where frame ``frame``'s span begins."""
        assert self.fps
        return round(frame * self.sample_rate / self.fps) * self.bytes_per_sample

    def ready(self) -> list[AudioOut | ImageOut]:
        """What may leave now, in order."""
        out: list[AudioOut | ImageOut] = []
        if self._abandoned:
            while self._audio:
                out.append(self._take(None))
            return out
        if self.fps is None:
            return out
        while True:
            if self._images and self._pos >= min(self._bound(self.images_out), self.audio_in):
                out.append(self._images.popleft())
                self.images_out += 1
                continue
            more = self._images or not self._finished
            limit = self._bound(self.images_out) if more else None
            if self._audio and (limit is None or self._pos < limit):
                out.append(self._take(limit))
                continue
            return out

    def _take(self, limit: int | None) -> AudioOut:
        data, source, intact = self._audio[0]
        rest = len(data) - self._head
        n = rest if limit is None else min(rest, limit - self._pos)
        whole = intact and n == len(data)
        piece = AudioOut(
            data if n == len(data) else data[self._head : self._head + n],
            self._pos // self.bytes_per_sample,
            source,
            whole,
        )
        self._head += n
        self._pos += n
        if self._head == len(data):
            self._audio.popleft()
            self._head = 0
        return piece
