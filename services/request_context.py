"""The caller's request id: read at the gateway, carried to every stage, put into every log line.

A caller may send ``x-request-id`` metadata (or Serve's own ``request_id`` key); the gateway
checks it (1-128 characters of ``A-Z a-z 0-9 . _ : -``, first a letter or digit: anything else is
INVALID_ARGUMENT), makes one (32 hex digits) when there is none, returns it in the trailing
metadata and sends it with every stage call (:mod:`services.observability`). Each application
keeps the id of the call it is serving in a context variable; :class:`RequestLogFilter` adds it,
with the trace and span ids, to every record of Serve's logger, whose JSON encoding
(``logging_config.encoding: JSON`` in the serve config) makes each record one line.
"""

from __future__ import annotations

import contextvars
import logging
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import grpc

from services.errors import RpcError

#: The metadata key a caller sends its id in (lower case: gRPC metadata keys are).
REQUEST_ID_HEADER = "x-request-id"
#: Serve's own key: its proxy and access logs use it, so the gateway sends it to stages too.
SERVE_REQUEST_ID = "request_id"
MAX_REQUEST_ID = 128
_VALID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")


@dataclass(frozen=True)
class RequestContext:
    """What one call carries: its request id and the application serving it."""

    request_id: str
    app: str = ""


_CURRENT: contextvars.ContextVar[RequestContext | None] = contextvars.ContextVar(
    "s2v_request", default=None
)


def check_request_id(value: str, field: str = REQUEST_ID_HEADER) -> str:
    """``value`` when it is a valid request id, else INVALID_ARGUMENT naming the rule."""
    if not _VALID.fullmatch(value):
        raise RpcError(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"metadata {field}: 1-{MAX_REQUEST_ID} characters of A-Z a-z 0-9 . _ : - "
            "(a letter or digit first)",
        )
    return value


def new_request_id() -> str:
    return uuid.uuid4().hex


def metadata_value(metadata: Iterable[Any] | None, key: str) -> str | None:
    """The first value of ``key`` in gRPC metadata (pairs or objects with key/value)."""
    for entry in metadata or ():
        k, v = (entry.key, entry.value) if hasattr(entry, "key") else (entry[0], entry[1])
        if str(k).lower() == key:
            return v.decode("latin-1") if isinstance(v, bytes) else str(v)
    return None


def request_id_from(metadata: Iterable[Any] | None) -> str | None:
    """The caller's id (``x-request-id``, else ``request_id``), checked; None when absent."""
    pairs = list(metadata or ())
    for key in (REQUEST_ID_HEADER, SERVE_REQUEST_ID):
        value = metadata_value(pairs, key)
        if value:
            return check_request_id(value, key)
    return None


def current() -> RequestContext | None:
    """The context of the call this task serves, None outside a call."""
    return _CURRENT.get()


def current_request_id() -> str:
    ctx = _CURRENT.get()
    return ctx.request_id if ctx else ""


def enter(ctx: RequestContext) -> contextvars.Token[RequestContext | None]:
    """Make ``ctx`` current (for this task and the tasks and threads it starts)."""
    return _CURRENT.set(ctx)


def leave(token: contextvars.Token[RequestContext | None]) -> None:
    try:
        _CURRENT.reset(token)
    except ValueError:  # reset from another context (an async generator closed elsewhere)
        _CURRENT.set(None)


class RequestLogFilter(logging.Filter):
    """Adds ``request_id`` (ours, replacing Serve's when a call is current), ``trace_id`` and
    ``span_id`` to a record; filters nothing."""

    def filter(self, record: logging.LogRecord) -> bool:
        ctx = _CURRENT.get()
        if ctx is not None:
            record.request_id = ctx.request_id
        from services.tracing import current_ids

        ids = current_ids()
        if ids is not None:
            record.trace_id, record.span_id = ids
        return True


def install_log_filter(logger_name: str = "ray.serve") -> None:
    """Put one :class:`RequestLogFilter` on the logger and on each of its handlers (last, so it
    runs after Serve's own context filter). Idempotent; cheap enough to call per request, which
    also covers handlers Serve replaced after a logging config change."""
    log = logging.getLogger(logger_name)
    for target in (log, *log.handlers):
        if not any(isinstance(f, RequestLogFilter) for f in target.filters):
            target.addFilter(RequestLogFilter())
