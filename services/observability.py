"""Each RPC measured, traced and logged with its request id: :func:`observed_rpc` on the
servers, :class:`StageCallInterceptor` on the gateway's channel to the stages.

``@observed_rpc(app)`` goes above ``@unary_rpc`` / ``@streaming_rpc`` (so it sees the status they
set). Per call it reads the request id (:mod:`services.request_context`; a bad one is
INVALID_ARGUMENT, none: a new one at the gateway) and the caller's ``traceparent``, opens a SERVER
span ``<package.Service>/<Method>`` carrying ``s2v.request_id`` and ``s2v.app``, makes both
current for the call's logs and stage calls, and records ``s2v_requests_total``,
``s2v_request_seconds``, ``s2v_ongoing_requests``, rejections, first-message latency of a stream
and, given ``frames``, frames rendered (:mod:`services.metrics`). ``entry=True`` (the gateway)
also returns the id to the caller in trailing metadata ``x-request-id``.

The interceptor adds ``x-request-id``, Serve's ``request_id`` and ``traceparent`` to every stage
call, opens a CLIENT span per call (a retry is a call of its own) and records
``s2v_stage_calls_total`` / ``s2v_stage_call_seconds`` as the gateway saw them.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import time
from collections.abc import Callable
from typing import Any

import grpc
from opentelemetry import context as otel_context
from opentelemetry import trace

from services import request_context as rc
from services import tracing
from services.errors import RpcAbortError, RpcError
from services.metrics import metrics

FramesOf = Callable[[Any], int]
#: Recording tasks of finished stage calls (kept referenced until they run).
_PENDING: set[asyncio.Future[None]] = set()


@functools.cache
def _service_of(method: str) -> str:
    from services.routing import rpc_owners

    owner = rpc_owners().get(method)
    return owner[0] if owner else "speech2video.v1"


@functools.cache
def _empty_response(method: str) -> Callable[[], Any]:
    """The empty response message class of an RPC of the API (by method name)."""
    from google.protobuf import descriptor_pool, message_factory

    service = descriptor_pool.Default().FindServiceByName(_service_of(method))
    return message_factory.GetMessageClass(service.methods_by_name[method].output_type)


def _code_name(grpc_context: Any) -> str:
    try:
        code = grpc_context.code()
    except Exception:  # pragma: no cover - a context without the accessor
        code = None
    return code.name if isinstance(code, grpc.StatusCode) else "OK"


class _Call:
    """The bookkeeping of one served call (see :func:`observed_rpc`)."""

    def __init__(self, app: str, method: str, grpc_context: Any, entry: bool) -> None:
        self.app, self.method, self.context = app, method, grpc_context
        self.started = time.monotonic()
        self.first_at: float | None = None
        self.frames = 0
        metadata = list(grpc_context.invocation_metadata() or ())
        given = rc.request_id_from(metadata)  # RpcError (INVALID_ARGUMENT) when malformed
        self.request_id = given or rc.new_request_id()
        self.span = tracing.tracer().start_span(
            f"{_service_of(method)}/{method}",
            context=tracing.extract(metadata),
            kind=trace.SpanKind.SERVER,
            attributes={
                "rpc.system": "grpc",
                "rpc.service": _service_of(method),
                "rpc.method": method,
                "s2v.app": app,
                "s2v.request_id": self.request_id,
            },
        )
        speaker = rc.metadata_value(metadata, "multiplexed_model_id")
        if speaker:
            self.span.set_attribute("s2v.speaker", speaker)
        if entry:
            grpc_context.set_trailing_metadata([(rc.REQUEST_ID_HEADER, self.request_id)])
        rc.install_log_filter()
        self._tokens = (
            rc.enter(rc.RequestContext(self.request_id, app)),
            otel_context.attach(trace.set_span_in_context(self.span)),
        )
        metrics().ongoing_delta(app, method, 1)

    def item(self, frames: int) -> None:
        now = time.monotonic()
        if self.first_at is None:
            self.first_at = now
            metrics().first_chunk.record(now - self.started, app=self.app, method=self.method)
            self.span.add_event("first message")
        if frames:
            self.frames += frames
            metrics().frames.record(frames, app=self.app, method=self.method)

    def finish(self, code: str) -> None:
        m, tags = metrics(), {"app": self.app, "method": self.method}
        elapsed = time.monotonic() - self.started
        m.ongoing_delta(self.app, self.method, -1)
        m.requests.record(1, code=code, **tags)
        m.latency.record(elapsed, code=code, **tags)
        if code == "RESOURCE_EXHAUSTED":
            m.rejections.record(1, **tags)
        if self.frames and self.first_at is not None:
            m.render_fps.record(self.frames / max(elapsed, 1e-6), **tags)
            self.span.set_attribute("s2v.frames", self.frames)
        self.span.set_attribute("rpc.grpc.status_code", code)
        if code != "OK":
            self.span.set_status(trace.Status(trace.StatusCode.ERROR, code))
        self.span.end()
        if trace.get_current_span() is self.span:  # else closed from another context: nothing
            otel_context.detach(self._tokens[1])  # to undo there (and detach would log an error)
        rc.leave(self._tokens[0])


def _refuse(grpc_context: Any, exc: RpcError) -> None:
    grpc_context.set_code(exc.code)
    grpc_context.set_details(exc.message)


def observed_rpc(
    app: str, *, entry: bool = False, frames: FramesOf | None = None
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Measure, trace and log a unary or server-streaming RPC method of application ``app``
    (above its ``unary_rpc`` / ``streaming_rpc``); ``frames(message)``: frames a streamed
    message carries (the renderer)."""

    def wrap(method: Callable[..., Any]) -> Callable[..., Any]:
        name = method.__name__

        if inspect.isasyncgenfunction(method):

            @functools.wraps(method)
            async def stream(self: Any, request: Any, grpc_context: Any) -> Any:
                try:
                    call = _Call(app, name, grpc_context, entry)
                except RpcError as exc:
                    _refuse(grpc_context, exc)
                    raise RpcAbortError(exc.message) from None
                code = "OK"
                try:
                    async for message in method(self, request, grpc_context):
                        call.item(frames(message) if frames else 0)
                        yield message
                    code = _code_name(grpc_context)
                except BaseException as exc:
                    code = _failure_code(exc, grpc_context)
                    raise
                finally:
                    call.finish(code)

            return stream

        @functools.wraps(method)
        async def unary(self: Any, request: Any, grpc_context: Any) -> Any:
            try:
                call = _Call(app, name, grpc_context, entry)
            except RpcError as exc:
                _refuse(grpc_context, exc)
                return _empty_response(name)()
            code = "OK"
            try:
                reply = await method(self, request, grpc_context)
                code = _code_name(grpc_context)
                return reply
            except BaseException as exc:
                code = _failure_code(exc, grpc_context)
                raise
            finally:
                call.finish(code)

        return unary

    return wrap


def _failure_code(exc: BaseException, grpc_context: Any) -> str:
    """The status of a call that ended with ``exc``: CANCELLED when the caller went (the task
    was cancelled, the stream closed), else the code set on the context (UNKNOWN if none)."""
    if isinstance(exc, (asyncio.CancelledError, GeneratorExit, KeyboardInterrupt)):
        return "CANCELLED"
    code = _code_name(grpc_context)
    return code if code != "OK" else "UNKNOWN"


class StageCallInterceptor:
    """The gateway's stage calls: request id and trace context added, a CLIENT span each,
    ``s2v_stage_*`` series recorded (``app`` is the stage called). grpc.aio files an
    interceptor under the first call kind it implements, so :func:`stage_interceptors` gives
    one subclass per kind."""

    def _start(self, details: Any) -> tuple[Any, Any, str, str, float]:
        path = details.method.decode() if isinstance(details.method, bytes) else details.method
        service, _, method = path.strip("/").partition("/")
        meta = list(details.metadata or ())
        stage = rc.metadata_value(meta, "application") or "unknown"
        span = tracing.tracer().start_span(
            f"{service}/{method}",
            kind=trace.SpanKind.CLIENT,
            attributes={"rpc.system": "grpc", "rpc.method": method, "s2v.stage": stage},
        )
        request_id = rc.current_request_id()
        added: list[tuple[str, str]] = []
        if request_id:
            span.set_attribute("s2v.request_id", request_id)
            added += [(rc.REQUEST_ID_HEADER, request_id), (rc.SERVE_REQUEST_ID, request_id)]
        added += tracing.inject(trace.set_span_in_context(span))
        keep = [(k, v) for k, v in meta if k not in {k for k, _ in added}]
        new = grpc.aio.ClientCallDetails(
            details.method,
            details.timeout,
            grpc.aio.Metadata(*keep, *added),
            details.credentials,
            details.wait_for_ready,
        )
        return new, span, stage, method, time.monotonic()

    def _watch(self, call: Any, span: Any, stage: str, method: str, started: float) -> Any:
        async def record(finished: Any) -> None:
            try:
                name = (await finished.code()).name  # the call is over: no waiting
            except Exception:
                name = "CANCELLED" if finished.cancelled() else "UNKNOWN"
            _stage_done(span, stage, method, name, started)

        def done(finished: Any) -> None:
            task = asyncio.ensure_future(record(finished))
            _PENDING.add(task)
            task.add_done_callback(_PENDING.discard)

        call.add_done_callback(done)
        return call

    async def _intercept(self, continuation: Any, details: Any, request: Any) -> Any:
        new, span, stage, method, started = self._start(details)
        try:
            call = await continuation(new, request)
        except BaseException:
            _stage_done(span, stage, method, "UNKNOWN", started)
            raise
        return self._watch(call, span, stage, method, started)


class _UnaryUnary(StageCallInterceptor, grpc.aio.UnaryUnaryClientInterceptor):
    async def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return await self._intercept(continuation, details, request)


class _UnaryStream(StageCallInterceptor, grpc.aio.UnaryStreamClientInterceptor):
    async def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return await self._intercept(continuation, details, request)


class _StreamStream(StageCallInterceptor, grpc.aio.StreamStreamClientInterceptor):
    async def intercept_stream_stream(
        self, continuation: Any, details: Any, request_iterator: Any
    ) -> Any:
        return await self._intercept(continuation, details, request_iterator)


def _stage_done(span: Any, stage: str, method: str, code: str, started: float) -> None:
    m, tags = metrics(), {"app": stage, "method": method}
    m.stage_calls.record(1, code=code, **tags)
    m.stage_latency.record(time.monotonic() - started, code=code, **tags)
    if code == "RESOURCE_EXHAUSTED":
        m.rejections.record(1, **tags)
    span.set_attribute("rpc.grpc.status_code", code)
    if code != "OK":
        span.set_status(trace.Status(trace.StatusCode.ERROR, code))
    span.end()


def stage_interceptors() -> list[Any]:
    """Interceptors for the gateway's channel to the stages (every call kind it makes)."""
    return [_UnaryUnary(), _UnaryStream(), _StreamStream()]


def rendered_frames(reply: Any) -> int:
    """Frames in a renderer reply (``RenderVideoResponse.chunk``)."""
    return int(reply.chunk.num_frames)
