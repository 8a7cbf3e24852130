"""``s2v demo``: the main job on the embedded defaults, end to end, for a new user.

1. the demo speaker's model set (committed in ``assets/demo/models``, produced by the project's own
   pipeline: ``make repro`` then ``s2v demo --export-models``; or ``--models DIR``);
2. enrolled in the local MLflow registry (sqlite under ``$S2V_HOME``) as speaker ``demo``,
   promoted to ``production`` through the evaluation gate (skipped when already there);
3. the local stack started: every Ray Serve application, gRPC on 127.0.0.1;
4. the bundled speech (``assets/demo/jfk.wav``, public domain) synthesized through the gateway;
5. the mp4 path printed; the stack stopped (``--keep-serving`` leaves it up until Ctrl-C).
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import sys
import time
from pathlib import Path
from typing import IO

from speech2video_cli import framework_output

ASSETS = Path(__file__).resolve().parents[2] / "assets" / "demo"
SPEAKER = "demo"
DIGEST_TAG = "content.sha256"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="enrol the demo speaker, start the local stack, synthesize a video",
        description="The main job on the embedded defaults: enrol the demo speaker (its model "
        "set, trained by the project's pipeline) in the local registry, start every service "
        "on a local Ray, synthesize the bundled speech through the gRPC gateway and print "
        "where the mp4 is.",
    )
    p.add_argument("--audio", type=Path, default=ASSETS / "jfk.wav", help="speech to synthesize")
    p.add_argument("--text", default=None, help="synthesize this text (TTS) instead of audio")
    p.add_argument("-o", "--output", type=Path, default=Path("outputs/demo.mp4"))
    p.add_argument("--models", type=Path, default=ASSETS / "models", help="model set directory")
    p.add_argument("--keep-serving", action="store_true", help="leave the stack up (Ctrl-C)")
    p.add_argument("--grpc-port", type=int, default=None, help="gRPC port (default 9000)")
    p.add_argument(
        "--start-timeout", type=float, default=900.0, help="seconds to wait for the services"
    )
    p.add_argument(
        "--verbose", action="store_true", help="show Ray's and Serve's logs in the terminal"
    )
    p.add_argument(
        "--export-models",
        action="store_true",
        help="copy ./models (the output of `make repro`) into assets/demo/models and exit",
    )
    p.set_defaults(func=run)


class Progress:
    """Numbered steps with elapsed times, on stderr."""

    def __init__(self, total: int) -> None:
        self.total, self.index, self.start = total, 0, time.monotonic()
        self.stream: IO[str] | None = None  # None: sys.stderr at the time of each step

    def step(self, text: str) -> None:
        self.index += 1
        elapsed = time.monotonic() - self.start
        stream = self.stream or sys.stderr
        print(f"[{self.index}/{self.total}] {elapsed:6.1f}s  {text}", file=stream, flush=True)


def directory_digest(path: Path) -> str:
    """sha256 over the relative names and bytes of every file below ``path``."""
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(str(file.relative_to(path)).encode())
        digest.update(file.read_bytes())
    return digest.hexdigest()


def enrol(models: Path, progress: Progress) -> dict[str, str]:
    """Register the model set for ``demo`` and promote it to production unless it is already.

    returns: component → production version
    """
    from speech2video.errors import NotFoundError
    from speech2video.model_set import COMPONENTS
    from speech2video_mlops.promotion import promote
    from speech2video_mlops.registry import ModelRegistry

    registry = ModelRegistry()
    components = [c for c in COMPONENTS if (models / c).is_dir()]
    if not components:
        raise NotFoundError(f"no model set in {models} (expected component folders)")
    versions: dict[str, str] = {}
    fresh = False
    for component in components:
        digest = directory_digest(models / component)
        try:
            current = registry.by_alias(SPEAKER, component, "production")
        except NotFoundError:
            current = None
        if current is not None and current.tags.get(DIGEST_TAG) == digest:
            versions[component] = current.version
            continue
        ref = registry.register(
            SPEAKER, component, models / component, tags={DIGEST_TAG: digest}, alias="candidate"
        )
        versions[component] = ref.version
        fresh = True
    if fresh:
        decision = promote(registry, SPEAKER, "production", "candidate", versions=versions,
                           force=True, reason="s2v demo: the bundled demo model set")  # fmt: skip
        progress.step(f"registered and promoted: {decision.candidate}")
    else:
        progress.step(f"already enrolled: {versions}")
    return versions


def export_models() -> int:
    from speech2video.errors import NotFoundError
    from speech2video.model_set import COMPONENTS

    source = Path("models")
    found = [c for c in COMPONENTS if (source / c).is_dir()]
    if not found:
        raise NotFoundError("./models has no components: run `make repro` first")
    target = ASSETS / "models"
    for component in found:
        dst = target / component
        if dst.exists():
            shutil.rmtree(dst)
        shutil.copytree(source / component, dst)
    print(f"copied {found} into {target}")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.export_models:
        return export_models()
    from speech2video.errors import InputError

    if args.text is None and not args.audio.is_file():
        raise InputError(f"audio file not found: {args.audio}")
    progress = Progress(5)
    if args.verbose:
        return _demo(args, progress, framework_output.standard())
    log = framework_output.log_path("demo")
    print(f"framework logs: {log}", file=sys.stderr, flush=True)
    with framework_output.to_file(log) as terminal:
        progress.stream = terminal.err
        try:
            return _demo(args, progress, terminal)
        finally:
            progress.stream = None


def _demo(args: argparse.Namespace, progress: Progress, terminal: framework_output.Terminal) -> int:
    """Enrol, serve, synthesize; the demo's own lines go to ``terminal``."""
    progress.step(f"demo speaker model set: {args.models}")
    enrol(args.models, progress)
    progress.step("starting the local stack (Ray Serve: 5 applications, gRPC)")
    from services import deploy
    from speech2video.errors import S2VError

    config = deploy.prepare_config(
        deploy.load_config(None), args.grpc_port, renderer_gpus=deploy.local_renderer_gpus()
    )
    try:
        target = deploy.start(config, timeout_s=args.start_timeout, verbose=args.verbose)
    except RuntimeError as exc:
        deploy.shutdown()
        raise S2VError(f"the local stack did not come up: {exc}") from None
    try:
        what = f"text {args.text!r}" if args.text else str(args.audio)
        progress.step(f"synthesizing {what} through the gateway at {target}")
        summary = synthesize(target, args)
        progress.step(
            f"done: {summary['frames']} frames at {summary['fps']:g} fps, "
            f"{summary['words']} words, key poses at {summary['key_poses'] or 'none'}"
        )
        print(f"video: {args.output.resolve()}", file=terminal.out, flush=True)
        if args.keep_serving:
            print(f"serving gRPC on {target}; Ctrl-C to stop", file=terminal.err, flush=True)
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass
    finally:
        deploy.shutdown()
    return 0


def synthesize(target: str, args: argparse.Namespace) -> dict:
    """Call the gateway and write the streamed mp4; returns a short summary."""
    import asyncio

    import grpc

    from speech2video.errors import S2VError
    from speech2video_api.v1 import gateway_pb2, gateway_pb2_grpc

    request = gateway_pb2.SynthesizeRequest(speaker_id=SPEAKER)
    if args.text:
        request.text.CopyFrom(gateway_pb2.TextInput(text=args.text, language="en"))
    else:
        request.audio = args.audio.read_bytes()
    args.output.parent.mkdir(parents=True, exist_ok=True)

    async def call() -> dict:
        summary: dict = {}
        async with grpc.aio.insecure_channel(target) as channel:
            stub = gateway_pb2_grpc.Speech2VideoStub(channel)
            with args.output.open("wb") as out:
                replies = stub.Synthesize(request, metadata=[("application", "gateway")])
                async for reply in replies:
                    if reply.HasField("chunk"):
                        out.write(reply.chunk.data)
                        continue
                    r = reply.result
                    inserted = [k for k in r.insertions if k.status == "inserted"]
                    summary = {
                        "frames": r.num_frames,
                        "fps": r.fps,
                        "words": len(r.words),
                        "key_poses": ", ".join(f"{k.word}@{k.time:.2f}s" for k in inserted),
                    }
        return summary

    try:
        return asyncio.run(call())
    except grpc.aio.AioRpcError as exc:
        args.output.unlink(missing_ok=True)
        raise S2VError(f"gateway answered {exc.code().name}: {exc.details()}") from None
