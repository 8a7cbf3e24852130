"""A stand-in for :class:`services.live_client.LiveSession` that answers like the gateway does.

Only for the avatar service's unit tests (tests/unit/services/test_pipecat_avatar.py): its frame
handling (ordering, interruptions, errors, back-pressure) needs a server whose timing a test can
hold still; the real gateway is exercised end to end in tests/integration/serving.

Frames are made from the audio as it arrives: frame k once audio past ``(k + 1 + lag) / fps`` has
come (the look-ahead), every remaining frame up to ``round(seconds × fps)`` once the stream ends,
then a summary. Every frame is ``size`` pixels, filled with the byte ``k % 256``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import grpc

from speech2video_api.v1 import live_pb2


def rpc_error(code: grpc.StatusCode, details: str) -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(), details=details)


class FakeSession:
    """Answers one stream; ``fail``: (code, details) raised at once; ``hold``: no frames until
    :meth:`release` (a slow renderer)."""

    def __init__(
        self,
        config: Any,
        *,
        fps: float = 15.0,
        size: tuple[int, int] = (8, 6),
        lag: int = 2,
        fail: tuple[grpc.StatusCode, str] | None = None,
        hold: bool = False,
    ) -> None:
        self.config = config
        self.rate = int(config.audio_format.sample_rate)
        self.fps, self.size, self.lag, self.fail = fps, size, lag, fail
        self.sent = bytearray()
        self.sent_bytes = 0
        self.finished = False
        self.cancelled = False
        self.made = 0
        self.most_ahead_s = 0.0  # largest (audio sent − video made), seconds
        self._held = asyncio.Event()
        if not hold:
            self._held.set()
        self._changed = asyncio.Event()

    def release(self) -> None:
        self._held.set()
        self._changed.set()

    def send(self, pcm: bytes) -> None:
        self.sent += pcm
        self.sent_bytes += len(pcm)
        self.most_ahead_s = max(self.most_ahead_s, self.seconds - self.made / self.fps)
        self._changed.set()

    def finish(self) -> None:
        self.finished = True
        self._changed.set()

    def cancel(self) -> None:
        self.cancelled = True
        self._changed.set()

    @property
    def seconds(self) -> float:
        return len(self.sent) / 2 / self.rate

    def _frame(self, k: int) -> live_pb2.SynthesizeLiveResponse:
        w, h = self.size
        raw = live_pb2.RawFrame(index=k, time_s=k / self.fps, width=w, height=h)
        raw.rgb = bytes([k % 256]) * (w * h * 3)
        return live_pb2.SynthesizeLiveResponse(frame=raw, fps=self.fps)

    async def replies(self) -> AsyncIterator[live_pb2.SynthesizeLiveResponse]:
        await asyncio.sleep(0)
        if self.fail is not None:
            raise rpc_error(*self.fail)
        while True:
            if self.cancelled:
                raise rpc_error(grpc.StatusCode.CANCELLED, "Locally cancelled by application!")
            if self._held.is_set():
                if self.finished:
                    due = round(self.seconds * self.fps)
                else:
                    due = int(self.seconds * self.fps) - self.lag
                while self.made < due:
                    yield self._frame(self.made)
                    self.made += 1
                    await asyncio.sleep(0)
                if self.finished:
                    summary = live_pb2.LiveSummary(num_frames=self.made, fps=self.fps)
                    yield live_pb2.SynthesizeLiveResponse(summary=summary, fps=self.fps)
                    return
            self._changed.clear()
            await self._changed.wait()


class Sessions:
    """A ``session_factory`` that keeps every session it made (``kwargs`` for each, updated by
    ``first`` for the first session only)."""

    def __init__(self, first: dict[str, Any] | None = None, **kwargs: Any) -> None:
        self.kwargs, self.first = kwargs, first or {}
        self.made: list[FakeSession] = []

    def __call__(self, config: Any) -> FakeSession:
        extra = self.first if not self.made else {}
        session = FakeSession(config, **{**self.kwargs, **extra})
        self.made.append(session)
        return session
