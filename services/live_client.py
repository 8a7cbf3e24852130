"""A live client: speech sent in real-time-paced chunks, the pieces' delays measured.

Used by ``s2v synthesize --live`` and ``python -m benchmarks.live``, against a gateway
(``SynthesizeLive`` over gRPC) or the same flow in this process
(:class:`services.live_stages.LocalLiveStages`). A frame's delay is the time from sending the
chunk that completed its audio (the frame's time) to the arrival of the piece carrying it.
"""

from __future__ import annotations

import asyncio
import time
from bisect import bisect_left
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

RATE = 16_000


@dataclass(frozen=True)
class PieceTiming:
    """One piece: its frames, when it arrived and the delay of its first frame (seconds)."""

    index: int
    first_frame: int
    num_frames: int
    arrived_s: float
    delay_s: float
    size: int


@dataclass
class PacedAudio:
    """16 kHz PCM bytes sent ``chunk_s`` at a time at ``speed`` × real time (0: at once),
    remembering when each chunk left; ``idle_s`` extra silence on the wire at the end."""

    pcm: bytes
    chunk_s: float = 0.1
    speed: float = 1.0
    start: float = field(default_factory=time.perf_counter)
    ends: list[float] = field(default_factory=list)  # audio seconds sent by each chunk
    times: list[float] = field(default_factory=list)  # when each chunk left (from start)

    @property
    def seconds(self) -> float:
        return len(self.pcm) / 2 / RATE

    async def chunks(self) -> AsyncIterator[bytes]:
        step = max(2, int(self.chunk_s * RATE) * 2)
        self.start = time.perf_counter()
        for i in range(0, len(self.pcm), step):
            if self.speed:  # pace by the clock, not by sleeps (no drift)
                due = self.start + (i / 2 / RATE) / self.speed
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
            self.times.append(time.perf_counter() - self.start)
            self.ends.append(min(i + step, len(self.pcm)) / 2 / RATE)
            yield self.pcm[i : i + step]

    def sent_at(self, audio_s: float) -> float:
        """When the audio up to ``audio_s`` had been sent (from start)."""
        i = min(bisect_left(self.ends, audio_s - 1e-9), len(self.times) - 1)
        return self.times[i] if self.times else 0.0


@dataclass
class LiveTimings:
    pieces: list[PieceTiming] = field(default_factory=list)
    frame_delays: list[float] = field(default_factory=list)
    summary: Any = None
    fps: float = 0.0
    wall_s: float = 0.0

    def record(self, audio: PacedAudio, first: int, num: int, size: int, fps: float) -> PieceTiming:
        now = time.perf_counter() - audio.start
        delays = [now - audio.sent_at(f / fps) for f in range(first, first + num)]
        self.frame_delays.extend(delays)
        piece = PieceTiming(len(self.pieces), first, num, now, max(delays, default=0.0), size)
        self.pieces.append(piece)
        return piece


def pcm_of(audio: Any) -> bytes:
    """An ``Audio`` (16 kHz) → 16-bit little-endian PCM bytes."""
    from services.pcm import pcm16_bytes

    return pcm16_bytes(audio.samples)


async def run_local(
    stages: Any,
    speaker: str,
    audio: PacedAudio,
    *,
    key_pose_wait_s: float = 0.0,
    limits: Any = None,
    on_piece: Callable[[PieceTiming, bytes], None] | None = None,
    seed: int = 0,
) -> LiveTimings:
    """The live flow in this process on ``stages`` (a LocalLiveStages)."""
    from services.live_flow import LiveLimits, LiveRequest, LiveSummary, synthesize_live
    from services.synthesis_types import KeyPoseRequest

    request = LiveRequest(speaker, 1, RATE, KeyPoseRequest(seed=seed), key_pose_wait_s)
    out = LiveTimings()
    async for item in synthesize_live(stages, request, audio.chunks(), limits or LiveLimits()):
        if isinstance(item, LiveSummary):
            out.summary = item
        else:
            p = item.piece
            out.fps = item.fps
            piece = out.record(audio, p.first_frame, p.num_frames, len(p.data), item.fps)
            if on_piece:
                on_piece(piece, p.data)
    out.wall_s = time.perf_counter() - audio.start
    return out


async def run_remote(
    target: str,
    speaker: str,
    audio: PacedAudio,
    *,
    token: str | None = None,
    key_pose_wait_s: float = 0.0,
    on_piece: Callable[[PieceTiming, bytes], None] | None = None,
) -> LiveTimings:
    """``SynthesizeLive`` on a gateway."""
    import grpc

    from speech2video_api.v1 import gateway_pb2_grpc, live_pb2

    fmt = live_pb2.LiveAudioFormat(encoding=live_pb2.LiveAudioFormat.ENCODING_PCM_S16LE)
    fmt.sample_rate = RATE
    config = live_pb2.LiveConfig(
        speaker_id=speaker, audio_format=fmt, key_pose_wait_s=key_pose_wait_s
    )

    async def requests() -> AsyncIterator[live_pb2.SynthesizeLiveRequest]:
        yield live_pb2.SynthesizeLiveRequest(config=config)
        async for chunk in audio.chunks():
            yield live_pb2.SynthesizeLiveRequest(audio=chunk)

    meta = [("application", "gateway")]
    if token:
        meta.append(("authorization", f"Bearer {token}"))
    out = LiveTimings()
    async with grpc.aio.insecure_channel(target) as channel:
        stub = gateway_pb2_grpc.Speech2VideoStub(channel)
        async for reply in stub.SynthesizeLive(requests(), metadata=meta):
            out.fps = reply.fps
            if reply.HasField("chunk"):
                c = reply.chunk
                piece = out.record(audio, c.first_frame, c.num_frames, len(c.data), reply.fps)
                if on_piece:
                    on_piece(piece, c.data)
            elif reply.HasField("summary"):
                out.summary = reply.summary
    out.wall_s = time.perf_counter() - audio.start
    return out
