"""Every Serve application on a real local Ray, tiny model sets for two speakers in a temp MLflow
registry, called through a real gRPC channel on 127.0.0.1 (one Ray start for the module)."""

from __future__ import annotations

import asyncio
import io
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest

from services.deploy import free_ports
from speech2video_api.v1 import gateway_pb2, gateway_pb2_grpc, renderer_pb2, renderer_pb2_grpc

pytestmark = [pytest.mark.integration, pytest.mark.slow]
TOKEN = "test-token"
SPEAKERS = ("alice", "bob")
TEXT = "This is a huge wave of good news for everyone who listens today."


@dataclass
class Cluster:
    target: str
    registry: object
    sets_dir: Path
    speech: bytes  # WAV of TEXT


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    from services import deploy
    from services.synthesis_flow import wav_bytes
    from speech2video.audio.tts import synthesize
    from speech2video_mlops.registry import ModelRegistry
    from tests.fixtures.model_sets import register_model_set

    root = tmp_path_factory.mktemp("serving")
    mp = pytest.MonkeyPatch()
    mp.setenv("S2V_HOME", str(root / "home"))
    mp.delenv("MLFLOW_TRACKING_URI", raising=False)
    mp.setenv("S2V_GATEWAY_TOKEN", TOKEN)
    mp.setenv("S2V_MODEL_REFRESH_S", "1")
    mp.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    mp.setenv("OTEL_TRACES_EXPORTER", "file")  # spans as JSON lines (the observability test)
    mp.setenv("S2V_TRACES_FILE", str(root / "traces.jsonl"))
    mp.setenv("S2V_WARM_SPEAKERS", "alice")  # readiness waits for alice's models
    registry = ModelRegistry()
    for seed, speaker in enumerate(SPEAKERS):
        register_model_set(registry, speaker, root / "sets", seed=seed)
    config = deploy.prepare_config(deploy.load_config(), *free_ports(2))
    for app in config["applications"]:
        if app["name"] == "gateway":  # SynthesizeLive's stalled-client test waits this long
            app.setdefault("args", {})["live_idle_timeout_s"] = 2.0
    try:
        target = deploy.start(config, num_cpus=2)
        yield Cluster(target, registry, root / "sets", wav_bytes(synthesize(TEXT).audio))
    finally:
        deploy.shutdown()
        mp.undo()


def _meta(token: str | None = TOKEN) -> tuple[tuple[str, str], ...]:
    meta = [("application", "gateway")]
    if token:
        meta.append(("authorization", f"Bearer {token}"))
    return tuple(meta)


def _stage_meta(speaker: str, app: str = "renderer") -> tuple[tuple[str, str], ...]:
    """Metadata of a stage call: the service token the gateway sends (stages take no other)."""
    from services.auth import stage_tokens

    token = stage_tokens().token()
    return (
        ("application", app),
        ("multiplexed_model_id", speaker),
        ("authorization", f"Bearer {token}"),
    )


def _run(coro: object) -> object:
    return asyncio.run(coro)  # type: ignore[arg-type]


async def _synthesize(target: str, request: gateway_pb2.SynthesizeRequest) -> list:
    async with grpc.aio.insecure_channel(target) as channel:
        stub = gateway_pb2_grpc.Speech2VideoStub(channel)
        return [m async for m in stub.Synthesize(request, metadata=_meta(), timeout=300)]


async def _motion(
    target: str, request: gateway_pb2.SynthesizeMotionRequest, token: str | None = TOKEN
) -> gateway_pb2.SynthesizeMotionResponse:
    async with grpc.aio.insecure_channel(target) as channel:
        stub = gateway_pb2_grpc.Speech2VideoStub(channel)
        return await stub.SynthesizeMotion(request, metadata=_meta(token), timeout=120)


def _clean(details: str) -> None:
    for leak in ("Traceback", "ray::", "ActorID", "RayTaskError", "pid="):
        assert leak not in details, details


def test_synthesize_streams_a_playable_mp4_with_audio(cluster: Cluster) -> None:
    import av

    request = gateway_pb2.SynthesizeRequest(speaker_id="alice", audio=cluster.speech)
    messages = _run(_synthesize(cluster.target, request))
    chunks = [m.chunk for m in messages if m.HasField("chunk")]
    assert [c.index for c in chunks] == list(range(len(chunks))) and chunks[-1].last
    assert messages[-1].HasField("result") and len(chunks) == len(messages) - 1
    result = messages[-1].result
    with av.open(io.BytesIO(b"".join(c.data for c in chunks))) as container:
        assert {s.type for s in container.streams} == {"video", "audio"}
        frames = list(container.decode(video=0))
    assert len(frames) == result.num_frames > 0 and frames[0].width == 64
    assert result.fps == 15 and result.words
    assert any(i.entry == "huge" and i.status == "inserted" for i in result.insertions)
    models = {m.component: m for m in result.lineage.models}
    assert set(models) == {"audio_to_pose", "body_model", "key_pose_dictionary", "renderer"}
    assert all(m.name.startswith("s2v-alice-") and m.alias == "production" for m in models.values())
    assert "input.audio" in result.lineage.data_hashes


def test_streamed_video_equals_rendering_the_final_motion(cluster: Cluster) -> None:
    """Longer speech is heard head first and rendered as its frames become final; the stream
    (a small first piece, then the rest) decodes to the frames of rendering the final motion
    at once, and SynthesizeMotion gives that same motion."""
    import av
    import numpy as np

    from services.synthesis_flow import wav_bytes
    from speech2video.audio.tts import synthesize

    speech = wav_bytes(synthesize(f"{TEXT} A huge wave. {TEXT}").audio)
    messages = _run(
        _synthesize(cluster.target, gateway_pb2.SynthesizeRequest(speaker_id="alice", audio=speech))
    )
    chunks, result = [m.chunk for m in messages[:-1]], messages[-1].result
    assert (chunks[0].first_frame, chunks[0].num_frames) == (0, 4) and len(chunks) > 2
    motion = _run(
        _motion(
            cluster.target, gateway_pb2.SynthesizeMotionRequest(speaker_id="alice", audio=speech)
        )
    )
    assert [(w.word, w.start) for w in motion.words] == [(w.word, w.start) for w in result.words]

    async def render() -> list:
        request = renderer_pb2.RenderVideoRequest(poses=motion.poses, audio=speech)
        meta = _stage_meta("alice")
        async with grpc.aio.insecure_channel(cluster.target) as channel:
            stub = renderer_pb2_grpc.RendererStub(channel)
            return [r.chunk async for r in stub.RenderVideo(request, metadata=meta)]

    def frames(pieces: list) -> list:
        with av.open(io.BytesIO(b"".join(c.data for c in pieces))) as container:
            return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]

    whole = _run(render())
    assert [(c.first_frame, c.num_frames) for c in whole] == [
        (c.first_frame, c.num_frames) for c in chunks
    ]
    streamed, rendered = frames(chunks), frames(whole)
    assert len(streamed) == len(rendered) == result.num_frames == motion.poses.num_frames
    assert all(np.array_equal(a, b) for a, b in zip(streamed, rendered, strict=True))


def test_text_input_and_motion_export(cluster: Cluster) -> None:
    request = gateway_pb2.SynthesizeMotionRequest(
        speaker_id="bob",
        text=gateway_pb2.TextInput(text="A huge wave.", language="en"),
        export_format=gateway_pb2.SynthesizeMotionRequest.EXPORT_FORMAT_SMPLX_NPZ,
    )
    reply = _run(_motion(cluster.target, request))
    assert [w.word for w in reply.words] == ["A", "huge", "wave"]
    assert reply.poses.num_frames > 0 and len(reply.poses.values) == reply.poses.num_frames * 106
    import numpy as np

    with np.load(io.BytesIO(reply.export_data)) as npz:
        assert npz["poses"].shape == (reply.poses.num_frames, 165)
    assert reply.export_filename.endswith(".npz")


def test_bvh_export_parses_on_the_speakers_skeleton(cluster: Cluster) -> None:
    from speech2video.body.bvh_export import read_bvh

    request = gateway_pb2.SynthesizeMotionRequest(
        speaker_id="bob",
        text=gateway_pb2.TextInput(text="Wave to everyone.", language="en"),
        export_format=gateway_pb2.SynthesizeMotionRequest.EXPORT_FORMAT_BVH,
    )
    reply = _run(_motion(cluster.target, request))
    assert reply.export_filename == "bob_motion.bvh"
    bvh = read_bvh(reply.export_data.decode())
    assert len(bvh.names) == 55 and bvh.values.shape[0] == reply.poses.num_frames
    assert bvh.frame_time == pytest.approx(1.0 / reply.poses.fps)


def test_two_speakers_side_by_side(cluster: Cluster) -> None:
    async def both() -> list:
        return await asyncio.gather(
            *(
                _motion(
                    cluster.target,
                    gateway_pb2.SynthesizeMotionRequest(speaker_id=s, audio=cluster.speech),
                )
                for s in SPEAKERS
            )
        )

    alice, bob = _run(both())
    assert {m.name.split("-")[1] for m in alice.lineage.models} == {"alice"}
    assert {m.name.split("-")[1] for m in bob.lineage.models} == {"bob"}
    assert alice.poses.num_frames == bob.poses.num_frames
    assert list(alice.poses.values) != list(bob.poses.values)  # different models


@pytest.mark.parametrize(
    ("request_kwargs", "code", "text"),
    [
        ({"speaker_id": "nobody"}, grpc.StatusCode.NOT_FOUND, "unknown speaker 'nobody'"),
        (
            {"speaker_id": "alice", "audio": b"not audio"},
            grpc.StatusCode.INVALID_ARGUMENT,
            "could not be decoded",
        ),
        ({"speaker_id": "Bad Id"}, grpc.StatusCode.INVALID_ARGUMENT, "invalid speaker id"),
        ({"speaker_id": "alice", "audio": b""}, grpc.StatusCode.INVALID_ARGUMENT, "audio or text"),
    ],
)
def test_errors_have_clean_codes(
    cluster: Cluster, request_kwargs: dict, code: object, text: str
) -> None:
    kwargs = dict(request_kwargs)
    if kwargs.get("speaker_id") != "alice" or "audio" not in kwargs:
        kwargs.setdefault("audio", cluster.speech)
    if kwargs.get("audio") == b"":
        del kwargs["audio"]
    request = gateway_pb2.SynthesizeRequest(**kwargs)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        _run(_synthesize(cluster.target, request))
    assert info.value.code() == code and text in info.value.details()
    _clean(info.value.details())


def test_too_long_audio_and_missing_token(cluster: Cluster) -> None:
    import numpy as np

    from services.synthesis_flow import wav_bytes
    from speech2video.audio.io import Audio

    long_audio = wav_bytes(Audio(np.zeros(16_000 * 121, np.float32), 16_000))
    request = gateway_pb2.SynthesizeMotionRequest(speaker_id="alice", audio=long_audio)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        _run(_motion(cluster.target, request))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "the limit is 120 s" in info.value.details()
    request = gateway_pb2.SynthesizeMotionRequest(speaker_id="alice", audio=cluster.speech)
    for token in (None, "wrong"):
        with pytest.raises(grpc.aio.AioRpcError) as info:
            _run(_motion(cluster.target, request, token))
        assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
        _clean(info.value.details())


def test_render_stream_arrives_piece_by_piece(cluster: Cluster) -> None:
    """The first piece reaches the caller before the renderer has produced the last one."""
    from services.convert import motion_to_pb
    from speech2video.body.motion_file import Motion

    async def render() -> list[tuple[int, bool]]:
        import numpy as np

        motion = Motion(np.zeros((60, 106), np.float32), 15.0, speaker="alice")
        request = renderer_pb2.RenderVideoRequest(poses=motion_to_pb(motion), chunk_frames=5)
        meta = _stage_meta("alice")
        seen: list[tuple[int, bool]] = []
        async with grpc.aio.insecure_channel(cluster.target) as channel:
            call = renderer_pb2_grpc.RendererStub(channel).RenderVideo(request, metadata=meta)
            async for reply in call:
                # (frames encoded when the piece was cut, whether the call had ended already)
                seen.append((reply.chunk.first_frame + reply.chunk.num_frames, call.done()))
        return seen

    seen = _run(render())
    assert len(seen) >= 10 and seen[-1][0] == 60
    assert seen[0][0] < 60 and not seen[0][1]  # first piece: 5-10 frames in, call still open


def test_health_and_reflection(cluster: Cluster) -> None:
    from grpc_health.v1 import health_pb2, health_pb2_grpc
    from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
        ProtoReflectionDescriptorDatabase,
    )

    with grpc.insecure_channel(cluster.target) as channel:  # no application header
        health = health_pb2_grpc.HealthStub(channel)
        serving = health_pb2.HealthCheckResponse.SERVING
        for service in ("", "speech2video.v1.Speech2Video", "speech2video.v1.Renderer"):
            reply = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=10)
            assert reply.status == serving, service
        with pytest.raises(grpc.RpcError) as info:
            health.Check(health_pb2.HealthCheckRequest(service="nope.Service"), timeout=10)
        assert info.value.code() == grpc.StatusCode.NOT_FOUND
        services = set(ProtoReflectionDescriptorDatabase(channel).get_services())
    assert {"speech2video.v1.Speech2Video", "grpc.health.v1.Health"} <= services


def _grpcurl() -> str | None:
    return os.environ.get("S2V_GRPCURL") or shutil.which("grpcurl")


@pytest.mark.skipif(_grpcurl() is None, reason="grpcurl not found (set S2V_GRPCURL)")
def test_grpcurl_lists_describes_and_calls(cluster: Cluster) -> None:
    exe = str(_grpcurl())
    listed = subprocess.run(
        [exe, "-plaintext", cluster.target, "list"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert "speech2video.v1.Speech2Video" in listed and "grpc.health.v1.Health" in listed
    health = subprocess.run(
        [exe, "-plaintext", cluster.target, "grpc.health.v1.Health/Check"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert "SERVING" in health
    call = subprocess.run(
        [
            exe,
            "-plaintext",
            "-H",
            "application: gateway",
            "-H",
            f"authorization: Bearer {TOKEN}",
            "-d",
            '{"speaker_id": "alice", "text": {"text": "huge", "language": "en"}}',
            cluster.target,
            "speech2video.v1.Speech2Video/SynthesizeMotion",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    assert '"huge"' in call and "s2v-alice-audio_to_pose" in call


def test_promotion_while_requests_flow_loses_none(cluster: Cluster, tmp_path: Path) -> None:
    from tests.fixtures.model_sets import build_model_set

    registry = cluster.registry
    new_dirs = build_model_set(tmp_path / "v2", "alice", seed=7)
    request = gateway_pb2.SynthesizeMotionRequest(
        speaker_id="alice", text=gateway_pb2.TextInput(text="A huge wave.", language="en")
    )

    async def flow() -> list[str]:
        versions: list[str] = []

        async def one() -> None:
            reply = await _motion(cluster.target, request)
            versions.append({m.component: m.version for m in reply.lineage.models}["audio_to_pose"])

        await asyncio.gather(*(one() for _ in range(3)))
        registry.register(
            "alice",
            "audio_to_pose",
            new_dirs["audio_to_pose"],  # type: ignore[attr-defined]
            alias="production",
        )
        for _ in range(40):  # every request succeeds; stop once the new version answers
            await asyncio.gather(one(), one())
            if versions[-1] == versions[-2] == "2":
                break
        return versions

    versions = _run(flow())
    assert versions[:3] == ["1", "1", "1"]
    assert versions[-1] == "2" and set(versions) == {"1", "2"}


def test_a_flooded_stage_answers_resource_exhausted_and_recovers(cluster: Cluster) -> None:
    """The renderer takes 2 requests at a time and queues 8 (its Serve config); 24 at once get
    either their video or RESOURCE_EXHAUSTED with a clean message, nothing else, and the stage
    serves normally once the flood has passed."""
    import numpy as np

    from services.convert import motion_to_pb
    from speech2video.body.motion_file import Motion

    motion = Motion(np.zeros((30, 106), np.float32), 15.0, speaker="alice")
    request = renderer_pb2.RenderVideoRequest(poses=motion_to_pb(motion), chunk_frames=10)
    meta = _stage_meta("alice")

    async def one(channel: grpc.aio.Channel) -> str:
        try:
            replies = [r async for r in renderer_pb2_grpc.RendererStub(channel).RenderVideo(
                request, metadata=meta, timeout=300
            )]  # fmt: skip
        except grpc.aio.AioRpcError as exc:
            _clean(exc.details())
            return f"{exc.code().name}: {exc.details()}"
        return "OK" if replies and replies[-1].chunk.last else "INCOMPLETE"

    async def flood(n: int) -> list[str]:
        async with grpc.aio.insecure_channel(cluster.target) as channel:
            return list(await asyncio.gather(*(one(channel) for _ in range(n))))

    outcomes = _run(flood(24))
    rejected = [o for o in outcomes if o != "OK"]
    assert rejected and all(o.startswith("RESOURCE_EXHAUSTED") for o in rejected), outcomes
    assert outcomes.count("OK") >= 2
    assert _run(flood(1)) == ["OK"]


def _scrape(url: str) -> str:
    import urllib.request

    return urllib.request.urlopen(url, timeout=10).read().decode()


def _samples(body: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """A scrape of Ray's metrics endpoint: (name, labels) → value, our ``s2v_`` series only."""
    from prometheus_client.parser import text_string_to_metric_families

    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(body)
        for s in family.samples
        if s.name.startswith("ray_s2v_")
    }


def _total(samples: dict, name: str, **labels: str) -> float:
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and want <= ls)


def _until(check: Any, what: str, within_s: float = 120.0) -> Any:
    """``check()`` once it is truthy (asked each second); fails naming ``what`` if it never is."""
    import time

    deadline = time.monotonic() + within_s
    while not (value := check()):
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(1.0)
    return value


def test_one_call_is_one_trace_and_moves_every_apps_metrics(cluster: Cluster) -> None:
    """A Synthesize call with x-request-id: the id comes back (trailers, lineage), the trace
    file holds one trace with a server span per application and stage call, every span carrying
    the id, and Ray's metrics endpoint shows each application's counters and histograms move
    (the scrape is kept beside the trace file)."""
    from services.metrics import metrics_url
    from services.tracing import read_spans

    url = metrics_url()
    assert url, "Ray exports no metrics port"
    before = _samples(_scrape(url))
    rid = "obs-trace-1"
    request = gateway_pb2.SynthesizeRequest(speaker_id="alice", audio=cluster.speech)

    async def call() -> tuple[list, dict]:
        async with grpc.aio.insecure_channel(cluster.target) as channel:
            stub = gateway_pb2_grpc.Speech2VideoStub(channel)
            meta = (*_meta(), ("x-request-id", rid))
            stream = stub.Synthesize(request, metadata=meta, timeout=300)
            messages = [m async for m in stream]
            return messages, dict(await stream.trailing_metadata())

    messages, trailers = _run(call())
    assert trailers["x-request-id"] == rid and messages[-1].result.lineage.request_id == rid
    apps = ("gateway", "transcription", "audio_to_pose", "key_pose", "renderer")
    traces = Path(os.environ["S2V_TRACES_FILE"])

    def servers() -> list[dict] | None:
        spans = [s for s in read_spans(traces) if s["attributes"].get("s2v.request_id") == rid]
        ours = {s["attributes"]["s2v.app"] for s in spans if s["kind"] == "SERVER"}
        return spans if ours == set(apps) else None

    spans = _until(servers, "a server span for every application")
    assert len({s["trace_id"] for s in spans}) == 1
    by_id = {s["span_id"]: s for s in spans}
    (root,) = [s for s in spans if s["attributes"].get("s2v.app") == "gateway"]
    clients = [s for s in spans if s["kind"] == "CLIENT"]
    stages = [s for s in spans if s["kind"] == "SERVER" and s is not root]
    assert clients and all(c["parent_id"] == root["span_id"] for c in clients)
    assert all(by_id[s["parent_id"]]["kind"] == "CLIENT" for s in stages)

    def moved() -> str | None:
        body = _scrape(url)
        now = _samples(body)
        ok = all(
            _total(now, "ray_s2v_requests_total", app=a, code="OK")
            > _total(before, "ray_s2v_requests_total", app=a, code="OK")
            for a in apps
        )
        return body if ok else None

    body = _until(moved, "every application's request counter moves")
    (traces.parent / "scrape.txt").write_text(body)
    after = _samples(body)
    for app in apps:
        assert _total(after, "ray_s2v_request_seconds_count", app=app, code="OK") >= 1
        if app != "gateway":  # the gateway's calls of this stage
            assert _total(after, "ray_s2v_stage_calls_total", app=app, code="OK") >= 1
    assert _total(after, "ray_s2v_first_chunk_seconds_count", app="gateway") >= 1
    frames = messages[-1].result.num_frames
    assert _total(after, "ray_s2v_frames_rendered_total", app="renderer") >= frames
    assert _total(after, "ray_s2v_models_loaded", speaker="alice", component="renderer") >= 1
    assert any(("application", "renderer") in labels for _, labels in after)  # Serve's tags


def test_readiness_waits_for_the_warm_speakers_models(cluster: Cluster) -> None:
    """Liveness is SERVING at once; readiness of the renderer (warm speaker alice) turns
    SERVING once a replica has alice's models loaded."""
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    serving = health_pb2.HealthCheckResponse.SERVING
    with grpc.insecure_channel(cluster.target) as channel:
        health = health_pb2_grpc.HealthStub(channel)

        def status(service: str) -> int:
            return health.Check(health_pb2.HealthCheckRequest(service=service), timeout=10).status

        assert status("speech2video.v1.Renderer") == serving
        for service in ("speech2video.v1.Renderer/ready", "speech2video.v1.Transcription/ready"):
            _until(lambda s=service: status(s) == serving, f"{service} SERVING")
        with pytest.raises(grpc.RpcError) as info:
            status("nope.Service/ready")
        assert info.value.code() == grpc.StatusCode.NOT_FOUND


# ----------------------------------------------------------------------------- SynthesizeLive


def _live_config(**kw: object) -> object:
    from speech2video_api.v1 import live_pb2

    fmt = live_pb2.LiveAudioFormat(encoding=live_pb2.LiveAudioFormat.ENCODING_PCM_S16LE)
    fmt.sample_rate = int(kw.pop("sample_rate", 16_000))  # type: ignore[call-overload]
    kw.setdefault("speaker_id", "alice")
    config = live_pb2.LiveConfig(audio_format=fmt, **kw)  # type: ignore[arg-type]
    return live_pb2.SynthesizeLiveRequest(config=config)


def _pcm16k(wav: bytes) -> bytes:
    import numpy as np

    from speech2video.audio.io import decode

    samples = decode(wav, max_seconds=None).samples
    return (np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes()


async def _live(
    target: str,
    first: object,
    pcm: bytes,
    chunk_s: float = 0.2,
    pace: float = 1.0,
    token: str | None = TOKEN,
    stall_s: float = 0.0,
) -> tuple[list[tuple[float, object]], float, grpc.StatusCode, str]:
    """(arrival time, message) pairs, when the last audio left, and the status."""
    import time

    from speech2video_api.v1 import live_pb2

    start = time.perf_counter()
    sent_all = [0.0]

    async def requests():
        yield first
        step = int(chunk_s * 16_000) * 2
        for i in range(0, len(pcm), step):
            yield live_pb2.SynthesizeLiveRequest(audio=pcm[i : i + step])
            if pace:
                await asyncio.sleep(chunk_s / pace)
        if stall_s:
            await asyncio.sleep(stall_s)
        sent_all[0] = time.perf_counter() - start

    seen: list[tuple[float, object]] = []
    async with grpc.aio.insecure_channel(target) as channel:
        stub = gateway_pb2_grpc.Speech2VideoStub(channel)
        try:
            async for reply in stub.SynthesizeLive(requests(), metadata=_meta(token), timeout=120):
                seen.append((time.perf_counter() - start, reply))
        except grpc.aio.AioRpcError as exc:
            return seen, sent_all[0], exc.code(), exc.details() or ""
    return seen, sent_all[0], grpc.StatusCode.OK, ""


def test_live_pieces_arrive_while_speech_is_still_streaming(cluster: Cluster) -> None:
    import av

    pcm = _pcm16k(cluster.speech)
    seconds = len(pcm) / 2 / 16_000
    _run(_live(cluster.target, _live_config(), pcm[:32_000], pace=0))  # models loaded, warm
    config = _live_config(raw_frames=True)
    seen, sent_all, code, details = _run(_live(cluster.target, config, pcm))
    assert code == grpc.StatusCode.OK, details
    chunks = [m.chunk for _, m in seen if m.HasField("chunk")]
    summary = seen[-1][1].summary
    assert seen[-1][1].HasField("summary") and chunks[-1].last
    assert [c.index for c in chunks] == list(range(len(chunks)))
    first_piece_at = next(t for t, m in seen if m.HasField("chunk"))
    assert first_piece_at < sent_all - 1.0, (first_piece_at, sent_all)  # while audio still comes
    with av.open(io.BytesIO(b"".join(c.data for c in chunks))) as container:
        frames = list(container.decode(video=0))
    assert len(frames) == summary.num_frames == round(seconds * 15)  # every frame once, at fps
    assert summary.fps == 15 and summary.duration_s == pytest.approx(seconds)
    assert len(summary.words) >= 5 and summary.words[0].start < summary.words[-1].start
    models = {m.component for m in summary.lineage.models}
    assert models == {"audio_to_pose", "body_model", "key_pose_dictionary", "renderer"}
    assert all(e.status == "late" for e in summary.skipped_late)
    raw = [m.frame for _, m in seen if m.HasField("frame")]  # decoded, with their audio
    assert [f.index for f in raw] == list(range(summary.num_frames))
    assert raw[0].width == 64 and len(raw[0].rgb) == 64 * 64 * 3
    assert abs(len(raw[5].audio_pcm) - 2 * 16_000 / 15) <= 2 and raw[5].audio_rate == 16_000


def test_live_bad_first_messages_and_no_token(cluster: Cluster) -> None:
    from speech2video_api.v1 import live_pb2

    pcm = b"\x00\x01" * 16_000
    audio_first = live_pb2.SynthesizeLiveRequest(audio=pcm)
    no_format = live_pb2.SynthesizeLiveRequest(config=live_pb2.LiveConfig(speaker_id="alice"))
    cases = {
        "the first message must be a config": audio_first,
        "config.audio_format.encoding": no_format,
        "config.speaker_id": _live_config(speaker_id=""),
        "config.audio_format.sample_rate": _live_config(sample_rate=100),
        "config.key_pose_wait_s": _live_config(key_pose_wait_s=99.0),
    }
    for field, first in cases.items():
        _, _, code, details = _run(_live(cluster.target, first, pcm, pace=0))
        assert code == grpc.StatusCode.INVALID_ARGUMENT and field in details, (field, details)
        _clean(details)
    _, _, code, _ = _run(_live(cluster.target, _live_config(), pcm, pace=0, token=None))
    assert code == grpc.StatusCode.UNAUTHENTICATED


def test_live_too_fast_and_stalled_clients_end_cleanly(cluster: Cluster) -> None:
    pcm = b"\x00\x02" * (16_000 * 30)  # 30 s sent at once: far past the 10 s of buffered audio
    _, _, code, details = _run(_live(cluster.target, _live_config(), pcm, 1.0, pace=0))
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED and "limit is 10 s" in details, details
    # a client that stops sending (the stack's gateway waits 2 s) is ended, not left hanging
    _, _, code, details = _run(
        _live(cluster.target, _live_config(), pcm[:32_000], pace=0, stall_s=6.0)
    )
    assert code == grpc.StatusCode.DEADLINE_EXCEEDED and "no message for 2 s" in details, details


def test_key_poses_take_the_motion_once_and_answer_with_edits(cluster: Cluster) -> None:
    """A request's second key-pose call sends the digest of the motion its first call sent and
    gets only the changed frames back; the result equals a call that sends the whole motion. A
    replica that does not hold a digest answers FAILED_PRECONDITION (the client then sends the
    poses again)."""
    import numpy as np

    from services.convert import motion_to_pb, words_to_pb
    from services.pose_deltas import motion_digest
    from services.stage_client import GrpcStages
    from services.synthesis_types import KeyPoseRequest
    from speech2video.motion.words import Word
    from speech2video_api.v1 import key_pose_pb2, key_pose_pb2_grpc

    words = [Word("huge", 0.4, 0.7, 1.0), Word("wave", 0.8, 1.0, 1.0), Word("news", 1.5, 1.8, 1.0)]
    options = KeyPoseRequest(force=("huge", "wave", "news"), seed=0)

    async def scenario() -> tuple:
        view = GrpcStages(cluster.target).with_versions({})
        motion, _ = await view.predict_poses("alice", cluster.speech)
        await view.insert_key_poses("alice", motion, words[:1], options, 0.75)
        digest = view._sent[motion_digest(motion)]
        second = await view.insert_key_poses("alice", motion, words, options)
        whole = await GrpcStages(cluster.target).insert_key_poses("alice", motion, words, options)
        forgetful = GrpcStages(cluster.target)
        forgetful._sent[motion_digest(motion)] = "0" * 64  # a digest no replica holds
        fallback = await forgetful.insert_key_poses("alice", motion, words, options)
        async with grpc.aio.insecure_channel(cluster.target) as channel:
            stub = key_pose_pb2_grpc.KeyPoseStub(channel)
            meta = _stage_meta("alice", "key_pose")
            common = {
                "words": words_to_pb(words),
                "options": key_pose_pb2.InsertKeyPosesRequest().options,
            }
            by_digest = await stub.InsertKeyPoses(
                key_pose_pb2.InsertKeyPosesRequest(poses_digest=digest, edits_only=True, **common),
                metadata=meta,
            )
            full = await stub.InsertKeyPoses(
                key_pose_pb2.InsertKeyPosesRequest(poses=motion_to_pb(motion), **common),
                metadata=meta,
            )
            try:
                await stub.InsertKeyPoses(
                    key_pose_pb2.InsertKeyPosesRequest(poses_digest="f" * 64, **common),
                    metadata=meta,
                )
                unknown = grpc.StatusCode.OK, ""
            except grpc.aio.AioRpcError as exc:
                unknown = exc.code(), exc.details()
        return motion, second, whole, fallback, by_digest, full, unknown

    motion, second, whole, fallback, by_digest, full, unknown = _run(scenario())
    assert not np.array_equal(second[0].poses, motion.poses)  # key poses went in
    for other in (whole, fallback):
        np.testing.assert_array_equal(second[0].poses, other[0].poses)
        assert second[1] == other[1] and second[3] == other[3]
    assert by_digest.edits and not by_digest.HasField("poses")
    assert by_digest.ByteSize() < full.ByteSize() / 2
    assert unknown[0] == grpc.StatusCode.FAILED_PRECONDITION and "send the poses" in unknown[1]


# ----------------------------------------------------------------------------- Pipecat (#14)
# Real Pipecat pipelines on this stack (tests/integration/serving/pipecat_e2e.py); each skips
# where pipecat is not installed.


def test_pipecat_avatar_pipeline_is_in_sync(cluster: Cluster, tmp_path: Path) -> None:
    pytest.importorskip("pipecat")
    from tests.integration.serving import pipecat_e2e

    figures = pipecat_e2e.speaks_in_sync(cluster.target, TOKEN, tmp_path)
    print(f"pipecat avatar (CPU, this machine's load): {figures}")


def test_pipecat_avatar_interruption_and_unknown_speaker(cluster: Cluster, tmp_path: Path) -> None:
    pytest.importorskip("pipecat")
    from tests.integration.serving import pipecat_e2e

    pipecat_e2e.interruption_cancels_cleanly(cluster.target, TOKEN, tmp_path)
    pipecat_e2e.unknown_speaker_is_an_error_frame(cluster.target, TOKEN, tmp_path)
