"""Pipecat avatar benchmark: the example pipeline (espeak-ng TTS → avatar → MP4) on a local stack.

    python -m benchmarks.pipecat [--size 256] [--preset demo] [--runs 3]

Every Serve app on a local Ray with a generated model set (untrained weights: compute and
transport cost, not quality), then ``examples.pipecat_avatar.run_pipeline`` for a short (~2.5 s)
and a longer (~9 s) text, ``--runs`` times each after one warm-up. Prints per text the
first-frame latency (first TTS audio frame into the avatar → first video frame out of it) and
the real-time factor (the avatar's wall time from that first audio frame to its last stream's
end, over the seconds of speech), p50 and worst.
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

from benchmarks.table import print_table

TEXTS = {
    "short": "Good morning, this is a short test of the avatar.",
    "long": (
        "Good morning everyone. Today we look at the numbers from last quarter, what went well, "
        "what did not, and what we will change before the summer."
    ),
}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--preset", default="demo", help="renderer preset (tiny, demo)")
    p.add_argument("--fps", type=float, default=15.0)
    p.add_argument("--runs", type=int, default=3)
    args = p.parse_args(argv)

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from loguru import logger

    from examples.pipecat_avatar import run_pipeline
    from services import deploy
    from speech2video_mlops.registry import ModelRegistry
    from tests.fixtures.model_sets import register_model_set

    logger.remove()
    logger.add(sys.stderr, level="WARNING")
    tmp = Path(tempfile.mkdtemp(prefix="s2v-bench-"))
    os.environ["S2V_HOME"] = str(tmp / "home")
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    os.environ.pop("S2V_GATEWAY_TOKEN", None)
    os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"
    register_model_set(
        ModelRegistry(), "bench", tmp / "sets", size=args.size, renderer_preset=args.preset,
        fps=args.fps,
    )  # fmt: skip
    config = deploy.prepare_config(deploy.load_config(), *deploy.free_ports(2))
    target = deploy.start(config, num_cpus=2)
    rows = []
    load0 = os.getloadavg()[0]
    try:
        for name, text in TEXTS.items():
            latency, rtf, speech = [], [], 0.0
            for run in range(args.runs + 1):
                t = time.perf_counter()
                report = asyncio.run(
                    run_pipeline(text, "bench", out=tmp / f"{name}.mp4", server=target)
                )
                if report.errors:
                    raise SystemExit(f"{name}: {report.errors}")
                print(f"{name} run {run}: {report} ({time.perf_counter() - t:.1f} s)", flush=True)
                if run:  # the first is the warm-up
                    latency.append(report.first_frame_latency_s or 0.0)
                    rtf.append(report.rtf or 0.0)
                    speech = report.audio_s
            rows.append((f"{name} ({speech:.1f} s speech): first frame, s",
                         float(np.median(latency)), max(latency), args.runs))  # fmt: skip
            rows.append((f"{name}: real-time factor", float(np.median(rtf)), max(rtf), args.runs))
    finally:
        deploy.shutdown()
    title = (
        f"Pipecat avatar, {args.size}² {args.preset} renderer at {args.fps:g} fps, "
        f"{os.cpu_count()} CPUs, load average {load0:.1f} → {os.getloadavg()[0]:.1f}"
    )
    print_table(title, ("measure", "p50", "worst", "runs"), rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
