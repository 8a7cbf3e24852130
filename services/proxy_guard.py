"""Serve's gRPC proxy never hands Ray's own text to a caller.

When a replica dies mid-call, or Serve fails a request before the application's code runs, the
proxy answers INTERNAL with ``str(exception)``: Ray's replica repr and traceback (process id,
node IP, actor id, file paths). :func:`add_guard_to_server`, listed *first* in
``grpc_options.grpc_servicer_functions`` (:func:`services.deploy.prepare_config` puts it there),
wraps the proxy's handler factory, so every handler made for the services listed after it checks
the status on its way out: details that carry Ray's internals are replaced by one line, and a
dead or unreachable replica becomes UNAVAILABLE (safe to retry). The log keeps the full text.
Routing metadata Serve itself reads (``application``, ``multiplexed_model_id``, ``request_id``)
is checked first: too long or not printable gives INVALID_ARGUMENT before anything is routed.
Statuses the applications set themselves (one-line messages) pass unchanged.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc

logger = logging.getLogger("ray.serve")

#: Text that only Ray (or Python) writes: never shown to a caller.
LEAK = re.compile(
    r"Traceback|File \"|pid=|ip=|\bray::|RayTaskError|RayActorError|ActorDiedError|actor_id|"
    r"ActorID|Actor ID|\b[0-9a-f]{24,}\b|\b\d{1,3}(?:\.\d{1,3}){3}\b|/site-packages/|\.py\b|"
    r"Replica\(|ReplicaID|_private"
)
_DEAD = re.compile(r"actor died|ActorDiedError|ActorUnavailable|unexpectedly|RayActorError", re.I)
_APPS = ("gateway", "transcription", "audio_to_pose", "key_pose", "renderer")
_FIXED = {
    grpc.StatusCode.CANCELLED: "cancelled",
    grpc.StatusCode.DEADLINE_EXCEEDED: "deadline exceeded",
    grpc.StatusCode.RESOURCE_EXHAUSTED: "overloaded; retry later",
    grpc.StatusCode.UNAVAILABLE: "temporarily unavailable; retry later",
}


def clean_status(
    code: grpc.StatusCode | None, details: str | None
) -> tuple[grpc.StatusCode, str] | None:
    """The status to send instead of (code, details), None when it may go out as it is."""
    if code is None or code == grpc.StatusCode.OK or not details:
        return None
    if code == grpc.StatusCode.NOT_FOUND and "RayServeAPIService" in details:
        return code, "unknown application: send metadata application=" + "|".join(_APPS)
    if details.count("\n") == 0 and not LEAK.search(details):
        return None
    if _DEAD.search(details):
        return grpc.StatusCode.UNAVAILABLE, "the application's replica stopped; retry the call"
    if code in _FIXED:
        return code, _FIXED[code]
    if code == grpc.StatusCode.UNIMPLEMENTED:
        return code, "this application does not serve that method"
    return grpc.StatusCode.INTERNAL, "internal error; the server log has the details"


def _apply(context: Any, where: str) -> None:
    try:
        code, details = context.code(), context.details()
    except Exception:  # pragma: no cover - a context without accessors
        return
    if isinstance(details, bytes):
        details = details.decode("utf-8", "replace")
    cleaned = clean_status(code, details)
    if cleaned is not None:
        logger.warning("%s answered %s %r; the caller sees %s", where, code, details, cleaned[0])
        context.set_code(cleaned[0])
        context.set_details(cleaned[1])


#: Routing metadata Serve reads before any application code: checked first, here.
_ROUTING_LIMITS = {"application": 64, "multiplexed_model_id": 63, "request_id": 128}


def refused_metadata(metadata: Any) -> str | None:
    """Why the routing metadata is refused (too long, not printable ASCII), None when fine."""
    for entry in metadata or ():
        try:
            key, value = str(entry[0]).lower(), entry[1]
        except (TypeError, IndexError):
            continue
        limit = _ROUTING_LIMITS.get(key)
        if limit is None:
            continue
        text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
        if len(text) > limit or not (text.isascii() and text.isprintable()):
            return f"metadata {key}: at most {limit} printable ASCII characters"
    return None


def _refuse(context: Any) -> bool:
    try:
        reason = refused_metadata(context.invocation_metadata())
    except Exception:  # pragma: no cover - a context without metadata
        return False
    if reason is not None:
        context.set_code(grpc.StatusCode.INVALID_ARGUMENT)
        context.set_details(reason)
        return True
    return False


def _guard_unary(handler: Callable[..., Any], where: str) -> Callable[..., Any]:
    async def unary(request: Any, context: Any) -> Any:
        if _refuse(context):
            return b""
        try:
            return await handler(request, context)
        finally:
            _apply(context, where)

    return unary


def _guard_stream(handler: Callable[..., Any], where: str) -> Callable[..., Any]:
    async def stream(request: Any, context: Any) -> AsyncIterator[Any]:
        if _refuse(context):
            return
        try:
            async for item in handler(request, context):
                yield item
        finally:
            _apply(context, where)

    return stream


def guarded_factory(factory: Callable[..., Any]) -> Callable[..., Any]:
    """A proxy ``service_handler_factory`` whose handlers clean their status on the way out."""

    def make(service_method: str, streaming_type: Any) -> Callable[..., Any]:
        handler = factory(service_method=service_method, streaming_type=streaming_type)
        streaming = str(getattr(streaming_type, "name", streaming_type)).endswith("_STREAM")
        return (_guard_stream if streaming else _guard_unary)(handler, service_method)

    return make


def add_guard_to_server(servicer: Any, server: Any) -> None:
    """A ``grpc_servicer_functions`` entry (first in the list): wrap the proxy's factory.

    ``servicer`` (Serve passes a mock) is ignored; a server without the factory (a plain gRPC
    server) is left alone."""
    del servicer
    factory = getattr(server, "service_handler_factory", None)
    if factory is not None and not getattr(factory, "_s2v_guarded", False):
        wrapped = guarded_factory(factory)
        wrapped._s2v_guarded = True  # type: ignore[attr-defined]
        server.service_handler_factory = wrapped
