"""Raw frames of a live stream (``LiveConfig.raw_frames``): the MP4 pieces decoded as they come.

The renderer streams fragmented MP4; for clients that composite themselves the gateway decodes
those pieces back to RGB frames (H.264 at the renderer's quality: what a player would show) in a
thread of its own, and pairs each frame with its span of the stream's audio (16 kHz 16-bit PCM).
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections.abc import Iterator
from typing import Any

import numpy as np

from services.live_audio import LiveAudioInput
from services.pcm import pcm16_bytes
from speech2video.audio.features import SAMPLE_RATE


class _Pipe:
    """A read-only file of bytes written from elsewhere: ``read`` blocks until some bytes or EOF."""

    def __init__(self) -> None:
        self._chunks: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._buf = b""
        self._eof = False

    def write(self, data: bytes) -> None:
        self._chunks.put(bytes(data))

    def close(self) -> None:
        self._chunks.put(None)

    def read(self, n: int = -1) -> bytes:
        """Up to ``n`` bytes (all, to EOF, when ``n`` < 0), as a socket reads: waiting only while
        none have come, so the demuxer gets a piece's last packet without the next piece."""
        while not self._eof and (n < 0 or not self._buf):
            item = self._chunks.get()
            if item is None:
                self._eof = True
            else:
                self._buf += item
            while n >= 0 and not self._eof:  # whatever else is already here
                try:
                    more = self._chunks.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._eof = True
                else:
                    self._buf += more
        if n < 0:
            n = len(self._buf)
        out, self._buf = self._buf[:n], self._buf[n:]
        return out


#: Demuxer options of :class:`PieceDecoder`: decode from the first piece on.
DEMUX_OPTIONS = {"probesize": "32", "analyzeduration": "0"}
#: Longest the gateway waits for a piece's frames to be decoded before it reads on.
PIECE_DECODE_S = 0.5
_EMPTY = object()


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
            # no probing: FFmpeg's defaults read ~5 MB / 5 s of input before the first frame
            # (about 20 frames at 256², seconds of a live stream); the fMP4's moov says it all
            with av.open(  # type: ignore[arg-type]
                self._pipe, mode="r", format="mp4", options=DEMUX_OPTIONS
            ) as container:
                video = container.streams.video[0]
                video.thread_type = "SLICE"  # frame threads would hold frames back
                for frame in container.decode(video):
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

    async def frames_of(self, count: int, timeout_s: float = PIECE_DECODE_S) -> list[np.ndarray]:
        """Up to ``count`` frames: those ready, then waiting (at most ``timeout_s`` in all) for
        the decoding thread to give the rest of a piece just fed."""
        out = list(self.ready())
        deadline = time.monotonic() + timeout_s
        while len(out) < count and not self._done and (left := deadline - time.monotonic()) > 0:
            item = await asyncio.to_thread(self._get, min(left, 0.05))
            if item is _EMPTY:
                continue
            if item is None:
                self._done = True
            elif isinstance(item, BaseException):
                self._done = True
                raise item
            else:
                out.append(item)  # type: ignore[arg-type]
                out.extend(self.ready())
        return out

    def _get(self, timeout_s: float) -> object:
        try:
            return self._frames.get(timeout=timeout_s)
        except queue.Empty:
            return _EMPTY

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
