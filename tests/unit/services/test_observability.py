"""Request ids, spans, metrics and log fields of an RPC, without Ray: fake gRPC contexts, the
prometheus_client registry, an in-memory span exporter and a plain in-process gRPC server."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from services import metrics as metrics_module
from services import request_context as rc
from services import tracing
from services.errors import RpcError, streaming_rpc, unary_rpc
from services.observability import observed_rpc, stage_interceptors
from speech2video_api.v1 import common_pb2, renderer_pb2, transcription_pb2

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = f"00-{TRACE}-00f067aa0ba902b7-01"


class FakeContext:
    """The parts of Serve's ``RayServegRPCContext`` the wrappers use."""

    def __init__(self, metadata: list[tuple[str, str]] | None = None) -> None:
        self.metadata = metadata or []
        self._code: grpc.StatusCode | None = None
        self._details = ""
        self.trailing: list[tuple[str, str]] = []

    def invocation_metadata(self) -> list[tuple[str, str]]:
        return self.metadata

    def code(self) -> grpc.StatusCode | None:
        return self._code

    def details(self) -> str:
        return self._details

    def set_code(self, code: grpc.StatusCode) -> None:
        self._code = code

    def set_details(self, details: str) -> None:
        self._details = details

    def set_trailing_metadata(self, metadata: list[tuple[str, str]]) -> None:
        self.trailing = list(metadata)


class Transcription:
    """A stand-in deployment: open credential check, one unary and one streaming RPC."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def authorize(self, grpc_context: Any) -> None:
        return None

    @observed_rpc("transcription", entry=True)
    @unary_rpc(lambda: transcription_pb2.TranscribeResponse())
    async def Transcribe(  # noqa: N802 - the RPC name
        self, request: Any, grpc_context: Any
    ) -> transcription_pb2.TranscribeResponse:
        self.seen.append(rc.current_request_id())
        logging.getLogger("ray.serve").info("transcribing")
        if request.language == "xx":
            raise RpcError(grpc.StatusCode.INVALID_ARGUMENT, "no such language")
        return transcription_pb2.TranscribeResponse(language=request.language)

    @observed_rpc("renderer", frames=lambda r: r.chunk.num_frames)
    @streaming_rpc
    async def RenderVideo(  # noqa: N802 - the RPC name
        self, request: Any, grpc_context: Any
    ) -> AsyncIterator[renderer_pb2.RenderVideoResponse]:
        for i in range(3):
            yield renderer_pb2.RenderVideoResponse(
                chunk=common_pb2.VideoChunk(index=i, num_frames=4)
            )


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    made = TracerProvider()
    made.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.reset_provider(made)
    metrics_module.reset_metrics()
    yield exporter
    tracing.reset_provider()
    metrics_module.reset_metrics()


def _sample(name: str, **labels: str) -> float:
    value = metrics_module.registry().get_sample_value(name, labels)
    return value or 0.0


@pytest.mark.parametrize("good", ["a", "req-1", "0af7651916cd43dd8448eb211c80319c", "a.b:c_d"])
def test_valid_request_ids_pass(good: str) -> None:
    assert rc.check_request_id(good) == good


@pytest.mark.parametrize("bad", ["", "-lead", "has space", "x" * 129, "é", "a\nb", "a/b"])
def test_bad_request_ids_are_invalid_argument(bad: str) -> None:
    with pytest.raises(RpcError) as err:
        rc.check_request_id(bad)
    assert (
        err.value.code == grpc.StatusCode.INVALID_ARGUMENT and "x-request-id" in err.value.message
    )


def test_x_request_id_wins_over_serves_key() -> None:
    meta = [("request_id", "serve-id"), ("x-request-id", "mine")]
    assert rc.request_id_from(meta) == "mine"
    assert rc.request_id_from([("request_id", "serve-id")]) == "serve-id"
    assert rc.request_id_from([("application", "gateway")]) is None


def test_unary_call_carries_the_id_into_span_metrics_logs_and_trailers(
    spans: InMemorySpanExporter, caplog: pytest.LogCaptureFixture
) -> None:
    app = Transcription()
    ctx = FakeContext([("x-request-id", "req-42"), ("traceparent", PARENT)])
    with caplog.at_level(logging.INFO, logger="ray.serve"):
        reply = asyncio.run(app.Transcribe(transcription_pb2.TranscribeRequest(language="en"), ctx))
    assert reply.language == "en" and app.seen == ["req-42"]
    assert ctx.trailing == [("x-request-id", "req-42")]
    (span,) = spans.get_finished_spans()
    assert span.name == "speech2video.v1.Transcription/Transcribe"
    assert span.attributes["s2v.request_id"] == "req-42"
    assert span.attributes["rpc.grpc.status_code"] == "OK"
    assert format(span.context.trace_id, "032x") == TRACE  # the caller's trace continues
    record = next(r for r in caplog.records if r.getMessage() == "transcribing")
    assert record.request_id == "req-42" and record.trace_id == TRACE
    labels = {"app": "transcription", "method": "Transcribe", "code": "OK"}
    assert _sample("s2v_requests_total", **labels) == 1
    assert _sample("s2v_request_seconds_count", **labels) == 1
    assert _sample("s2v_ongoing_requests", app="transcription", method="Transcribe") == 0
    assert rc.current() is None  # nothing left current after the call


def test_a_failed_call_is_counted_with_its_code(spans: InMemorySpanExporter) -> None:
    ctx = FakeContext()
    asyncio.run(Transcription().Transcribe(transcription_pb2.TranscribeRequest(language="xx"), ctx))
    assert ctx.code() == grpc.StatusCode.INVALID_ARGUMENT
    labels = {"app": "transcription", "method": "Transcribe", "code": "INVALID_ARGUMENT"}
    assert _sample("s2v_requests_total", **labels) == 1
    (span,) = spans.get_finished_spans()
    assert span.status.status_code.name == "ERROR"
    assert len(span.attributes["s2v.request_id"]) == 32  # made here: none was sent


def test_a_bad_request_id_is_refused_before_the_method(spans: InMemorySpanExporter) -> None:
    app = Transcription()
    ctx = FakeContext([("x-request-id", "bad id")])
    reply = asyncio.run(app.Transcribe(transcription_pb2.TranscribeRequest(language="en"), ctx))
    assert isinstance(reply, transcription_pb2.TranscribeResponse) and reply.language == ""
    assert ctx.code() == grpc.StatusCode.INVALID_ARGUMENT and app.seen == []
    assert spans.get_finished_spans() == ()


def test_a_stream_records_first_message_and_frames(spans: InMemorySpanExporter) -> None:
    async def run() -> list[Any]:
        ctx = FakeContext([("x-request-id", "r1")])
        return [m async for m in Transcription().RenderVideo(None, ctx)]

    assert len(asyncio.run(run())) == 3
    tags = {"app": "renderer", "method": "RenderVideo"}
    assert _sample("s2v_first_chunk_seconds_count", **tags) == 1
    assert _sample("s2v_frames_rendered_total", **tags) == 12
    assert _sample("s2v_render_fps_count", **tags) == 1
    (span,) = spans.get_finished_spans()
    assert span.attributes["s2v.frames"] == 12 and span.events[0].name == "first message"


def test_a_bad_id_on_a_stream_aborts_it(spans: InMemorySpanExporter) -> None:
    from services.errors import RpcAbortError

    async def run() -> None:
        ctx = FakeContext([("x-request-id", "")])
        ctx.metadata = [("x-request-id", "no spaces allowed")]
        async for _ in Transcription().RenderVideo(None, ctx):
            pass

    with pytest.raises(RpcAbortError):
        asyncio.run(run())


def test_file_exporter_writes_one_json_line_per_span(tmp_path: Path, monkeypatch: Any) -> None:
    path = tmp_path / "traces.jsonl"
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "file")
    monkeypatch.setenv("S2V_TRACES_FILE", str(path))
    tracing.reset_provider()
    try:
        tracer = tracing.tracer()
        with tracer.start_as_current_span("outer"), tracer.start_as_current_span("inner"):
            pass
    finally:
        tracing.reset_provider()
    inner, outer = tracing.read_spans(path)
    assert (inner["name"], outer["name"]) == ("inner", "outer")
    assert inner["trace_id"] == outer["trace_id"] and inner["parent_id"] == outer["span_id"]
    assert len(path.read_text().splitlines()) == 2
    json.loads(path.read_text().splitlines()[0])


def test_no_exporter_by_default(monkeypatch: Any) -> None:
    monkeypatch.delenv("OTEL_TRACES_EXPORTER", raising=False)
    tracing.reset_provider()
    try:
        made = tracing.provider()
        assert not made._active_span_processor._span_processors  # nothing exported
    finally:
        tracing.reset_provider()


def test_model_inventory_tracks_versions_per_owner(spans: InMemorySpanExporter) -> None:
    inv = metrics_module.inventory()
    first, second = object(), object()
    inv.report(first, "ann", {("renderer", "1"), ("body_model", "1")})
    inv.report(second, "ann", {("renderer", "2"), ("body_model", "1")})  # a swap
    inv.dropped(first, "ann")  # the replaced owner going changes nothing
    assert inv.held() == {"ann": {("renderer", "2"), ("body_model", "1")}}

    def loaded(version: str) -> float:
        return _sample("s2v_models_loaded", speaker="ann", component="renderer", version=version)

    assert (loaded("1"), loaded("2")) == (0, 1)
    inv.dropped(second, "ann")
    assert loaded("2") == 0 and inv.held() == {}


class _Health(health_pb2_grpc.HealthServicer):
    def __init__(self) -> None:
        self.metadata: list[dict[str, str]] = []

    async def Watch(self, request: Any, context: Any) -> Any:  # noqa: N802 - the RPC name
        self.metadata.append({k: v for k, v in context.invocation_metadata()})
        yield health_pb2.HealthCheckResponse(status=health_pb2.HealthCheckResponse.SERVING)

    async def chat(self, requests: Any, context: Any) -> Any:
        """A stream-stream method (bytes in, bytes out)."""
        self.metadata.append({k: v for k, v in context.invocation_metadata()})
        async for item in requests:
            yield item

    async def Check(self, request: Any, context: Any) -> Any:  # noqa: N802 - the RPC name
        self.metadata.append({k: v for k, v in context.invocation_metadata()})
        if request.service == "full":
            await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, "full")
        return health_pb2.HealthCheckResponse(status=health_pb2.HealthCheckResponse.SERVING)


def test_stage_calls_carry_the_request_id_and_trace(spans: InMemorySpanExporter) -> None:
    servicer = _Health()

    async def run() -> None:
        server = grpc.aio.server()
        health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
        chat = grpc.stream_stream_rpc_method_handler(servicer.chat)
        server.add_generic_rpc_handlers(
            [grpc.method_handlers_generic_handler("t.Echo", {"Chat": chat})]
        )
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        token = rc.enter(rc.RequestContext("req-7", "gateway"))
        try:
            with tracing.tracer().start_as_current_span("gateway request"):
                async with grpc.aio.insecure_channel(
                    f"127.0.0.1:{port}", interceptors=stage_interceptors()
                ) as channel:
                    stub = health_pb2_grpc.HealthStub(channel)
                    meta = (("application", "key_pose"),)
                    await stub.Check(health_pb2.HealthCheckRequest(), metadata=meta)
                    with pytest.raises(grpc.aio.AioRpcError):
                        await stub.Check(
                            health_pb2.HealthCheckRequest(service="full"), metadata=meta
                        )
                    watch = stub.Watch(health_pb2.HealthCheckRequest(), metadata=meta)
                    assert [r.status async for r in watch] == [1]
                    echo = channel.stream_stream("/t.Echo/Chat")

                    async def items() -> AsyncIterator[bytes]:
                        yield b"a"

                    assert [r async for r in echo(items(), metadata=meta)] == [b"a"]
                    await asyncio.sleep(0)  # the recording tasks of finished calls run
                    await asyncio.sleep(0)
        finally:
            rc.leave(token)
            await server.stop(None)

    asyncio.run(run())
    assert len(servicer.metadata) == 4  # unary, unary (refused), server and bidi streams
    for sent in servicer.metadata:
        assert sent["x-request-id"] == sent["request_id"] == "req-7"
    sent = servicer.metadata[0]
    assert sent["application"] == "key_pose" and sent["traceparent"].startswith("00-")
    finished = {s.name: s for s in spans.get_finished_spans()}
    parent = finished["gateway request"]
    calls = [s for s in spans.get_finished_spans() if s.name == "grpc.health.v1.Health/Check"]
    assert len(calls) == 2 and all(s.parent.span_id == parent.context.span_id for s in calls)
    assert sent["traceparent"].split("-")[2] == format(calls[0].context.span_id, "016x")
    assert {s.name for s in spans.get_finished_spans()} >= {
        "grpc.health.v1.Health/Watch",
        "t.Echo/Chat",
    }
    tags = {"app": "key_pose", "method": "Check"}
    assert _sample("s2v_stage_calls_total", code="OK", **tags) == 1
    assert _sample("s2v_stage_calls_total", code="RESOURCE_EXHAUSTED", **tags) == 1
    assert _sample("s2v_admission_rejections_total", **tags) == 1


def test_a_stream_the_caller_leaves_counts_as_cancelled(spans: InMemorySpanExporter) -> None:
    async def run() -> None:
        stream = Transcription().RenderVideo(None, FakeContext([("x-request-id", "r2")]))
        await anext(stream)
        await stream.aclose()  # the caller went after the first piece

    asyncio.run(run())
    labels = {"app": "renderer", "method": "RenderVideo", "code": "CANCELLED"}
    assert _sample("s2v_requests_total", **labels) == 1
    assert _sample("s2v_ongoing_requests", app="renderer", method="RenderVideo") == 0
    (span,) = spans.get_finished_spans()
    assert span.attributes["rpc.grpc.status_code"] == "CANCELLED"


class _FakeRayGauge:
    def __init__(self) -> None:
        self.sets: list[tuple[float, dict[str, str]]] = []

    def set(self, value: float, tags: dict[str, str]) -> None:
        self.sets.append((value, tags))


def test_ray_gauges_are_set_again_and_dropped_zeros_once() -> None:
    """Ray drops a gauge series not set for two export intervals: kept values are set again."""
    impl = _FakeRayGauge()
    gauge = metrics_module.Metric("gauge", impl, ray=True, keep_zero=False)
    gauge.record(1, speaker="ann", version="2")
    gauge.record(0, speaker="ann", version="1")
    impl.sets.clear()
    gauge.refresh()
    assert sorted(v for v, _ in impl.sets) == [0, 1]
    impl.sets.clear()
    gauge.refresh()  # the zero was sent once more, then forgotten
    assert impl.sets == [(1, {"speaker": "ann", "version": "2"})]


def test_a_stream_closed_from_another_task_ends_quietly(
    spans: InMemorySpanExporter, caplog: pytest.LogCaptureFixture
) -> None:
    async def run() -> None:
        stream = Transcription().RenderVideo(None, FakeContext([("x-request-id", "r3")]))
        await asyncio.create_task(anext(stream))  # started in one task's context...
        await asyncio.create_task(stream.aclose())  # ...closed in another's

    with caplog.at_level(logging.ERROR):
        asyncio.run(run())
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(spans.get_finished_spans()) == 1 and rc.current() is None
