"""Exceptions → the status a caller sees (services/errors.py)."""

from __future__ import annotations

import grpc
import pytest
from ray.exceptions import TaskCancelledError
from ray.serve.exceptions import RequestCancelledError

from services.errors import RpcError, status_of
from speech2video.errors import InputError, NotFoundError


@pytest.mark.parametrize(
    ("exc", "code", "message"),
    [
        (InputError("audio: empty"), grpc.StatusCode.INVALID_ARGUMENT, "audio: empty"),
        (NotFoundError("no speaker bob"), grpc.StatusCode.NOT_FOUND, "no speaker bob"),
        (
            RpcError(grpc.StatusCode.RESOURCE_EXHAUSTED, "slow"),
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            "slow",
        ),
        (TimeoutError(), grpc.StatusCode.DEADLINE_EXCEEDED, "deadline exceeded"),
        # a live stream whose caller went: Ray raises these inside the method
        (TaskCancelledError(), grpc.StatusCode.CANCELLED, "cancelled"),
        (RequestCancelledError("r1"), grpc.StatusCode.CANCELLED, "cancelled"),
        (RuntimeError("/secret/path pid 42"), grpc.StatusCode.INTERNAL, "internal error"),
    ],
)
def test_status_of(exc: BaseException, code: grpc.StatusCode, message: str) -> None:
    got_code, got_message = status_of(exc)
    assert got_code == code and got_message.startswith(message)
    assert "secret" not in got_message
