"""A live client: speech sent in real-time-paced chunks, the pieces' delays measured.

Used by ``s2v synthesize --live`` and ``python -m benchmarks.live``, against a gateway
(``SynthesizeLive`` over gRPC) or the same flow in this process
(:class:`services.live_stages.LocalLiveStages`). A frame's delay is the time from sending the
chunk that completed its audio (the frame's time) to the arrival of the piece carrying it.

:class:`LiveSession` is the protocol for callers whose audio comes as it is made (the Pipecat
avatar, :mod:`services.pipecat_avatar`): PCM at the producer's rate sent chunk by chunk, replies
read as they arrive, the call ended or cancelled from outside.
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


def caller_metadata(token: str | None) -> list[tuple[str, str]]:
    """Metadata of a gateway call: the route, and the caller's bearer token when given."""
    meta = [("application", "gateway")]
    if token:
        meta.append(("authorization", f"Bearer {token}"))
    return meta


def pcm_config(
    speaker: str,
    sample_rate: int = RATE,
    *,
    raw_frames: bool = False,
    key_pose_wait_s: float = 0.0,
    key_poses: Any = None,
    language: str = "",
) -> Any:
    """A ``LiveConfig`` for 16-bit mono PCM at ``sample_rate``; ``key_poses`` a
    :class:`services.synthesis_types.KeyPoseRequest` (None: the server's defaults)."""
    from speech2video_api.v1 import live_pb2

    fmt = live_pb2.LiveAudioFormat(encoding=live_pb2.LiveAudioFormat.ENCODING_PCM_S16LE)
    fmt.sample_rate = int(sample_rate)
    config = live_pb2.LiveConfig(
        speaker_id=speaker,
        audio_format=fmt,
        raw_frames=raw_frames,
        key_pose_wait_s=key_pose_wait_s,
        language=language,
    )
    if key_poses is not None:
        from services.convert import key_pose_options_to_pb

        config.key_poses.CopyFrom(key_pose_options_to_pb(key_poses))
    return config


#: Largest audio message sent (the gateway refuses messages over 1 MiB).
MAX_CHUNK_BYTES = 256 * 1024


class LiveSession:
    """One ``SynthesizeLive`` call whose audio is sent as it is produced.

    ``stub``: a ``Speech2VideoStub`` on a ``grpc.aio`` channel; ``config``: the first message's
    ``LiveConfig`` (see :func:`pcm_config`). :meth:`send` queues PCM bytes (cut into messages of
    at most :data:`MAX_CHUNK_BYTES`), :meth:`finish` ends the request stream (the server then
    renders the rest and sends the summary), :meth:`cancel` ends the call at once. Iterate
    :meth:`replies` for the ``SynthesizeLiveResponse`` messages; a failed call raises
    ``grpc.aio.AioRpcError`` there.
    """

    def __init__(
        self, stub: Any, config: Any, *, token: str | None = None, timeout: float | None = None
    ) -> None:
        self._queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._config = config
        self._finished = False
        self.sent_bytes = 0
        self._call = stub.SynthesizeLive(
            self._requests(), metadata=caller_metadata(token), timeout=timeout
        )

    async def _requests(self) -> AsyncIterator[Any]:
        from speech2video_api.v1 import live_pb2

        yield live_pb2.SynthesizeLiveRequest(config=self._config)
        while (chunk := await self._queue.get()) is not None:
            yield live_pb2.SynthesizeLiveRequest(audio=chunk)

    def send(self, pcm: bytes) -> None:
        """Queue ``pcm`` (16-bit little-endian mono at the config's rate) for sending."""
        if self._finished:
            raise RuntimeError("LiveSession.send after finish()")
        for i in range(0, len(pcm), MAX_CHUNK_BYTES):
            self._queue.put_nowait(bytes(pcm[i : i + MAX_CHUNK_BYTES]))
        self.sent_bytes += len(pcm)

    def finish(self) -> None:
        """No more audio: the request stream ends after what is queued (idempotent)."""
        if not self._finished:
            self._finished = True
            self._queue.put_nowait(None)

    def cancel(self) -> None:
        """End the call now (idempotent); :meth:`replies` then raises CANCELLED."""
        self._finished = True
        self._call.cancel()

    async def replies(self) -> AsyncIterator[Any]:
        """The server's messages as they arrive."""
        async for reply in self._call:
            yield reply


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

    config = pcm_config(speaker, RATE, key_pose_wait_s=key_pose_wait_s)

    async def requests() -> AsyncIterator[live_pb2.SynthesizeLiveRequest]:
        yield live_pb2.SynthesizeLiveRequest(config=config)
        async for chunk in audio.chunks():
            yield live_pb2.SynthesizeLiveRequest(audio=chunk)

    meta = caller_metadata(token)
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
