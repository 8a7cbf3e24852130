"""The state of one avatar stream (:mod:`services.pipecat_avatar.avatar`), and its figures."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from services.pipecat_avatar.timeline import StreamTimeline


@dataclass
class AvatarStreamStats:
    """One live stream, as this service saw it (times from ``time.perf_counter``)."""

    sample_rate: int
    channels: int
    audio_s: float = 0.0
    frames: int = 0
    fps: float = 0.0
    size: tuple[int, int] | None = None  # (width, height)
    first_audio_at: float | None = None
    first_frame_at: float | None = None
    ended_at: float | None = None
    error: str | None = None
    interrupted: bool = False

    @property
    def first_frame_latency_s(self) -> float | None:
        """From the first TTS audio frame to the first image pushed."""
        if self.first_audio_at is None or self.first_frame_at is None:
            return None
        return self.first_frame_at - self.first_audio_at


@dataclass
class AvatarStream:
    """One live stream of the avatar service: its held audio and frames, its call (a
    :class:`services.live_client.LiveSession`) and its two tasks (sender, reader)."""

    stats: AvatarStreamStats
    timeline: StreamTimeline
    prior: AvatarStream | None
    session: Any = None  # a LiveSession; None: audio only (no call)
    outgoing: asyncio.Queue[bytes | None] = field(default_factory=asyncio.Queue)
    progress: asyncio.Event = field(default_factory=asyncio.Event)
    done: asyncio.Event = field(default_factory=asyncio.Event)
    sender: asyncio.Task | None = None
    reader: asyncio.Task | None = None
    base_ns: int | None = None  # pts of its first sample, set once the prior stream is out
    closed: bool = False  # takes no more audio
    read_done: bool = False  # the call is over (or there was none)
    abort: str | None = None  # why this service cancelled the call (None: an interruption)


def mono(pcm: bytes, channels: int) -> bytes:
    """Interleaved 16-bit PCM → mono (the mean of the channels)."""
    if channels == 1:
        return bytes(pcm)
    samples = np.frombuffer(pcm[: len(pcm) - len(pcm) % (2 * channels)], "<i2")
    mixed = samples.reshape(-1, channels).astype(np.float32).mean(axis=1)
    return np.rint(mixed).astype("<i2").tobytes()
