"""A Pipecat pipeline on this machine alone: text → espeak-ng TTS → Speech2Video avatar → MP4.

    python -m examples.pipecat_avatar --speaker demo --text "Hello there." --out avatar.mp4

Needs the pipecat extra (``make setup`` installs it; see docs/pipecat.md) and a running local
stack (``s2v serve up``, gateway on 127.0.0.1:9000). No cloud service: the speech is the
project's own espeak-ng (``EspeakTTSService``), the video the gateway's ``SynthesizeLive``
(``Speech2VideoAvatarService``), and ``AvatarRecorder`` writes what reaches the end of the
pipeline, frames and audio as they were pushed, to the MP4 (all in services/pipecat_avatar/).
It prints the frames, the first-frame latency (first TTS audio frame in → first video frame out)
and the real-time factor (the avatar's wall time over the seconds of speech).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Report:
    """What one run did. ``rtf``: avatar wall time (first audio in → last stream done) over
    speech seconds (below 1: faster than real time)."""

    frames: int = 0
    fps: float = 0.0
    size: tuple[int, int] | None = None
    audio_s: float = 0.0
    first_frame_latency_s: float | None = None
    rtf: float | None = None
    wall_s: float = 0.0
    written: int = 0
    errors: list[str] = field(default_factory=list)


async def run_pipeline(
    text: str,
    speaker: str,
    *,
    out: Path | None,
    server: str = "127.0.0.1:9000",
    token: str | None = None,
    token_file: str | None = None,
    sample_rate: int = 24_000,
    key_pose_wait_s: float = 0.0,
    recorder: Any = None,
    tap: Any = None,
) -> Report:
    """Speak ``text`` through the pipeline; the frames and audio go to ``out`` (an MP4).
    ``recorder``: the sink (default an ``AvatarRecorder(out)``); ``tap``: a processor put
    between the TTS and the avatar (tests look at the TTS audio there)."""
    from pipecat.frames.frames import EndFrame, TTSSpeakFrame
    from pipecat.pipeline.pipeline import Pipeline
    from pipecat.pipeline.worker import PipelineParams, PipelineWorker
    from pipecat.workers.runner import WorkerRunner

    from services.pipecat_avatar.avatar import Speech2VideoAvatarService
    from services.pipecat_avatar.espeak_tts import EspeakTTSService
    from services.pipecat_avatar.recorder import AvatarRecorder

    tts = EspeakTTSService()
    avatar = Speech2VideoAvatarService(
        speaker=speaker,
        address=server,
        token=token,
        token_file=token_file,
        key_pose_wait_s=key_pose_wait_s,
    )
    sink = recorder or AvatarRecorder(out)
    worker = PipelineWorker(
        Pipeline([tts, *([tap] if tap is not None else []), avatar, sink]),
        params=PipelineParams(audio_out_sample_rate=sample_rate, enable_metrics=True),
        cancel_on_idle_timeout=False,
        enable_rtvi=False,
    )
    report = Report()

    @worker.event_handler("on_pipeline_error")
    async def on_error(_worker: Any, frame: Any) -> None:
        report.errors.append(frame.error)

    started = time.perf_counter()
    await worker.queue_frames([TTSSpeakFrame(text), EndFrame()])
    runner = WorkerRunner(handle_sigint=False)
    await runner.add_workers(worker)
    await runner.run()
    report.wall_s = time.perf_counter() - started
    report.frames = sum(s.frames for s in avatar.stats)
    report.fps, report.size, report.audio_s = avatar.fps, avatar.size, sink.audio_s
    report.written = sink.written
    if avatar.stats:
        first, last = avatar.stats[0], avatar.stats[-1]
        report.first_frame_latency_s = first.first_frame_latency_s
        if first.first_audio_at is not None and last.ended_at is not None and sink.audio_s:
            report.rtf = (last.ended_at - first.first_audio_at) / sink.audio_s
    return report


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m examples.pipecat_avatar", description=__doc__)
    p.add_argument("--speaker", default="demo", help="enrolled speaker id (default: demo)")
    p.add_argument("--text", required=True, help="what the avatar says")
    p.add_argument("--out", type=Path, default=Path("avatar.mp4"), help="MP4 to write")
    p.add_argument("--server", default="127.0.0.1:9000", help="the gateway's gRPC address")
    p.add_argument("--token-file", default=None, help="caller token file (else the env's)")
    p.add_argument("--sample-rate", type=int, default=24_000, help="pipeline audio rate, Hz")
    p.add_argument("--key-pose-wait", type=float, default=0.0, help="seconds (0: server's)")
    p.add_argument("--verbose", action="store_true", help="pipecat's own debug log")
    args = p.parse_args(argv)
    if importlib.util.find_spec("pipecat") is None:
        print("pipecat is not installed: run `make setup` (see docs/pipecat.md)", file=sys.stderr)
        return 2
    if not args.verbose:
        from loguru import logger

        logger.remove()
        logger.add(sys.stderr, level="WARNING")
    report = asyncio.run(
        run_pipeline(
            args.text,
            args.speaker,
            out=args.out,
            server=args.server,
            token_file=args.token_file,
            sample_rate=args.sample_rate,
            key_pose_wait_s=args.key_pose_wait,
        )
    )
    for error in report.errors:
        print(f"error: {error}", file=sys.stderr)
    if report.written:
        print(f"wrote {args.out}")
    print(json.dumps(asdict(report)))
    return 1 if report.errors or not report.written else 0


if __name__ == "__main__":
    sys.exit(main())
