"""No Ray text reaches a caller: the proxy guard's status cleaning, and other apps' methods."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
import pytest

from services.errors import RpcAbortError
from services.proxy_guard import clean_status
from services.routing import AppMethods, rpc_owners

RAY_TEXT = (
    "ray::ServeReplica:renderer:Renderer.handle_request_streaming() (pid=4242, "
    "ip=10.1.2.3, actor_id=5e8f0c1a2b3c4d5e6f7a8b9c01000000, repr=<ray.serve._private."
    'replica.UserCallableWrapper object at 0x7f00>)\n  File "/x/site-packages/ray/a.py"'
)


@pytest.mark.parametrize(
    ("code", "details", "expected"),
    [
        (grpc.StatusCode.INTERNAL, RAY_TEXT, grpc.StatusCode.INTERNAL),
        (
            grpc.StatusCode.INTERNAL,
            "The actor died unexpectedly before finishing this task. actor_id=5e8f0c1a2b3c",
            grpc.StatusCode.UNAVAILABLE,
        ),
        (
            grpc.StatusCode.UNAVAILABLE,
            "Replica(id='x') ip=10.0.0.1 unavailable",
            grpc.StatusCode.UNAVAILABLE,
        ),
        (
            grpc.StatusCode.NOT_FOUND,
            "Application 'nope' not found. Ping /ray.serve.RayServeAPIService/ListApplications",
            grpc.StatusCode.NOT_FOUND,
        ),
    ],
)
def test_ray_text_becomes_one_clean_line(code: Any, details: str, expected: Any) -> None:
    cleaned = clean_status(code, details)
    assert cleaned is not None and cleaned[0] == expected
    message = cleaned[1]
    assert "\n" not in message and "pid" not in message and "10." not in message
    assert "ray" not in message.lower().replace("retry", "")


def test_the_applications_own_messages_pass_unchanged() -> None:
    for code, details in [
        (grpc.StatusCode.INVALID_ARGUMENT, "poses.fps must be between 1 and 120; got 1e-09"),
        (
            grpc.StatusCode.NOT_FOUND,
            "unknown speaker 'bob': no renderer model at alias 'production'",
        ),
        (grpc.StatusCode.OK, ""),
    ]:
        assert clean_status(code, details) is None


def test_another_applications_method_answers_unimplemented() -> None:
    class Gateway(AppMethods):
        async def Synthesize(self, request: Any, grpc_context: Any) -> None:  # noqa: N802
            return None

    class Context:
        def set_code(self, code: Any) -> None:
            self.code = code

        def set_details(self, details: str) -> None:
            self.details = details

    gateway = Gateway()
    assert set(rpc_owners()) >= {"Synthesize", "RenderVideo", "Transcribe", "PredictPoses"}
    assert not hasattr(gateway, "reconfigure") and not hasattr(gateway, "__serve_multiplex")
    context = Context()
    with pytest.raises(RpcAbortError):
        asyncio.run(gateway.RenderVideo(None, context))
    assert context.code == grpc.StatusCode.UNIMPLEMENTED
    assert context.details.endswith("send metadata application=renderer")


def test_routing_metadata_is_checked_before_routing() -> None:
    from services.proxy_guard import refused_metadata

    assert refused_metadata([("application", "gateway"), ("multiplexed_model_id", "alice")]) is None
    assert refused_metadata([("x-junk-bin", b"\x00" * 500)]) is None  # not routing metadata
    for key, value in [
        ("multiplexed_model_id", "x" * 20_000),
        ("request_id", "r" * 4000),
        ("application", "gateway\t"),
        ("request_id", b"\xff\xfe"),
    ]:
        reason = refused_metadata([(key, value)])
        assert reason is not None and reason.startswith(f"metadata {key}: at most")
