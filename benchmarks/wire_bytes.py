"""Bytes a synthesis puts on the wire between the gateway and each stage, counted on a real
channel: a client interceptor adds up every serialized request and response message per
application (what the gateway's flow sends and receives through Serve's proxy)."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import grpc

from services.stage_client import CHANNEL_OPTIONS, GrpcStages


def _app(details: Any) -> str:
    return dict(details.metadata or ()).get("application", "?")


class _Count:
    def __init__(self) -> None:
        self.sent: Counter[str] = Counter()
        self.received: Counter[str] = Counter()
        self.calls: Counter[str] = Counter()


class _Unary(grpc.aio.UnaryUnaryClientInterceptor):
    def __init__(self, count: _Count) -> None:
        self.count = count

    async def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        app = _app(details)
        self.count.calls[app] += 1
        self.count.sent[app] += request.ByteSize()
        call = await continuation(details, request)
        self.count.received[app] += (await call).ByteSize()
        return call


class _ServerStream(grpc.aio.UnaryStreamClientInterceptor):
    def __init__(self, count: _Count) -> None:
        self.count = count

    async def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        app = _app(details)
        self.count.calls[app] += 1
        self.count.sent[app] += request.ByteSize()
        call = await continuation(details, request)

        async def replies() -> AsyncIterator[Any]:
            async for reply in call:
                self.count.received[app] += reply.ByteSize()
                yield reply

        return replies()


class _BothStream(grpc.aio.StreamStreamClientInterceptor):
    def __init__(self, count: _Count) -> None:
        self.count = count

    async def intercept_stream_stream(
        self, continuation: Any, details: Any, request_iterator: Any
    ) -> Any:
        app = _app(details)
        self.count.calls[app] += 1

        async def requests() -> AsyncIterator[Any]:
            async for request in request_iterator:
                self.count.sent[app] += request.ByteSize()
                yield request

        call = await continuation(details, requests())

        async def replies() -> AsyncIterator[Any]:
            async for reply in call:
                self.count.received[app] += reply.ByteSize()
                yield reply

        return replies()


class CountingStages(GrpcStages):
    """:class:`GrpcStages` whose channel counts message bytes per application."""

    def __init__(self, target: str) -> None:
        super().__init__(target)
        self.count = _Count()

    def _ch(self) -> Any:
        if self._channel is None:
            interceptors = [_Unary(self.count), _ServerStream(self.count), _BothStream(self.count)]
            self._channel = grpc.aio.insecure_channel(
                self.target, options=CHANNEL_OPTIONS, interceptors=interceptors
            )
        return self._channel


async def synthesis_bytes(target: str, speaker: str, speech: bytes) -> list[tuple]:
    """Rows (application, calls, bytes sent, bytes received) of one whole-file synthesis of
    ``speech`` run by the gateway's own flow over ``target``, and a total row."""
    from services.synthesis_flow import SynthesisInput, synthesize_video

    stages = CountingStages(target)
    try:
        async for _ in synthesize_video(stages, SynthesisInput(speaker, audio=speech), 120.0):
            pass
    finally:
        await stages.close()
    c = stages.count
    rows = [(app, c.calls[app], c.sent[app], c.received[app]) for app in sorted(c.calls)]
    rows.append(("total", sum(c.calls.values()), sum(c.sent.values()), sum(c.received.values())))
    return rows
