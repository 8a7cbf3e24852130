"""Raw frames of a live stream (``LiveConfig.raw_frames``): the MP4 pieces decoded as they come.

The renderer streams fragmented MP4; for clients that composite themselves the gateway decodes
those pieces back to RGB frames (H.264 at the renderer's quality: what a player would show) in a
thread of its own, and pairs each frame with its span of the stream's audio (16 kHz 16-bit PCM).
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np

from services.live_audio import LiveAudioInput
from services.pcm import pcm16_bytes
from speech2video.audio.features import SAMPLE_RATE


class _Pipe:
    """A read-only file of bytes written from elsewhere: ``read`` blocks until bytes or EOF."""

    def __init__(self) -> None:
        self._chunks: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._buf = b""
        self._eof = False

    def write(self, data: bytes) -> None:
        self._chunks.put(bytes(data))

    def close(self) -> None:
        self._chunks.put(None)

    def read(self, n: int = -1) -> bytes:
        while not self._eof and (n < 0 or len(self._buf) < n):
            item = self._chunks.get()
            if item is None:
                self._eof = True
            else:
                self._buf += item
        if n < 0:
            n = len(self._buf)
        out, self._buf = self._buf[:n], self._buf[n:]
        return out


class PieceDecoder:
    """Feed MP4 pieces in order; decoded (H, W, 3) uint8 frames come out of :meth:`ready`."""

    def __init__(self) -> None:
        self._pipe = _Pipe()
        self._frames: queue.SimpleQueue[np.ndarray | BaseException | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._decode, name="live-frames", daemon=True)
        self._started = False
        self._done = False

    def feed(self, data: bytes) -> None:
        if not self._started:
            self._thread.start()
            self._started = True
        self._pipe.write(data)

    def _decode(self) -> None:
        import av

        try:
            with av.open(self._pipe, mode="r", format="mp4") as container:  # type: ignore[arg-type]
                for frame in container.decode(video=0):
                    self._frames.put(frame.to_ndarray(format="rgb24"))
        except Exception as exc:
            self._frames.put(exc)
        finally:
            self._frames.put(None)

    def ready(self) -> Iterator[np.ndarray]:
        """Frames decoded so far (not waiting)."""
        while not self._done:
            try:
                item = self._frames.get_nowait()
            except queue.Empty:
                return
            if item is None:
                self._done = True
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    async def rest(self) -> list[np.ndarray]:
        """After the last piece: every frame still to come."""
        self._pipe.close()
        if self._started:
            await asyncio.to_thread(self._thread.join)
        return list(self.ready())

    def close(self) -> None:
        self._pipe.close()


class FrameAudio:
    """The stream's audio at 16 kHz, kept from the first frame not yet sent, sliced per frame."""

    def __init__(self, encoding: int, sample_rate: int, max_seconds: float) -> None:
        self._input = LiveAudioInput(encoding, sample_rate, max_seconds)
        self._buf = np.zeros(0, np.float32)
        self._start = 0  # sample index of _buf[0]

    def push(self, data: bytes | None) -> None:
        got = self._input.push(data) if data is not None else self._input.finish()
        if len(got):
            self._buf = np.concatenate([self._buf, got])

    def span(self, index: int, fps: float) -> bytes:
        """Frame ``index``'s audio [index/fps, (index+1)/fps) as 16-bit PCM; earlier dropped."""
        a, b = round(index / fps * SAMPLE_RATE), round((index + 1) / fps * SAMPLE_RATE)
        piece = self._buf[max(a - self._start, 0) : max(b - self._start, 0)]
        drop = max(b - self._start, 0)
        self._buf, self._start = self._buf[drop:], self._start + drop
        return pcm16_bytes(piece)


def raw_frame(frame: np.ndarray, index: int, fps: float, audio: FrameAudio) -> Any:
    """A ``live.RawFrame``."""
    from speech2video_api.v1 import live_pb2

    h, w = frame.shape[:2]
    return live_pb2.RawFrame(
        index=index,
        time_s=index / fps,
        width=w,
        height=h,
        rgb=np.ascontiguousarray(frame).tobytes(),
        audio_pcm=audio.span(index, fps),
        audio_rate=SAMPLE_RATE,
    )
