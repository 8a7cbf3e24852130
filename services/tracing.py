"""OpenTelemetry traces of the applications: one span per RPC, one trace per request.

Each process makes its tracer provider on first use (never at import). The exporter comes from
the environment, read then:

- ``OTEL_TRACES_EXPORTER=none`` (the default): spans are made (their ids travel as
  ``traceparent`` and appear in the logs) but nothing is written;
- ``file``: one JSON object a line appended to ``$S2V_TRACES_FILE`` (default
  ``$S2V_HOME/logs/traces.jsonl``), written when each span ends; every process of one machine
  may share the file (each line is one ``write`` on a file opened for appending);
- ``console``: the SDK's console exporter (the replica's log);
- ``otlp``: ``opentelemetry-exporter-otlp`` when installed (its own ``OTEL_EXPORTER_OTLP_*``
  settings, batched); not installed: a warning and no export.

Context crosses gRPC as W3C ``traceparent`` / ``tracestate`` metadata (:func:`extract`,
:func:`inject`).
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

logger = logging.getLogger("ray.serve")
EXPORTER_ENV = "OTEL_TRACES_EXPORTER"
FILE_ENV = "S2V_TRACES_FILE"
SERVICE_ENV = "OTEL_SERVICE_NAME"
#: The environment the applications' workers need for tracing (forwarded by ``s2v serve up``).
TRACE_ENV = (
    EXPORTER_ENV,
    FILE_ENV,
    SERVICE_ENV,
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_HEADERS",
    "OTEL_RESOURCE_ATTRIBUTES",
)
_PROPAGATOR = TraceContextTextMapPropagator()
_LOCK = threading.Lock()
_PROVIDER: TracerProvider | None = None


def default_traces_file() -> Path:
    from speech2video_mlops.registry import s2v_home

    return s2v_home() / "logs" / "traces.jsonl"


class JsonLinesExporter(SpanExporter):
    """Spans as JSON lines appended to a file (see :func:`span_record` for the fields)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        data = "".join(json.dumps(span_record(s), separators=(",", ":")) + "\n" for s in spans)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, data.encode())
        finally:
            os.close(fd)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        return None


def span_record(span: ReadableSpan) -> dict[str, Any]:
    """One span as a flat dict: name, kind, trace_id, span_id, parent_id (hex), start and end
    (ns since the epoch), status, attributes, events, service."""
    ctx = span.get_span_context()
    assert ctx is not None
    parent = span.parent
    return {
        "name": span.name,
        "kind": span.kind.name,
        "trace_id": format(ctx.trace_id, "032x"),
        "span_id": format(ctx.span_id, "016x"),
        "parent_id": format(parent.span_id, "016x") if parent else None,
        "start_ns": span.start_time,
        "end_ns": span.end_time,
        "status": span.status.status_code.name,
        "attributes": dict(span.attributes or {}),
        "events": [{"name": e.name, "time_ns": e.timestamp} for e in span.events],
        "service": span.resource.attributes.get("service.name"),
    }


def _exporter(kind: str) -> tuple[SpanExporter | None, bool]:
    """(exporter, batched) for an ``OTEL_TRACES_EXPORTER`` value."""
    if kind in ("", "none"):
        return None, False
    if kind == "file":
        return JsonLinesExporter(os.environ.get(FILE_ENV) or default_traces_file()), False
    if kind == "console":
        return ConsoleSpanExporter(), False
    if kind == "otlp":
        try:
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (  # type: ignore
                OTLPSpanExporter,
            )
        except ImportError:
            logger.warning("OTEL_TRACES_EXPORTER=otlp: opentelemetry-exporter-otlp not installed")
            return None, False
        return OTLPSpanExporter(), True
    logger.warning("OTEL_TRACES_EXPORTER=%r unknown (none|file|console|otlp): no export", kind)
    return None, False


def provider() -> TracerProvider:
    """This process's tracer provider, made from the environment on first use."""
    global _PROVIDER
    with _LOCK:
        if _PROVIDER is None:
            name = os.environ.get(SERVICE_ENV) or "speech2video"
            made = TracerProvider(resource=Resource.create({"service.name": name}))
            exporter, batched = _exporter(os.environ.get(EXPORTER_ENV, "none").strip().lower())
            if exporter is not None:
                processor = BatchSpanProcessor if batched else SimpleSpanProcessor
                made.add_span_processor(processor(exporter))
            _PROVIDER = made
        return _PROVIDER


def reset_provider(replacement: TracerProvider | None = None) -> None:
    """Tests: drop (or replace) this process's provider; the next use reads the environment."""
    global _PROVIDER
    with _LOCK:
        if _PROVIDER is not None and _PROVIDER is not replacement:
            _PROVIDER.shutdown()
        _PROVIDER = replacement
        _TRACERS.clear()


_TRACERS: dict[int, trace.Tracer] = {}


def tracer() -> trace.Tracer:
    """The services' tracer of this process's provider (made once per provider)."""
    made = provider()
    found = _TRACERS.get(id(made))
    if found is None:
        _TRACERS.clear()
        found = _TRACERS[id(made)] = made.get_tracer("speech2video.services")
    return found


def extract(metadata: Iterable[Any] | None) -> otel_context.Context:
    """The trace context a caller sent (``traceparent``); empty (a new trace) when absent or
    malformed, as W3C Trace Context says."""
    from services.request_context import metadata_value

    pairs = list(metadata or ())
    carrier = {
        k: v for k in ("traceparent", "tracestate") if (v := metadata_value(pairs, k)) is not None
    }
    return _PROPAGATOR.extract(carrier)


def inject(ctx: otel_context.Context | None = None) -> list[tuple[str, str]]:
    """``traceparent`` (and ``tracestate``) metadata for the span current in ``ctx``."""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier, context=ctx)
    return sorted(carrier.items())


def current_ids() -> tuple[str, str] | None:
    """(trace id, span id) in hex of the current span, None when there is none."""
    ctx = trace.get_current_span().get_span_context()
    if not ctx.is_valid:
        return None
    return format(ctx.trace_id, "032x"), format(ctx.span_id, "016x")


def read_spans(path: str | Path) -> list[dict[str, Any]]:
    """The spans of a JSON-lines trace file (a partly written last line is skipped)."""
    out = []
    for line in Path(path).read_text().splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out
