"""Serving benchmark: every Serve app on a local Ray, a generated model set, gRPC on 127.0.0.1.

    python -m benchmarks.serving [--size 256] [--preset demo] [--runs 5] [--callers 8]

Prints latency per hop (each stage called through the proxy, and a no-op hop for the proxy's
own overhead) and end to end for 10 s of speech (p50/p95), the first-chunk latency, throughput
with concurrent callers, the RSS of the cluster's processes, and the bytes one synthesis sends
to and receives from each stage (``benchmarks.wire_bytes``). Untrained weights: the figures
are compute and transport cost, not quality.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.options import add_renderer_option
from benchmarks.table import print_table


def _pct(values: list[float]) -> tuple[float, float]:
    arr = np.asarray(values) * 1000
    return float(np.percentile(arr, 50)), float(np.percentile(arr, 95))


def _speech(seconds: float) -> bytes:
    from services.synthesis_flow import wav_bytes
    from speech2video.audio.io import Audio
    from speech2video.audio.tts import synthesize

    text = "This is a huge wave of good news for everyone listening to the show today. " * 4
    audio = synthesize(text).audio
    n = int(seconds * audio.rate)
    samples = np.resize(audio.samples, n) if audio.samples.size < n else audio.samples[:n]
    return wav_bytes(Audio(samples.astype(np.float32), audio.rate))


async def _timed(coro_fn, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        await coro_fn()
        out.append(time.perf_counter() - t)
    return out


async def measure(target: str, speaker: str, speech: bytes, runs: int, callers: int) -> list:
    import grpc

    from services.stage_client import GrpcStages
    from services.synthesis_types import KeyPoseRequest
    from speech2video_api.v1 import gateway_pb2, gateway_pb2_grpc

    stages = GrpcStages(target)
    motion, _ = await stages.predict_poses(speaker, speech)  # warm every model
    from benchmarks.wire_bytes import synthesis_bytes

    wire = await synthesis_bytes(target, speaker, speech)
    words = await stages.transcribe(speech, "en")
    rows = []

    async def render() -> None:
        async for _ in stages.render(speaker, motion, speech):
            pass

    hops = {
        "hop: KeyPose no-op (proxy overhead)": lambda: stages.insert_key_poses(
            speaker, motion, [], KeyPoseRequest(disabled=True)
        ),
        "Transcribe 10 s": lambda: stages.transcribe(speech, "en"),
        "PredictPoses 10 s": lambda: stages.predict_poses(speaker, speech),
        "InsertKeyPoses": lambda: stages.insert_key_poses(speaker, motion, words, KeyPoseRequest()),
        "RenderVideo 10 s": render,
    }
    for name, fn in hops.items():
        n = runs * 4 if "no-op" in name else runs
        rows.append((name, *_pct(await _timed(fn, n)), n))
    await stages.close()

    request = gateway_pb2.SynthesizeRequest(speaker_id=speaker, audio=speech)
    meta = (("application", "gateway"),)
    async with grpc.aio.insecure_channel(target) as channel:
        stub = gateway_pb2_grpc.Speech2VideoStub(channel)

        async def synth() -> tuple[float, float]:
            t = time.perf_counter()
            first = None
            async for reply in stub.Synthesize(request, metadata=meta):
                if first is None and reply.HasField("chunk") and reply.chunk.num_frames:
                    first = time.perf_counter() - t
            return first or 0.0, time.perf_counter() - t

        results = [await synth() for _ in range(runs)]
        rows.append(("end to end Synthesize 10 s", *_pct([r[1] for r in results]), runs))
        rows.append(("first media chunk", *_pct([r[0] for r in results]), runs))
        t = time.perf_counter()
        outcome = await asyncio.gather(*(synth() for _ in range(callers)), return_exceptions=True)
        wall = time.perf_counter() - t
        ok = [r for r in outcome if not isinstance(r, BaseException)]
        rows.append((f"{callers} concurrent callers (each)", *_pct([r[1] for r in ok]), len(ok)))
        failed = len(outcome) - len(ok)
        rows.append(
            (
                f"throughput {callers} callers: {len(ok) * 10 / wall:.2f} s video/s",
                wall * 1000,
                wall * 1000,
                f"{failed} failed",
            )
        )
    return rows, wire


def cluster_rss_mb() -> float:
    import psutil

    me = psutil.Process(os.getpid())
    procs = [me, *me.children(recursive=True)]
    total = 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            continue
    return total / 2**20


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--preset", default="demo", help="renderer preset (tiny, demo)")
    p.add_argument("--fps", type=float, default=15.0)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--callers", type=int, default=8)
    add_renderer_option(p)
    args = p.parse_args(argv)

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from services import deploy
    from speech2video_mlops.registry import ModelRegistry
    from tests.fixtures.model_sets import register_model_set

    tmp = Path(tempfile.mkdtemp(prefix="s2v-bench-"))
    os.environ["S2V_HOME"] = str(tmp / "home")
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    os.environ.pop("S2V_GATEWAY_TOKEN", None)
    os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"
    register_model_set(
        ModelRegistry(),
        "bench",
        tmp / "sets",
        size=args.size,
        renderer_preset=args.preset,
        fps=args.fps,
        renderer_dir=args.renderer,
    )
    config = deploy.prepare_config(deploy.load_config(), *deploy.free_ports(2))
    t = time.perf_counter()
    target = deploy.start(config, num_cpus=2)
    startup = time.perf_counter() - t
    try:
        rows, wire = asyncio.run(measure(target, "bench", _speech(10.0), args.runs, args.callers))
        rss = cluster_rss_mb()
    finally:
        deploy.shutdown()
    title = (
        f"Serving, {args.size}² {args.preset} renderer at {args.fps:g} fps, 10 s speech, "
        f"2 CPUs; start-up {startup:.0f} s; cluster RSS {rss:.0f} MiB"
    )
    print_table(title, ("what", "p50 ms", "p95 ms", "n"), rows)
    print_table(
        "Bytes between the gateway and each stage, one whole-file synthesis of 10 s",
        ("application", "calls", "bytes sent", "bytes received"),
        wire,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
