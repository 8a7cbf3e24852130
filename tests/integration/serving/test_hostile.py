"""Every method of every application under attack, on one real local Serve stack.

Descriptor-driven (the generated ``*_pb2`` modules): each RPC is called with hostile values in
every field (alone and in seeded random combinations), hostile metadata, no or wrong credentials
and on every application that does not own it. Every answer must be a proper status (never
UNKNOWN or INTERNAL) with a one-line message carrying nothing of Ray's or Python's internals.
The module counts calls and clean answers and prints them at the end.
"""

from __future__ import annotations

import asyncio
import io
import math
import os
import random
import re
import socket
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest
from google.protobuf import descriptor as pbd
from google.protobuf import message_factory

from services.deploy import free_ports
from services.health import APPLICATIONS
from speech2video_api.v1 import (
    audio_to_pose_pb2,
    common_pb2,
    gateway_pb2,
    key_pose_pb2,
    live_pb2,
    renderer_pb2,
    transcription_pb2,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]
CALLER_TOKENS = ("caller-current-token", "caller-next-token")
SPEAKER = "alice"
#: What only Ray or Python write (pid, node IP, actor ids, paths, tracebacks, class reprs).
#: (A caller's own input echoed back, e.g. a path-like speaker id, is not a leak.)
LEAK = re.compile(
    r"Traceback|pid=|ip=|\bray::|Ray[A-Z]\w*Error|actor|Actor|ServeReplica|Replica\(|"
    r"\b(?=[0-9a-f]*[a-f])(?=[0-9a-f]*\d)[0-9a-f]{16,}\b|\b\d{1,3}(?:\.\d{1,3}){3}\b|"
    r"(?<![\w.])/(?:work|home|tmp|usr|root|opt|var|proc)/|site-packages|\.py\b|<class |"
    r"object at 0x|RayServeAPIService"
)
BAD_CODES = {grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL}
MODULES = (transcription_pb2, audio_to_pose_pb2, key_pose_pb2, renderer_pb2, gateway_pb2)


@dataclass
class Tally:
    calls: int = 0
    clean: int = 0
    codes: Counter = field(default_factory=Counter)
    dirty: list[str] = field(default_factory=list)

    def record(self, what: str, code: grpc.StatusCode, details: str) -> bool:
        self.calls += 1
        self.codes[code.name] += 1
        ok = code not in BAD_CODES and "\n" not in details and not LEAK.search(details)
        if ok:
            self.clean += 1
        else:
            self.dirty.append(f"{what}: {code.name} {details[:300]!r}")
        return ok


TALLY = Tally()


@dataclass
class Stack:
    target: str
    stage_token: str
    session_dir: str
    http_port: int


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    from services import auth, deploy
    from speech2video_mlops.registry import ModelRegistry
    from tests.fixtures.model_sets import register_model_set

    root = tmp_path_factory.mktemp("hostile")
    tokens = root / "caller_tokens"
    tokens.write_text("\n".join(CALLER_TOKENS) + "\n")
    mp = pytest.MonkeyPatch()
    mp.setenv("S2V_HOME", str(root / "home"))
    mp.delenv("MLFLOW_TRACKING_URI", raising=False)
    mp.delenv(auth.CALLER_ENV, raising=False)
    mp.delenv(auth.STAGE_FILE_ENV, raising=False)
    mp.setenv(auth.CALLER_FILE_ENV, str(tokens))
    mp.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    register_model_set(ModelRegistry(), SPEAKER, root / "sets", seed=0)
    config = deploy.prepare_config(deploy.load_config(), *free_ports(2))
    from tests.fixtures.audio_bombs import flac_bomb

    bomb = threading.Thread(target=flac_bomb)  # made while Serve starts (cached)
    bomb.start()
    try:
        target = deploy.start(config, num_cpus=2)
        import ray

        session = ray._private.worker._global_node.get_session_dir_path()
        bomb.join()
        yield Stack(
            target, str(auth.stage_tokens().token()), session, config["http_options"]["port"]
        )
    finally:
        deploy.shutdown()
        mp.undo()
        print(f"\nhostile calls: {TALLY.calls}, clean answers: {TALLY.clean}; {dict(TALLY.codes)}")


# ----------------------------------------------------------------------------- calling


@dataclass(frozen=True)
class Method:
    service: str
    name: str
    request: type
    response: type
    client_streaming: bool
    server_streaming: bool

    @property
    def path(self) -> str:
        return f"/{self.service}/{self.name}"

    @property
    def app(self) -> str:
        return APPLICATIONS[self.service]


def _methods() -> list[Method]:
    out = []
    for module in MODULES:
        for service in module.DESCRIPTOR.services_by_name.values():
            for m in service.methods:
                out.append(
                    Method(
                        service.full_name,
                        m.name,
                        message_factory.GetMessageClass(m.input_type),
                        message_factory.GetMessageClass(m.output_type),
                        m.client_streaming,
                        m.server_streaming,
                    )
                )
    return out


METHODS = _methods()


def _meta(stack: Stack, method: Method, app: str | None = None) -> list[tuple[str, str]]:
    """Valid metadata for ``method`` on ``app`` (default: its own): the right credential."""
    app = app or method.app
    token = CALLER_TOKENS[0] if app == "gateway" else stack.stage_token
    meta = [("application", app), ("authorization", f"Bearer {token}")]
    if app not in ("gateway", "transcription"):
        meta.append(("multiplexed_model_id", SPEAKER))
    return meta


async def call(
    channel: grpc.aio.Channel,
    method: Method,
    request: Any,
    metadata: list[tuple[str, str]],
    timeout: float = 60.0,
    target: str | None = None,
) -> tuple[grpc.StatusCode, str, list[Any]]:
    """One call of any kind; (code, details, responses).

    With ``target``, a client-streaming call goes through grpcio's synchronous API (in a
    thread): the asyncio client reports a server's early status (a refusal sent before it read
    the whole request stream) as INTERNAL "Internal error from Core" when one of its writes
    loses the race with that status (grpc/grpc#36066, open), so it would tally the client
    library's mistake, not the server's answer; the synchronous client reports the server's."""
    ser, de = (lambda m: m.SerializeToString()), method.response.FromString
    replies: list[Any] = []
    try:
        if method.client_streaming:
            requests = request if isinstance(request, list) else [request]
            if target is not None:
                return await asyncio.to_thread(
                    _sync_stream_call, target, method, requests, metadata, timeout
                )

            async def stream() -> AsyncIterator[Any]:
                for r in requests:
                    yield r

            rpc = channel.stream_stream(method.path, ser, de)
            async for reply in rpc(stream(), metadata=metadata, timeout=timeout):
                replies.append(reply)
        elif method.server_streaming:
            rpc = channel.unary_stream(method.path, ser, de)
            async for reply in rpc(request, metadata=metadata, timeout=timeout):
                replies.append(reply)
        else:
            rpc = channel.unary_unary(method.path, ser, de)
            replies.append(await rpc(request, metadata=metadata, timeout=timeout))
    except grpc.aio.AioRpcError as exc:
        return exc.code(), exc.details() or "", replies
    return grpc.StatusCode.OK, "", replies


def _sync_stream_call(
    target: str,
    method: Method,
    requests: list[Any],
    metadata: list[tuple[str, str]],
    timeout: float,
) -> tuple[grpc.StatusCode, str, list[Any]]:
    ser, de = (lambda m: m.SerializeToString()), method.response.FromString
    replies: list[Any] = []
    options = [("grpc.max_send_message_length", 64 << 20)]
    with grpc.insecure_channel(target, options=options) as channel:
        rpc = channel.stream_stream(method.path, ser, de)
        try:
            for reply in rpc(iter(requests), metadata=metadata, timeout=timeout):
                replies.append(reply)
        except grpc.RpcError as exc:
            return exc.code(), exc.details() or "", replies  # type: ignore[attr-defined]
    return grpc.StatusCode.OK, "", replies


async def sweep(
    stack: Stack,
    cases: list[tuple[str, Method, Any, list[tuple[str, str]]]],
    width: int = 4,
    timeout: float = 60.0,
) -> list[tuple[str, grpc.StatusCode, str]]:
    """Run the cases ``width`` at a time; every answer goes into the tally."""
    gate = asyncio.Semaphore(width)
    options = [("grpc.max_send_message_length", 64 << 20)]

    async with grpc.aio.insecure_channel(stack.target, options=options) as channel:

        async def one(case: tuple[str, Method, Any, list[tuple[str, str]]]) -> tuple:
            what, method, request, meta = case
            async with gate:
                code, details, _ = await call(channel, method, request, meta, timeout, stack.target)
            TALLY.record(what, code, details)
            return what, code, details

        return list(await asyncio.gather(*(one(c) for c in cases)))


def _run(coro: Any) -> Any:
    return asyncio.run(coro)


# ----------------------------------------------------------------------------- inputs


def _wav(seconds: float, rate: int = 16_000) -> bytes:
    import soundfile

    t = np.arange(int(seconds * rate)) / rate
    buf = io.BytesIO()
    soundfile.write(buf, (0.2 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), rate, format="WAV")
    return buf.getvalue()


def _poses(frames: int, fps: float = 15.0) -> common_pb2.PoseSequence:
    return common_pb2.PoseSequence(
        fps=fps, num_frames=frames, values=[0.0] * (frames * 106), speaker_id=SPEAKER
    )


def base_request(method: Method) -> Any:
    """A valid, cheap request for each RPC."""
    words = [common_pb2.Word(word="huge", start=0.1, end=0.3, confidence=1.0)]
    if method.name == "Transcribe":
        return transcription_pb2.TranscribeRequest(audio=_wav(0.5), language="en")
    if method.name == "PredictPoses":
        timed = audio_to_pose_pb2.TimedWords(words=words, language="en", duration_s=0.6)
        return audio_to_pose_pb2.PredictPosesRequest(words=timed)
    if method.name == "InsertKeyPoses":
        return key_pose_pb2.InsertKeyPosesRequest(poses=_poses(9), words=words)
    if method.name in ("RenderVideo", "RenderVideoStream"):
        return renderer_pb2.RenderVideoRequest(poses=_poses(3))
    if method.name == "PredictPosesStream":
        return audio_to_pose_pb2.PredictPosesStreamRequest(pcm=b"\x00\x10" * 1600)
    if method.name == "SynthesizeLive":  # a config only: the stream then ends (no audio)
        pcm = live_pb2.LiveAudioFormat(encoding=1, sample_rate=16_000)
        config = live_pb2.LiveConfig(
            speaker_id=SPEAKER, audio_format=pcm, key_poses=common_pb2.KeyPoseOptions(disabled=True)
        )
        return live_pb2.SynthesizeLiveRequest(config=config)
    text = gateway_pb2.TextInput(text="Hi.", language="en")
    options = common_pb2.KeyPoseOptions(disabled=True)
    return method.request(speaker_id=SPEAKER, text=text, key_poses=options)


_STRINGS = ("", "x" * 70_000, "demo\n", "demo\x00", "\u202e\U0001f600" * 40, "../../etc/passwd")
_BYTES = (
    b"",
    b"\x00" * 64,
    random.Random(1).randbytes(2048),
    b"RIFF\xff\xff\xff\x7fWAVEfmt \x10\x00\x00\x00\x01\x00\x08\x00",
    b"fLaC\x00\x00\x00\x22" + b"\xff" * 40,
    b"\xff\xfb\x90\x00" * 500,
)
_FLOATS = (math.nan, math.inf, -math.inf, -1.0, 0.0, 1e-9, 1e30, 3600.0)
_INTS = {
    pbd.FieldDescriptor.TYPE_INT32: (-1, 2**31 - 1, -(2**31)),
    pbd.FieldDescriptor.TYPE_INT64: (-1, 2**63 - 1, -(2**63)),
    pbd.FieldDescriptor.TYPE_UINT32: (0, 2**32 - 1, 7),
    pbd.FieldDescriptor.TYPE_UINT64: (0, 2**64 - 1),
}


def _scalars(f: pbd.FieldDescriptor) -> tuple[Any, ...]:
    t = f.type
    if t == f.TYPE_STRING:
        return _STRINGS
    if t == f.TYPE_BYTES:
        return _BYTES
    if t in (f.TYPE_FLOAT, f.TYPE_DOUBLE):
        return _FLOATS
    if t == f.TYPE_BOOL:
        return (True, False)
    if t == f.TYPE_ENUM:
        return (0, 1, 999, -5)
    return _INTS.get(t, (0, -1))


def _repeated(f: pbd.FieldDescriptor) -> tuple[list[Any], ...]:
    if f.type in (f.TYPE_FLOAT, f.TYPE_DOUBLE):
        return ([], [math.nan] * 106, [1e30] * 1060, [0.5] * 1_000_000)
    if f.type == f.TYPE_STRING:
        return ([], ["x" * 64] * 5_000, ["demo\x00"], ["x" * 10_000])
    return ([],)


def mutations(desc: pbd.Descriptor, depth: int = 0) -> list[tuple[str, Any]]:
    """(field path, setter) pairs: every field of the message set to each hostile value; a
    message field also emptied, and recursed into."""
    out: list[tuple[str, Any]] = []
    for f in desc.fields:
        name = f.name
        if f.type == f.TYPE_MESSAGE:
            if f.message_type.GetOptions().map_entry:
                continue
            if f.is_repeated:
                out.append((f"{name}=[]", lambda m, n=name: m.ClearField(n)))
                out.append((f"{name}=[empty]*3000", lambda m, n=name: [
                    getattr(m, n).add() for _ in range(3000)
                ]))  # fmt: skip
                sub = f.message_type
                for path, setter in mutations(sub, depth + 1) if depth < 1 else []:
                    out.append((f"{name}[0].{path}", _in_first(name, setter)))
                continue
            out.append((f"{name}=<empty>", lambda m, n=name: getattr(m, n).SetInParent()))
            out.append((f"{name}=<unset>", lambda m, n=name: m.ClearField(n)))
            if depth < 2:
                for path, setter in mutations(f.message_type, depth + 1):
                    out.append((f"{name}.{path}", _in_sub(name, setter)))
            continue
        if f.is_repeated:
            for values in _repeated(f):
                out.append((f"{name}=[{len(values)}]", _set_list(name, values)))
            continue
        for value in _scalars(f):
            out.append((f"{name}={value!r:.30}", _set(name, value)))
    return out


def _set(name: str, value: Any) -> Any:
    return lambda m: setattr(m, name, value)


def _set_list(name: str, values: list[Any]) -> Any:
    def apply(m: Any) -> None:
        m.ClearField(name)
        getattr(m, name).extend(values)

    return apply


def _in_sub(name: str, setter: Any) -> Any:
    return lambda m: setter(getattr(m, name))


def _in_first(name: str, setter: Any) -> Any:
    def apply(m: Any) -> None:
        items = getattr(m, name)
        setter(items[0] if len(items) else items.add())

    return apply


def hostile_cases(stack: Stack, combos: int) -> list[tuple[str, Method, Any, list]]:
    """Every single-field mutation of each method's base request, then ``combos`` seeded
    random combinations of two or three mutations per method."""
    rng = random.Random(10)
    cases = []
    for method in METHODS:
        muts = mutations(method.request.DESCRIPTOR)
        picks = [[m] for m in muts] + [rng.sample(muts, rng.choice((2, 3))) for _ in range(combos)]
        for picked in picks:
            request = base_request(method)
            try:
                for _, setter in picked:
                    setter(request)
            except (ValueError, TypeError, OverflowError):  # protobuf refuses it client-side
                continue
            what = f"{method.name} " + " & ".join(p for p, _ in picked)
            cases.append((what, method, request, _meta(stack, method)))
    return cases


# ----------------------------------------------------------------------------- tests


def test_every_app_refuses_calls_without_its_credential(stack: Stack) -> None:
    """Valid requests, so a missing check would reach a model: none does. Stages take only
    the service token (never a caller's); the gateway only callers' tokens, current or next."""
    bad = ["", "Bearer ", "Bearer wrong", "Basic " + CALLER_TOKENS[0], "bearer" + "x" * 3000]
    cases = []
    for method in METHODS:
        for auth in bad:
            meta = [m for m in _meta(stack, method) if m[0] != "authorization"]
            cases.append((f"{method.name} auth={auth[:20]!r}", method, base_request(method),
                          meta + ([("authorization", auth)] if auth else [])))  # fmt: skip
        other = stack.stage_token if method.app == "gateway" else CALLER_TOKENS[0]
        meta = [m for m in _meta(stack, method) if m[0] != "authorization"]
        cases.append((f"{method.name} other side's token", method, base_request(method),
                      [*meta, ("authorization", f"Bearer {other}")]))  # fmt: skip
    answers = _run(sweep(stack, cases))
    reached = [(w, c.name) for w, c, _ in answers if c != grpc.StatusCode.UNAUTHENTICATED]
    print(f"\nunauthenticated calls that reached a model: {len(reached)} of {len(answers)}")
    assert reached == []
    # the next token (rotation) and the current one both work
    gateway = next(m for m in METHODS if m.name == "SynthesizeMotion")
    for token in CALLER_TOKENS:
        meta = [("application", "gateway"), ("authorization", f"Bearer {token}")]
        case = ("rotation", gateway, base_request(gateway), meta)
        answers = _run(sweep(stack, [case], timeout=180.0))  # the first call loads the models
        assert answers[0][1] == grpc.StatusCode.OK, answers


def test_a_method_on_the_wrong_application_is_unimplemented(stack: Stack) -> None:
    cases = []
    for method in METHODS:
        for app in sorted(set(APPLICATIONS.values()) - {method.app}):
            cases.append((f"{method.name} on {app}", method, base_request(method),
                          _meta(stack, method, app)))  # fmt: skip
    answers = _run(sweep(stack, cases))
    wrong = [(w, c.name, d) for w, c, d in answers if c != grpc.StatusCode.UNIMPLEMENTED]
    assert wrong == []
    assert all(f"application={APPLICATIONS[m.service]}" in d for (_, _, d), m in zip(
        answers, [c[1] for c in cases], strict=True))  # fmt: skip


def test_hostile_metadata_and_speaker_ids(stack: Stack) -> None:
    ids = ["demo\n", "demo\x00", "x" * 20_000, "Alice", "../alice", "alice ", "\u00e9l\u00e8ve", ""]
    # as metadata (stages): 2,000 characters reach the proxy guard; over 16 KiB gRPC's transport
    # refuses the headers itself (RESOURCE_EXHAUSTED "received metadata size exceeds hard limit")
    model_ids = ["x" * 2_000, "x" * 20_000, "Alice", "../alice", "alice ", "nobody"]
    cases = []
    gateway = [m for m in METHODS if m.app == "gateway"]
    stages = [m for m in METHODS if m.app not in ("gateway", "transcription")]
    for method in gateway:
        for speaker in ids:
            request = base_request(method)
            (request.config if method.name == "SynthesizeLive" else request).speaker_id = speaker
            cases.append((f"{method.name} speaker_id={speaker[:12]!r}", method, request,
                          _meta(stack, method)))  # fmt: skip
    for method in stages:
        for speaker in model_ids:
            meta = [m for m in _meta(stack, method) if m[0] != "multiplexed_model_id"]
            meta.append(("multiplexed_model_id", speaker))
            what = f"{method.name} model id={len(speaker)}:{speaker!r:.14}"
            cases.append((what, method, base_request(method), meta))
        meta = [
            *_meta(stack, method),
            ("x-junk-bin", b"\x00\xff" * 100),
            ("request_id", "r" * 4000),
        ]
        cases.append((f"{method.name} junk metadata", method, base_request(method), meta))
    for method in METHODS:
        for app in ("", "nope", "gateway ", "x" * 3000):
            meta = [m for m in _meta(stack, method) if m[0] != "application"]
            cases.append((f"{method.name} application={app[:10]!r}", method,
                          base_request(method), [*meta, ("application", app)]))  # fmt: skip
    answers = _run(sweep(stack, cases))
    codes = {w: (c, d) for w, c, d in answers}
    expected = {f"{m.name} speaker_id={s[:12]!r}": "INVALID_ARGUMENT" for m in gateway for s in ids}
    for method in stages:
        for speaker, code in (("x" * 2_000, "INVALID_ARGUMENT"), ("Alice", "INVALID_ARGUMENT"),
                              ("nobody", "NOT_FOUND")):  # fmt: skip
            expected[f"{method.name} model id={len(speaker)}:{speaker!r:.14}"] = code
    wrong = {w: codes[w] for w, code in expected.items() if codes[w][0].name != code}
    assert wrong == {}
    assert TALLY.dirty == [], TALLY.dirty[:10]


def test_descriptor_driven_hostile_sweep(stack: Stack) -> None:
    """Every field of every request set to hostile values, alone and in combinations."""
    before = TALLY.calls
    answers = _run(sweep(stack, hostile_cases(stack, combos=80)))
    print(f"\nsweep: {len(answers)} calls; {Counter(c.name for _, c, _ in answers)}")
    assert TALLY.calls - before == len(answers) >= 850
    assert TALLY.dirty == [], TALLY.dirty[:10]


def test_a_decompression_bomb_is_refused_cheaply(stack: Stack) -> None:
    """715 KB of FLAC that decodes to 30 min of 8-channel 48 kHz silence: refused from its
    header by the gateway and by the transcription stage (which needs the service token)."""
    from tests.fixtures.audio_bombs import flac_bomb

    bomb = flac_bomb()
    by_name = {m.name: m for m in METHODS}
    synth = by_name["SynthesizeMotion"]
    transcribe = by_name["Transcribe"]
    cases = [
        ("bomb gateway", synth, gateway_pb2.SynthesizeMotionRequest(speaker_id=SPEAKER, audio=bomb),
         _meta(stack, synth)),
        ("bomb transcribe", transcribe, transcription_pb2.TranscribeRequest(audio=bomb),
         _meta(stack, transcribe)),
        ("bomb transcribe no token", transcribe, transcription_pb2.TranscribeRequest(audio=bomb),
         [("application", "transcription")]),
    ]  # fmt: skip
    answers = {w: (c, d) for w, c, d in _run(sweep(stack, cases))}
    for what in ("bomb gateway", "bomb transcribe"):
        code, details = answers[what]
        assert code == grpc.StatusCode.INVALID_ARGUMENT and "1800.0 s long" in details, details
    assert answers["bomb transcribe no token"][0] == grpc.StatusCode.UNAUTHENTICATED


def test_health_watch_streams_status(stack: Stack) -> None:
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    async def first(service: str) -> int:
        async with grpc.aio.insecure_channel(stack.target) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            call = stub.Watch(health_pb2.HealthCheckRequest(service=service), timeout=20)
            reply = await call.read()
            call.cancel()
            return reply.status

    serving = health_pb2.HealthCheckResponse.SERVING
    assert _run(first("")) == serving
    assert _run(first("speech2video.v1.Renderer")) == serving
    assert _run(first("nope.Service")) == health_pb2.HealthCheckResponse.SERVICE_UNKNOWN


def _own_address() -> str | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.255.255.255", 1))  # UDP: picks the route, sends nothing
            address = probe.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") else address


def test_the_local_stack_listens_on_loopback_and_hides_its_tokens(stack: Stack) -> None:
    """gRPC and HTTP answer on 127.0.0.1 only; no token is in Ray's logs or a process's
    environment."""
    grpc_port = int(stack.target.rsplit(":", 1)[1])
    address = _own_address()
    for port in (grpc_port, stack.http_port):
        with socket.socket() as sock:
            sock.settimeout(2)
            assert sock.connect_ex(("127.0.0.1", port)) == 0, f"nothing on 127.0.0.1:{port}"
        if address is not None:
            with socket.socket() as sock:
                sock.settimeout(2)
                assert sock.connect_ex((address, port)) != 0, f"{port} reachable on {address}"
    secrets = [stack.stage_token.encode(), *(t.encode() for t in CALLER_TOKENS)]
    found = []
    for path in Path(stack.session_dir).rglob("*"):
        if path.is_file() and path.stat().st_size < 50 << 20:
            data = path.read_bytes()
            found += [str(path.name) for s in secrets if s in data]
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                env = Path(f"/proc/{pid}/environ").read_bytes()
            except OSError:
                continue
            found += [f"pid {pid} environment" for s in secrets if s in env]
    assert found == []


def test_cancelling_a_render_stops_the_renderer(stack: Stack) -> None:
    """A long render (1800 frames) is cancelled after its first piece: the renderer replica's
    CPU use falls to idle instead of finishing the job for nobody."""
    import psutil

    renderer = [
        p for p in psutil.process_iter(["cmdline"])
        if "ServeReplica:renderer" in " ".join(p.info["cmdline"] or [])
    ]  # fmt: skip
    assert len(renderer) == 1
    proc = renderer[0]
    method = next(m for m in METHODS if m.name == "RenderVideo")
    request = renderer_pb2.RenderVideoRequest(poses=_poses(1800), chunk_frames=5)

    async def render_then_cancel() -> None:
        async with grpc.aio.insecure_channel(stack.target) as channel:
            rpc = channel.unary_stream(
                method.path, lambda m: m.SerializeToString(), method.response.FromString
            )
            call = rpc(request, metadata=_meta(stack, method), timeout=120)
            await call.read()
            await call.read()
            call.cancel()

    _run(render_then_cancel())
    idle = _seconds_until_idle(proc, time.monotonic())
    assert idle is not None, "the renderer kept working after the cancel"
    print(f"\nrenderer idle {idle:.2f} s after the cancel")


def _long_speech_wav(seconds: float) -> bytes:
    """About ``seconds`` of English TTS (seeded random sentences, no repeated piece)."""
    import soundfile

    from speech2video.audio.tts import synthesize

    rng = random.Random(0)
    vocabulary = "river bank morning train window music paper story people city house green light"
    vocabulary += " water table quick brown fox lazy dog small large walks talks reads writes"
    words_per_minute = 160
    sentences = [
        " ".join(rng.choice(vocabulary.split()) for _ in range(10)).capitalize() + "."
        for _ in range(int(seconds * words_per_minute / 60 / 10) + 1)
    ]
    speech = synthesize(" ".join(sentences), words_per_minute=words_per_minute)
    samples = speech.audio.samples[: int(seconds * speech.audio.rate)]
    buf = io.BytesIO()
    soundfile.write(buf, samples, speech.audio.rate, format="WAV")
    return buf.getvalue()


def test_a_transcription_past_its_deadline_stops_at_once(stack: Stack) -> None:
    """115 s of speech straight to Transcribe with a 1.5 s deadline (decoding it all takes
    ~10 s here): the worker process that was decoding is killed as soon as the deadline passes,
    the replica itself falls idle, and a fresh worker takes the killed one's place."""
    replica = _serving_replica("transcription")
    workers = {p.pid: p for p in replica.children(recursive=True)}
    assert len(workers) >= 1, "the Transcription replica has no worker processes"
    method = next(m for m in METHODS if m.name == "Transcribe")
    request = transcription_pb2.TranscribeRequest(audio=_long_speech_wav(115), language="en")

    async def too_slow() -> grpc.StatusCode:
        async with grpc.aio.insecure_channel(stack.target) as channel:
            code, details, _ = await call(channel, method, request, _meta(stack, method), 1.5)
            TALLY.record("transcribe past its deadline", code, details)
            return code

    code = _run(too_slow())
    passed = time.monotonic()
    assert code == grpc.StatusCode.DEADLINE_EXCEEDED
    while time.monotonic() - passed < 20 and all(w.is_running() for w in workers.values()):
        time.sleep(0.02)
    stopped = time.monotonic() - passed
    gone = [pid for pid, w in workers.items() if not w.is_running()]
    assert len(gone) == 1, "no worker was stopped: the transcription ran on for nobody"
    idle = _seconds_until_idle(replica, passed)
    assert idle is not None, "the Transcription replica kept working after the deadline"
    deadline = time.monotonic() + 60
    while len(replica.children(recursive=True)) < len(workers) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert len(replica.children(recursive=True)) == len(workers), (
        "the killed worker was not replaced"
    )
    print(
        f"\ntranscription worker killed {stopped:.2f} s after the deadline; "
        f"replica idle {idle:.2f} s"
    )


def _seconds_until_idle(proc: Any, since: float, window_s: float = 20.0) -> float | None:
    """Seconds from ``since`` until ``proc`` used under a fifth of a core for 2 s running
    (sampled every 0.25 s); None when it stayed busy for ``window_s``."""

    def cpu() -> float:
        times = proc.cpu_times()
        return times.user + times.system

    last, idle_since = cpu(), None
    while time.monotonic() - since < window_s:
        time.sleep(0.25)
        now = cpu()
        if now - last < 0.05:
            idle_since = idle_since or time.monotonic() - 0.25
            if time.monotonic() - idle_since >= 2.0:
                return idle_since - since
        else:
            idle_since = None
        last = now
    return None


def _serving_replica(app: str) -> Any:
    """The replica process of ``app`` that serves now: a child process that carries the
    replica's title (a worker it spawned) is not one, and of two replicas (one being replaced)
    the newer."""
    import psutil

    found = [
        p for p in psutil.process_iter(["cmdline"])
        if f"ServeReplica:{app}" in " ".join(p.info["cmdline"] or [])
    ]  # fmt: skip
    pids = {p.pid for p in found}
    top = [p for p in found if p.ppid() not in pids]
    assert top, found
    return max(top, key=lambda p: p.create_time())


def _replica(app: str) -> Any:
    import psutil

    found = [
        p for p in psutil.process_iter(["cmdline"])
        if f"ServeReplica:{app}" in " ".join(p.info["cmdline"] or [])
    ]  # fmt: skip
    assert len(found) == 1, found
    return found[0]


async def _synthesize_all(stack: Stack, n: int, started: asyncio.Event) -> list[str]:
    """``n`` concurrent Synthesize calls; each outcome is OK (every piece in order, then the
    result) or the status code name and details."""
    method = next(m for m in METHODS if m.name == "Synthesize")
    request = base_request(method)
    request.text.text = "A huge wave of good news for everyone today."

    async def one(channel: grpc.aio.Channel) -> str:
        rpc = channel.unary_stream(
            method.path, lambda m: m.SerializeToString(), method.response.FromString
        )
        indices, result = [], None
        try:
            async for reply in rpc(request, metadata=_meta(stack, method), timeout=300):
                if reply.HasField("chunk"):
                    indices.append(reply.chunk.index)
                    started.set()
                else:
                    result = reply.result
        except grpc.aio.AioRpcError as exc:
            TALLY.record("kill: Synthesize", exc.code(), exc.details() or "")
            return f"{exc.code().name}: {exc.details()}"
        TALLY.record("kill: Synthesize", grpc.StatusCode.OK, "")
        complete = result is not None and indices == list(range(len(indices)))
        return "OK" if complete else f"INCOMPLETE {indices}"

    async with grpc.aio.insecure_channel(stack.target) as channel:
        return list(await asyncio.gather(*(one(channel) for _ in range(n))))


def test_a_promotion_under_load_never_mixes_versions(stack: Stack, tmp_path: Path) -> None:
    """A new model set is promoted (aliases moved one by one, renderer first) while videos are
    made: each video's lineage is one state the registry really was in, never poses of one
    set with a rendering of another (the gateway pins each request to what it resolved)."""
    from speech2video_mlops.registry import ModelRegistry
    from tests.fixtures.model_sets import build_model_set

    order = ("audio_to_pose", "body_model", "key_pose_dictionary", "renderer")
    registry = ModelRegistry()
    old = {c: registry.by_alias(SPEAKER, c, "production").version for c in order}
    dirs = build_model_set(tmp_path / "v2", SPEAKER, seed=7)
    new = {c: registry.register(SPEAKER, c, dirs[c]).version for c in order}
    # the states the registry passes through, aliases moved in reverse order of `order`
    states = {tuple(new[c] if i >= k else old[c] for i, c in enumerate(order)) for k in range(5)}

    async def scenario() -> list[tuple[str, ...] | str]:
        seen: list[tuple[str, ...] | str] = []
        method = next(m for m in METHODS if m.name == "Synthesize")

        async def videos(channel: grpc.aio.Channel, stop: asyncio.Event) -> None:
            while not stop.is_set():
                code, details, replies = await call(
                    channel, method, base_request(method), _meta(stack, method), timeout=120
                )
                TALLY.record("promotion: Synthesize", code, details)
                if code != grpc.StatusCode.OK:
                    seen.append(f"{code.name}: {details}")
                    continue
                models = {m.component: m.version for m in replies[-1].result.lineage.models}
                seen.append(tuple(models[c] for c in order))

        stop = asyncio.Event()
        async with grpc.aio.insecure_channel(stack.target) as channel:
            workers = [asyncio.ensure_future(videos(channel, stop)) for _ in range(3)]
            await asyncio.sleep(2)
            for component in reversed(order):
                await asyncio.to_thread(
                    registry.set_alias, SPEAKER, component, "production", new[component]
                )
                await asyncio.sleep(1.0)
            await asyncio.sleep(6)  # past the gateway's refresh: the new set is served
            stop.set()
            await asyncio.gather(*workers)
        return seen

    seen = _run(scenario())
    print(f"\npromotion under load: {len(seen)} videos, {len(set(seen))} distinct sets")
    assert all(isinstance(s, tuple) and s in states for s in seen), seen
    assert seen[-1] == tuple(new[c] for c in order)


def test_a_killed_renderer_replica_loses_no_call(stack: Stack) -> None:
    """kill -9 of the renderer replica under 8 concurrent callers: the gateway renders again
    on the replica Serve starts in its place and skips the pieces already sent; none fails."""

    async def scenario() -> list[str]:
        started = asyncio.Event()
        calls = asyncio.ensure_future(_synthesize_all(stack, 8, started))
        await started.wait()
        _replica("renderer").kill()
        return await calls

    outcomes = _run(scenario())
    print(f"\nrenderer killed under 8 callers: {outcomes.count('OK')} of 8 complete")
    assert outcomes == ["OK"] * 8


def test_a_killed_gateway_replica_answers_unavailable(stack: Stack) -> None:
    """The calls in flight on a killed gateway replica end UNAVAILABLE with a clean line (safe
    to retry), and the gateway serves again once Serve has replaced it."""

    async def scenario() -> list[str]:
        started = asyncio.Event()
        calls = asyncio.ensure_future(_synthesize_all(stack, 2, started))
        await started.wait()
        _replica("gateway").kill()
        return await calls

    outcomes = _run(scenario())
    assert all(o == "OK" or o.startswith("UNAVAILABLE") for o in outcomes), outcomes
    deadline = time.monotonic() + 120
    while True:  # Serve replaces the replica; then a call succeeds again
        again = _run(_synthesize_all(stack, 1, asyncio.Event()))
        if again == ["OK"] or time.monotonic() > deadline:
            break
        assert again[0].startswith("UNAVAILABLE"), again
        time.sleep(2)
    assert again == ["OK"]


def test_zz_every_answer_was_clean(stack: Stack) -> None:
    print(f"\nhostile calls: {TALLY.calls}, clean answers: {TALLY.clean}; {dict(TALLY.codes)}")
    assert TALLY.calls >= 1000
    assert TALLY.clean == TALLY.calls, TALLY.dirty[:20]
