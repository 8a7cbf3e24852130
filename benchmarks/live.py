"""Live benchmark: ``python -m benchmarks.live [--seconds 60] [--long-seconds 300] [--size 256]``.

The live flow (``SynthesizeLive``'s, services/live_flow.py) in this process on a generated
model set with the ``--preset`` renderer (default ``demo``, the demo speaker's; untrained
weights: compute and transport cost, not quality) or the trained ``--renderer`` component (the
embedded default: ``assets/demo/models/renderer``, which carries an int8 step), speech from
the project's own TTS sent as 16 kHz PCM in 100 ms chunks at real time. Prints: the first
piece's latency after the first audio chunk (warm), the real-time factor of a sustained stream
(video seconds rendered per wall second, and how far the video fell behind), the delay from a
frame's audio being sent to its frame arriving (p50/p95), frames dropped or duplicated, key poses
inserted vs skipped as late, the RSS over a long stream (tiny renderer, fed faster than real
time so that it finishes: its length and speed are printed), and the renderer's CPU fps per
engine at the same size.
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

TEXT = "This is a huge wave of good news for everyone listening to the show today. "


def _speech(seconds: float) -> bytes:
    from services.live_client import pcm_of
    from speech2video.audio.io import Audio, resample
    from speech2video.audio.tts import synthesize

    spoken = synthesize(TEXT * 3).audio
    samples = resample(spoken.samples, spoken.rate)
    n = int(seconds * 16_000)
    return pcm_of(Audio(np.resize(samples, n).astype(np.float32), 16_000))


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _stages(
    root: Path,
    speaker: str,
    size: int,
    preset: str,
    fps: float,
    stt: object = None,
    renderer: Path | None = None,
) -> object:
    from services.live_stages import LocalLiveStages
    from services.synthesis_flow import LocalStages
    from speech2video_mlops.registry import ModelRegistry
    from tests.fixtures.model_sets import register_model_set

    register_model_set(
        ModelRegistry(),
        speaker,
        root / speaker,
        size=size,
        renderer_preset=preset,
        fps=fps,
        renderer_dir=renderer,
    )
    return LocalLiveStages(LocalStages(transcription=stt))  # type: ignore[arg-type]


def _frames_check(timings: object, expected: int) -> tuple[int, int]:
    """(dropped, duplicated) frames over the pieces' frame ranges."""
    seen = np.zeros(expected + 1000, np.int32)
    for p in timings.pieces:  # type: ignore[attr-defined]
        seen[p.first_frame : p.first_frame + p.num_frames] += 1
    return int(np.sum(seen[:expected] == 0)), int(np.sum(np.maximum(seen - 1, 0)))


async def _stream(
    stages: object,
    speaker: str,
    pcm: bytes,
    speed: float,
    limits: object,
    rss: list[float] | None = None,
) -> object:
    from services.live_client import PacedAudio, run_local

    audio = PacedAudio(pcm, 0.1, speed)
    sampler = None
    if rss is not None:

        async def sample() -> None:
            while True:
                rss.append(_rss_mb())
                await asyncio.sleep(1.0)

        sampler = asyncio.ensure_future(sample())
    try:
        return await run_local(stages, speaker, audio, limits=limits)
    finally:
        if sampler is not None:
            sampler.cancel()


def _steady(run: object) -> str:
    """Video seconds per wall second while the stream runs: from the arrival of the piece
    holding the frame a tenth of the way in to that of the piece holding the frame nine tenths
    in, so that neither the start (frames waiting for their first words) nor the end (the last
    words' recognition) counts; a stream that keeps up at 1x gives ~1.0 whatever its constant
    delay (the key-pose wait)."""
    pieces = run.pieces  # type: ignore[attr-defined]
    fps = run.summary.fps  # type: ignore[attr-defined]
    total = pieces[-1].first_frame + pieces[-1].num_frames
    lo = next(p for p in pieces if p.first_frame + p.num_frames > total // 10)
    hi = next(p for p in pieces if p.first_frame + p.num_frames > total * 9 // 10)
    frames = hi.first_frame + hi.num_frames - (lo.first_frame + lo.num_frames)
    span = hi.arrived_s - lo.arrived_s
    return f"{frames / fps / max(span, 1e-9):.2f}"


def _say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--seconds", type=float, default=60.0, help="sustained stream at 1x")
    p.add_argument("--long-seconds", type=float, default=300.0, help="long stream (memory)")
    p.add_argument("--long-speed", type=float, default=6.0, help="x real time of the long one")
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--fps", type=float, default=15.0, help="the speaker's (the demo's 15)")
    p.add_argument("--frames", type=int, default=8, help="frames per engine-fps round")
    p.add_argument("--preset", default="demo", help="renderer preset (the demo speaker's: demo)")
    add_renderer_option(p)
    p.add_argument("--render-threads", type=int, default=1, help="the renderer's CPU threads")
    p.add_argument("--stt-threads", type=int, default=1, help="the recogniser's CPU threads")
    p.add_argument(
        "--stt-in-process",
        action="store_true",
        help="recognise in a thread of this process (default: a worker process, as served)",
    )
    args = p.parse_args(argv)

    import torch

    from services.live_flow import LiveLimits
    from services.transcription_process import TranscriptionProcess
    from speech2video.audio.whisper_engine import THREADS_ENV

    torch.set_num_threads(args.render_threads)
    os.environ[THREADS_ENV] = str(args.stt_threads)
    stt = None if args.stt_in_process else TranscriptionProcess(args.stt_threads)
    load0 = os.getloadavg()[0]  # other work on the machine slows every figure here
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        os.environ["S2V_HOME"] = str(root / "home")
        os.environ.pop("MLFLOW_TRACKING_URI", None)
        os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"
        stages = _stages(root, "demo", args.size, args.preset, args.fps, stt, args.renderer)
        lenient = LiveLimits(max_seconds=3600, max_buffered_s=3600)
        rows: list[tuple[str, str]] = []
        _say("warming the models")
        asyncio.run(_stream(stages, "demo", _speech(3.0), 0, lenient))  # warm every model
        _say("5 s at 1x")
        short = asyncio.run(_stream(stages, "demo", _speech(5.0), 1.0, lenient))
        first = short.pieces[0]
        label = "first piece after the first 100 ms chunk (warm, 5 s at 1x)"
        rows.append((label, f"{first.arrived_s * 1000:.0f} ms ({first.num_frames} frames)"))

        _say(f"{args.seconds:g} s at 1x")
        start = time.perf_counter()
        run = asyncio.run(_stream(stages, "demo", _speech(args.seconds), 1.0, lenient))
        wall = time.perf_counter() - start
        s = run.summary
        behind = run.pieces[-1].arrived_s - args.seconds
        label = f"real-time factor, {args.seconds:g} s fed at 1x: video s / wall s, whole stream"
        value = f"{s.num_frames / s.fps / wall:.2f} (last piece {behind:.1f} s after the audio)"
        rows.append((label, value))
        rows.append(("  steady state: the same from 10 % to 90 % of the frames", _steady(run)))
        d = np.asarray(run.frame_delays)
        p50, p95 = np.percentile(d, 50), np.percentile(d, 95)
        rows.append(
            ("delay audio sent -> its frame arrived, p50 / p95", f"{p50:.2f} / {p95:.2f} s")
        )
        n = max(len(d) // 10, 1)
        growth = f"{np.mean(d[:n]):.2f} -> {np.mean(d[-n:]):.2f} s (a renderer behind: grows)"
        rows.append(("  delay over the stream, first / last tenth of its frames", growth))
        expected = round(args.seconds * args.fps)
        dropped, duplicated = _frames_check(run, expected)
        value = f"{expected} / {s.num_frames} / {dropped} / {duplicated}"
        rows.append(("frames: expected / rendered / dropped / duplicated", value))
        statuses = [e.status for e in s.insertions]
        inserted, late = statuses.count("inserted"), statuses.count("late")
        value = f"{inserted} / {late} / {len(statuses) - inserted - late}"
        rows.append(("key poses inserted / skipped as late / other outcomes", value))

        _say(f"{args.long_seconds:g} s at {args.long_speed:g}x, tiny renderer")
        tiny = _stages(root, "tiny", 64, "tiny", args.fps, stt)
        rss: list[float] = []
        speech = _speech(args.long_seconds)
        long_run = asyncio.run(_stream(tiny, "tiny", speech, args.long_speed, lenient, rss))
        q = max(len(rss) // 4, 1)
        label = (
            f"RSS over a {args.long_seconds:g} s stream at {args.long_speed:g}x "
            f"(tiny renderer, {long_run.summary.num_frames} frames)"
        )
        quarters = [np.mean(rss[:q]), np.mean(rss[q : 2 * q]), np.mean(rss[-q:])]
        rows.append((label, " -> ".join(f"{m:.0f}" for m in quarters) + " MB (quarters 1, 2, 4)"))

        _say("renderer engines")
        from benchmarks.renderer import engines_fps
        from speech2video.render.checkpoint import load_renderer

        loaded = load_renderer(root / "demo" / "demo" / "renderer")
        generator = loaded.generator
        for threads in sorted({1, 2, args.render_threads}):
            torch.set_num_threads(threads)
            fps, psnrs = engines_fps(generator, args.size, args.frames, 2, loaded.int8)
            for engine, value in fps.items():
                label = f"renderer {engine} fps, {args.size}², {threads} thread(s)"
                rows.append((label, f"{value:.1f}"))
            for engine, value in psnrs.items():
                label = f"PSNR torch vs {engine}, {args.size}², {threads} thread(s)"
                rows.append((label, f"{value:.1f} dB"))
    rows.append(
        ("load average (1 min) at the start / the end", f"{load0:.1f} / {os.getloadavg()[0]:.1f}")
    )
    if stt is not None:
        stt.close()
    where = "in this process" if args.stt_in_process else "in a worker process"
    print_table(
        f"Live synthesis ({os.cpu_count()} CPUs, {args.size}² {args.preset} renderer on "
        f"{args.render_threads} thread(s), {args.fps:g} fps; recogniser on {args.stt_threads} "
        f"thread(s) {where})",
        ("measure", "value"),
        rows,
    )


if __name__ == "__main__":
    main()
