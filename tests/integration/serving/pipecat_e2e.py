"""The Pipecat integration end to end on the real local stack (called from test_serving.py, whose
module-scoped stack it shares; each test there skips without pipecat).

Real Pipecat pipelines (``PipelineWorker`` run by ``WorkerRunner``): the project's espeak-ng TTS →
a tap keeping the TTS audio → ``Speech2VideoAvatarService`` on the gateway's ``SynthesizeLive``
→ a frame log / ``AvatarRecorder``. The caller's token travels through a token file, the way
``$S2V_GATEWAY_TOKEN_FILE`` gives it.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from pathlib import Path
from typing import Any

from pipecat.frames.frames import (
    EndFrame,
    Frame,
    InterruptionFrame,
    OutputImageRawFrame,
    TTSAudioRawFrame,
    TTSSpeakFrame,
    TTSStartedFrame,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.workers.runner import WorkerRunner

from examples.pipecat_avatar import run_pipeline
from services.pipecat_avatar.avatar import Speech2VideoAvatarService
from services.pipecat_avatar.espeak_tts import EspeakTTSService
from services.pipecat_avatar.recorder import AvatarRecorder

#: About 2.5 s of espeak-ng speech.
SHORT = "Good morning, this is a short test of the avatar."
LONG = "This sentence is long enough to be cut off by the user half way through what it says."
RATE = 24_000  # the pipeline's audio rate (espeak's 16 kHz resampled by Pipecat)


class FrameLog(FrameProcessor):
    """Keeps every downstream frame in order (``frames``) and passes it on."""

    def __init__(self) -> None:
        super().__init__()
        self.frames: list[Frame] = []
        self.images = asyncio.Event()  # set at the first image

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if direction == FrameDirection.DOWNSTREAM:
            self.frames.append(frame)
            if isinstance(frame, OutputImageRawFrame):
                self.images.set()
        await self.push_frame(frame, direction)


def token_file(tmp: Path, token: str) -> Path:
    path = tmp / "caller_token"
    path.write_text(f"# the caller's token\n{token}\n")
    return path


def speaks_in_sync(target: str, token: str, tmp: Path) -> dict[str, Any]:
    """The example's pipeline: every check of a synchronized run; returns its figures."""
    tap, sink = AvatarRecorder(), AvatarRecorder(tmp / "avatar.mp4")
    threads = threading.active_count()

    async def go() -> tuple[Any, set]:
        report = await run_pipeline(
            SHORT,
            "alice",
            out=tmp / "avatar.mp4",
            server=target,
            token_file=str(token_file(tmp, token)),
            sample_rate=RATE,
            recorder=sink,
            tap=tap,
        )
        await asyncio.sleep(0.1)
        return report, asyncio.all_tasks() - {asyncio.current_task()}

    report, tasks = asyncio.run(go())
    assert not report.errors, report.errors
    assert not tasks, tasks  # no task left behind
    assert threading.active_count() <= threads + 1, threading.enumerate()  # (+ gRPC's poller)
    assert 1.5 < tap.audio_s < 4.0 and tap.sample_rate == RATE
    assert bytes(sink.audio) == bytes(tap.audio)  # the audio passed through intact
    assert report.fps == 15.0 and report.size == (64, 64)
    assert abs(len(sink.images) - tap.audio_s * report.fps) <= 1.5, (len(sink.images), tap.audio_s)
    pts = [p for p, *_ in sink.images]
    assert all(b > a for a, b in itertools.pairwise(pts)), "pts must increase"
    assert pts[0] == 0 and abs(pts[-1] / 1e9 - (len(pts) - 1) / 15) < 1e-3
    assert {(w, h, len(rgb)) for _, w, h, rgb in sink.images} == {(64, 64, 64 * 64 * 3)}
    assert report.written == round(sink.audio_s * 15) and (tmp / "avatar.mp4").stat().st_size
    return {
        "audio_s": round(tap.audio_s, 2),
        "frames": len(sink.images),
        "first_frame_latency_s": round(report.first_frame_latency_s or -1, 3),
        "rtf": round(report.rtf or -1, 3),
    }


async def _pipeline(
    target: str, token_path: Path, speaker: str, script: Any
) -> tuple[FrameLog, AvatarRecorder, Speech2VideoAvatarService, list[Any]]:
    """Runs [TTS, tap, avatar, log]; ``script(worker, log)`` queues the frames."""
    tap, log = AvatarRecorder(), FrameLog()
    avatar = Speech2VideoAvatarService(
        speaker=speaker, address=target, token_file=token_path, key_pose_wait_s=0.2
    )
    worker = PipelineWorker(
        Pipeline([EspeakTTSService(), tap, avatar, log]),
        params=PipelineParams(audio_out_sample_rate=RATE),
        cancel_on_idle_timeout=False,
        enable_rtvi=False,
    )
    errors: list[Any] = []

    @worker.event_handler("on_pipeline_error")
    async def on_error(_worker: Any, frame: Any) -> None:
        errors.append(frame)

    runner = WorkerRunner(handle_sigint=False)
    await runner.add_workers(worker)
    await asyncio.gather(runner.run(), script(worker, log))
    return log, tap, avatar, errors


def interruption_cancels_cleanly(target: str, token: str, tmp: Path) -> None:
    """An interruption once the first frames are out: nothing of that utterance after it, the
    next utterance whole and in sync."""

    async def script(worker: PipelineWorker, log: FrameLog) -> None:
        await worker.queue_frame(TTSSpeakFrame(LONG))
        await asyncio.wait_for(log.images.wait(), 120)
        await asyncio.sleep(0.3)
        await worker.queue_frame(InterruptionFrame())
        await asyncio.sleep(0.5)
        await worker.queue_frames([TTSSpeakFrame(SHORT), EndFrame()])

    started = time.perf_counter()
    log, _, avatar, errors = asyncio.run(_pipeline(target, token_file(tmp, token), "alice", script))
    assert not errors, [e.error for e in errors]
    assert time.perf_counter() - started < 120
    cut = next(i for i, f in enumerate(log.frames) if isinstance(f, InterruptionFrame))
    starts = [i for i, f in enumerate(log.frames) if isinstance(f, TTSStartedFrame)]
    restart = next(i for i in starts if i > cut)
    between = log.frames[cut:restart]
    assert not [f for f in between if isinstance(f, TTSAudioRawFrame | OutputImageRawFrame)]
    first, second = avatar.stats[0], avatar.stats[-1]
    assert first.interrupted and first.audio_s > 3.0 and first.frames < first.audio_s * 15 - 3
    assert not second.interrupted and second.error is None
    after = log.frames[restart:]
    audio_s = sum(len(f.audio) for f in after if isinstance(f, TTSAudioRawFrame)) / 2 / RATE
    images = [f for f in after if isinstance(f, OutputImageRawFrame)]
    assert abs(len(images) - audio_s * 15) <= 1.5 and audio_s == second.audio_s


def unknown_speaker_is_an_error_frame(target: str, token: str, tmp: Path) -> None:
    """An unknown speaker: one ErrorFrame naming the status and the speaker; the speech goes on."""

    async def script(worker: PipelineWorker, _log: FrameLog) -> None:
        await worker.queue_frames([TTSSpeakFrame(SHORT), EndFrame()])

    log, tap, avatar, errors = asyncio.run(
        _pipeline(target, token_file(tmp, token), "nobody_here", script)
    )
    mine = [e for e in errors if e.processor is avatar]
    assert len(mine) == 1, [e.error for e in errors]
    message = mine[0].error
    assert "Speech2Video SynthesizeLive failed: NOT_FOUND" in message, message
    assert "nobody_here" in message and "Traceback" not in message and "\n" not in message
    audio = b"".join(f.audio for f in log.frames if isinstance(f, TTSAudioRawFrame))
    assert audio == bytes(tap.audio) and tap.audio_s > 1.5  # the speech went on
    assert not [f for f in log.frames if isinstance(f, OutputImageRawFrame)]
