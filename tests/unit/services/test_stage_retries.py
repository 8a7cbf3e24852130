"""The gateway's stage client makes a call again when the stage's replica stopped, and a
re-render passes on only the pieces not yet passed on."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest

from services import stage_client
from services.errors import RpcError
from speech2video_api.v1 import common_pb2, renderer_pb2


def _error(code: grpc.StatusCode) -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(), "gone")


class FakeCall:
    """A server-streaming call: ``pieces`` replies, then ``error`` (if any)."""

    def __init__(self, pieces: int, error: grpc.StatusCode | None = None) -> None:
        self.pieces, self.error, self.cancelled = pieces, error, False

    def __aiter__(self) -> AsyncIterator[renderer_pb2.RenderVideoResponse]:
        return self._replies()

    async def _replies(self) -> AsyncIterator[renderer_pb2.RenderVideoResponse]:
        for i in range(self.pieces):
            chunk = common_pb2.VideoChunk(index=i, data=bytes([i]), first_frame=i, num_frames=1)
            yield renderer_pb2.RenderVideoResponse(chunk=chunk)
        if self.error is not None:
            raise _error(self.error)

    def cancel(self) -> None:
        self.cancelled = True


@pytest.fixture(autouse=True)
def _fast(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stage_client, "RETRY_DELAY_S", 0.0)


async def _collect(calls: list[FakeCall]) -> list[int]:
    made = iter(calls)
    return [piece.data[0] async for piece, _ in stage_client._pieces(lambda: next(made))]


def test_a_render_whose_replica_died_is_made_again_without_repeating_pieces() -> None:
    calls = [FakeCall(2, grpc.StatusCode.UNAVAILABLE), FakeCall(4)]
    assert asyncio.run(_collect(calls)) == [0, 1, 2, 3]
    assert all(c.cancelled for c in calls)


def test_other_errors_and_too_many_deaths_are_not_retried() -> None:
    with pytest.raises(RpcError) as info:
        asyncio.run(_collect([FakeCall(1, grpc.StatusCode.INVALID_ARGUMENT)]))
    assert info.value.code == grpc.StatusCode.INVALID_ARGUMENT
    dying = [FakeCall(1, grpc.StatusCode.UNAVAILABLE) for _ in range(stage_client.RETRIES + 1)]
    with pytest.raises(RpcError) as info:
        asyncio.run(_collect(dying))
    assert info.value.code == grpc.StatusCode.UNAVAILABLE


def test_unary_stage_calls_are_retried_on_unavailable_only() -> None:
    stages = stage_client.GrpcStages("127.0.0.1:1")
    answers: list[Any] = [_error(grpc.StatusCode.UNAVAILABLE), "reply"]

    async def call() -> str:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert asyncio.run(stages._unary("key_pose", call)) == "reply"


def test_replayed_parts_are_all_sent_again_to_a_second_reader() -> None:
    async def parts() -> AsyncIterator[int]:
        for i in range(5):
            await asyncio.sleep(0)
            yield i

    async def scenario() -> tuple[list[int], list[int]]:
        replay = stage_client._Replay(parts())
        first: list[int] = []
        reader = replay.iterate()
        first.append(await anext(reader))
        first.append(await anext(reader))
        await reader.aclose()  # the first attempt died after two parts
        second = [i async for i in replay.iterate()]
        replay.close()
        return first, second

    assert asyncio.run(scenario()) == ([0, 1], [0, 1, 2, 3, 4])


def test_a_pinned_view_sends_its_versions_to_every_speaker_stage() -> None:
    async def scenario() -> None:
        stages = stage_client.GrpcStages("127.0.0.1:1")
        view = stages.with_versions({"renderer": "3", "body_model": "1"})
        assert dict(view._meta("renderer", "alice"))["s2v-model-versions"] == (
            "body_model=1,renderer=3"
        )
        assert "s2v-model-versions" not in dict(stages._meta("renderer", "alice"))
        assert "s2v-model-versions" not in dict(view._meta("transcription"))
        assert view._channel is stages._channel  # one channel for all requests
        await stages.close()

    asyncio.run(scenario())
