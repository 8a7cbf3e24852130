"""Speech2Video as a Pipecat video service: TTS audio in, the speaker's video out, in sync.

    TTSStartedFrame ──────────────────────────────────────────────────────► (passed on)
    TTSAudioRawFrame ─► held ─┬─► mono 16-bit PCM ─► SynthesizeLive ─► RGB frames (fps, size
                              │                      (raw_frames)          from the server)
                              └──► image k, its audio [k/fps, (k+1)/fps), image k+1, ... ◄┘
    TTSStoppedFrame ─► ends the stream; passed on after its last image and audio

Sync: each stretch of TTS audio is one live stream on the gateway (``services/live_client.py``);
its audio is held until the video of its time has come back, then pushed interleaved with the
images (:mod:`services.pipecat_avatar.timeline`), every image marked ``sync_with_audio`` so an
output transport shows it once the audio before it has been sent. Presentation timestamps
(``pts``, ns) run on the service's own clock, the TTS audio it has passed on: image k of a stream
starts at the same pts as the audio sample it goes with. The audio that leaves is the audio that
came in (chunks cut at frame boundaries, bytes unchanged), delayed by the video's latency.

A stream ends at ``TTSStoppedFrame``, after ``max_gap_s`` without audio, or at ``max_segment_s``
of audio; the next audio opens the next stream (which may render while the last one finishes).
``InterruptionFrame`` cancels the streams at once and drops what they hold. A failed stream
(unknown speaker, gateway down, ...) pushes an ``ErrorFrame`` naming the gRPC status and the
server's message, and its audio goes on without video. Back-pressure: audio is sent at most
``max_ahead_s`` ahead of the video that came back (the gateway ends a stream more than its
``live_max_buffered_s``, 10 s by default, ahead with RESOURCE_EXHAUSTED); after a
RESOURCE_EXHAUSTED the service waits (0.5 s, doubling to 8 s) before opening the next stream,
passing audio on without video meanwhile.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
from pipecat.frames.frames import (
    CancelFrame,
    EndFrame,
    Frame,
    InterruptionFrame,
    OutputImageRawFrame,
    StartFrame,
    TTSAudioRawFrame,
    TTSStoppedFrame,
)
from pipecat.processors.frame_processor import FrameDirection
from pipecat.services.ai_service import AIService
from pipecat.services.settings import ServiceSettings
from pipecat.utils.errors import ErrorCategory

from services.live_client import LiveSession, pcm_config
from services.pipecat_avatar.stream import AvatarStream, AvatarStreamStats, mono
from services.pipecat_avatar.timeline import AudioOut, ImageOut, StreamTimeline
from services.synthesis_types import KeyPoseRequest

NS = 1_000_000_000
#: Pipecat's category for a gRPC status of a failed stream.
CATEGORIES = {
    grpc.StatusCode.UNAUTHENTICATED: ErrorCategory.AUTHENTICATION,
    grpc.StatusCode.PERMISSION_DENIED: ErrorCategory.AUTHORIZATION,
    grpc.StatusCode.INVALID_ARGUMENT: ErrorCategory.INVALID_REQUEST,
    grpc.StatusCode.NOT_FOUND: ErrorCategory.INVALID_REQUEST,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ErrorCategory.RATE_LIMIT,
    grpc.StatusCode.UNAVAILABLE: ErrorCategory.CONNECTIVITY,
    grpc.StatusCode.DEADLINE_EXCEEDED: ErrorCategory.CONNECTIVITY,
}
BACKOFF_S = (0.5, 8.0)


class Speech2VideoAvatarService(AIService):
    """The enrolled ``speaker`` speaking the pipeline's TTS audio, as video frames in sync.

    Args:
        speaker: the enrolled speaker id.
        address: the gateway's gRPC address (``s2v serve up`` serves ``127.0.0.1:9000``).
        token: the caller's bearer token; else read from ``token_file``; else from
            ``$S2V_GATEWAY_TOKEN_FILE`` / ``$S2V_GATEWAY_TOKEN`` (none: an open local gateway).
        key_poses: key-pose options (force, forbid, seed, disabled); None: the server's.
        key_pose_wait_s: longest a frame waits for the words that may put a key pose on it
            (0: the gateway's default, 3 s). Shorter: earlier video, fewer key poses.
        language: language of the speech for the gateway's recognition ("" = English).
        max_ahead_s: most audio sent ahead of the video received, seconds.
        max_gap_s: a pause in the TTS audio this long ends the stream.
        max_segment_s: a stream is ended after this much audio (the gateway's limit is 120 s).
        sync_with_audio: mark images ``sync_with_audio`` (shown after the audio before them).
        session_factory: ``config -> LiveSession``-like; None: a ``LiveSession`` on a channel to
            ``address`` (tests give a fake).
    """

    def __init__(
        self,
        *,
        speaker: str,
        address: str = "127.0.0.1:9000",
        token: str | None = None,
        token_file: str | Path | None = None,
        key_poses: KeyPoseRequest | None = None,
        key_pose_wait_s: float = 0.0,
        language: str = "",
        max_ahead_s: float = 5.0,
        max_gap_s: float = 1.0,
        max_segment_s: float = 60.0,
        sync_with_audio: bool = True,
        session_factory: Callable[[Any], Any] | None = None,
        settings: ServiceSettings | None = None,
        **kwargs: Any,
    ) -> None:
        default_settings = ServiceSettings(model=None)
        if settings is not None:
            default_settings.apply_update(settings)
        super().__init__(settings=default_settings, **kwargs)
        if not speaker:
            raise ValueError("speaker is required")
        if min(max_ahead_s, max_gap_s, max_segment_s) <= 0:
            raise ValueError("max_ahead_s, max_gap_s and max_segment_s must be positive")
        self._speaker, self._address = speaker, address
        self._token, self._token_file = token, token_file
        self._key_poses, self._key_pose_wait_s = key_poses, key_pose_wait_s
        self._language = language
        self._max_ahead_s, self._max_gap_s = max_ahead_s, max_gap_s
        self._max_segment_s = max_segment_s
        self._sync_with_audio = sync_with_audio
        self._session_factory = session_factory
        self._channel: grpc.aio.Channel | None = None
        self._stub: Any = None
        self._current: AvatarStream | None = None  # takes audio now
        self._last: AvatarStream | None = None  # the newest stream (the next one's prior)
        self._streams: list[AvatarStream] = []  # not yet done
        self._clock_ns = 0  # pts after the last audio pushed
        self._backoff_s = 0.0
        self._resume_at = 0.0
        #: Every stream so far (first-frame latency, frames, fps, size, errors).
        self.stats: list[AvatarStreamStats] = []

    def can_generate_metrics(self) -> bool:
        return True

    @property
    def fps(self) -> float:
        """The video's frame rate (from the server; 0 before the first frame)."""
        return next((s.fps for s in reversed(self.stats) if s.fps), 0.0)

    @property
    def size(self) -> tuple[int, int] | None:
        """(width, height) of the frames (from the server; None before the first frame)."""
        return next((s.size for s in reversed(self.stats) if s.size), None)

    # ------------------------------------------------------------------ lifecycle

    async def start(self, frame: StartFrame) -> None:
        await super().start(frame)
        if self._session_factory is None and self._channel is None:
            from speech2video_api.v1 import gateway_pb2_grpc

            options = [("grpc.max_receive_message_length", 64 << 20)]
            self._channel = grpc.aio.insecure_channel(self._address, options=options)
            self._stub = gateway_pb2_grpc.Speech2VideoStub(self._channel)

    async def stop(self, frame: EndFrame) -> None:
        """The end of the pipeline: the open stream is finished and flushed first."""
        await super().stop(frame)
        await self._end_streams()
        await self._close()

    async def cancel(self, frame: CancelFrame) -> None:
        await super().cancel(frame)
        await self._drop_streams()
        await self._close()

    async def cleanup(self) -> None:
        await super().cleanup()
        await self._drop_streams()
        await self._close()

    async def _close(self) -> None:
        channel, self._channel, self._stub = self._channel, None, None
        if channel is not None:
            await channel.close()

    # ------------------------------------------------------------------ frames

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, InterruptionFrame):
            await self._drop_streams(interrupted=True)
            await self.push_frame(frame, direction)
        elif isinstance(frame, TTSAudioRawFrame) and direction == FrameDirection.DOWNSTREAM:
            await self._on_audio(frame)
        elif isinstance(frame, TTSStoppedFrame) and direction == FrameDirection.DOWNSTREAM:
            await self._end_streams()
            await self.push_frame(frame, direction)
        else:
            await self.push_frame(frame, direction)

    async def _on_audio(self, frame: TTSAudioRawFrame) -> None:
        stream = self._current
        if stream is not None and (
            stream.closed
            or (stream.stats.sample_rate, stream.stats.channels)
            != (frame.sample_rate, frame.num_channels)
        ):
            self._end_stream(stream)
            stream = None
        if stream is None:
            stream = await self._open(frame.sample_rate, frame.num_channels)
        stream.timeline.add_audio(frame.audio, frame)
        stream.stats.audio_s = stream.timeline.audio_s
        if stream.session is not None and not stream.read_done:
            stream.outgoing.put_nowait(mono(frame.audio, frame.num_channels))
        if stream.read_done:  # failed or audio only: the audio goes on as it comes
            await self._emit(stream)
        if stream.timeline.audio_s >= self._max_segment_s:
            self._end_stream(stream)

    async def _open(self, rate: int, channels: int) -> AvatarStream:
        stats = AvatarStreamStats(rate, channels, first_audio_at=time.perf_counter())
        stream = AvatarStream(stats, StreamTimeline(rate, channels), self._last)
        self.stats.append(stats)
        self._streams.append(stream)
        self._current = self._last = stream
        if time.monotonic() >= self._resume_at:
            config = pcm_config(
                self._speaker,
                rate,
                raw_frames=True,
                key_pose_wait_s=self._key_pose_wait_s,
                key_poses=self._key_poses,
                language=self._language,
            )
            stream.session = self._new_session(config)
            await self.start_ttfb_metrics()
            stream.sender = self.create_task(self._send(stream), "s2v-live-send")
        stream.reader = self.create_task(self._read(stream), "s2v-live-read")
        return stream

    def _new_session(self, config: Any) -> Any:
        if self._session_factory is not None:
            return self._session_factory(config)
        if self._stub is None:
            raise RuntimeError("Speech2VideoAvatarService got audio before its StartFrame")
        return LiveSession(self._stub, config, token=self._caller_token())

    def _caller_token(self) -> str | None:
        from services.auth import TokenSet, caller_tokens

        if self._token:
            return self._token
        if self._token_file:
            return TokenSet("gateway", path=self._token_file).token()
        return caller_tokens().token()

    # ------------------------------------------------------------------ streams

    async def _send(self, stream: AvatarStream) -> None:
        """Audio to the gateway as it comes, at most ``max_ahead_s`` ahead of the video."""
        while True:
            try:
                pcm = await asyncio.wait_for(stream.outgoing.get(), self._max_gap_s)
            except TimeoutError:  # a pause in the speech ends the stream
                self._end_stream(stream)
                continue
            if pcm is None:
                stream.session.finish()
                return
            while (
                stream.session.sent_bytes / 2 / stream.stats.sample_rate - stream.timeline.video_s
                > self._max_ahead_s
            ):
                stream.progress.clear()
                await stream.progress.wait()
            stream.session.send(pcm)

    async def _read(self, stream: AvatarStream) -> None:
        """The stream's frames as they come; then what it still holds; then done."""
        if stream.prior is not None:
            await stream.prior.done.wait()
        stream.base_ns = self._clock_ns
        try:
            if stream.session is not None:
                async for reply in stream.session.replies():
                    if reply.WhichOneof("payload") == "frame":
                        f = reply.frame
                        stream.timeline.add_image(f.index, f.width, f.height, f.rgb, reply.fps)
                        stream.progress.set()
                        await self._emit(stream)
                stream.timeline.finish()
                self._backoff_s = 0.0
            else:
                stream.timeline.abandon()
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.CANCELLED and stream.abort is None:
                return  # an interruption: _drop_streams does the rest
            await self._failed(stream, exc.code(), stream.abort or exc.details() or "")
            stream.timeline.abandon()
        except ValueError as exc:  # a reply that breaks the protocol
            await self._failed(stream, grpc.StatusCode.INTERNAL, str(exc))
            stream.timeline.abandon()
        stream.read_done = True
        await self._emit(stream)
        if stream.closed:
            self._finish(stream)

    async def _failed(self, stream: AvatarStream, code: grpc.StatusCode, details: str) -> None:
        if stream.session is not None:
            stream.session.cancel()
        if stream.sender is not None:  # (this is the reader)
            await self.cancel_task(stream.sender)
            stream.sender = None
        if code == grpc.StatusCode.RESOURCE_EXHAUSTED:
            self._backoff_s = min(max(self._backoff_s * 2, BACKOFF_S[0]), BACKOFF_S[1])
            self._resume_at = time.monotonic() + self._backoff_s
        message = f"Speech2Video SynthesizeLive failed: {code.name}: {details}"
        stream.stats.error = message
        await self.stop_ttfb_metrics()
        await self.push_error(message, category=CATEGORIES.get(code, ErrorCategory.SERVER))

    async def _emit(self, stream: AvatarStream) -> None:
        """Push what the stream's timeline lets go, with pts on this service's clock."""
        if stream.base_ns is None:
            return
        rate, stats = stream.stats.sample_rate, stream.stats
        for item in stream.timeline.ready():
            if isinstance(item, ImageOut):
                await self._push_image(stream, item)
            else:
                await self._push_audio(stream, item, rate)
        stats.frames = stream.timeline.images_out

    async def _push_image(self, stream: AvatarStream, item: ImageOut) -> None:
        image = OutputImageRawFrame(item.rgb, (item.width, item.height), "RGB")
        image.sync_with_audio = self._sync_with_audio
        image.pts = (stream.base_ns or 0) + item.start * NS // stream.stats.sample_rate
        stats = stream.stats
        if stats.first_frame_at is None:
            stats.first_frame_at = time.perf_counter()
            stats.fps, stats.size = stream.timeline.fps or 0.0, (item.width, item.height)
            await self.stop_ttfb_metrics()
        await self.push_frame(image)

    async def _push_audio(self, stream: AvatarStream, item: AudioOut, rate: int) -> None:
        source = item.source
        if item.whole:
            audio = source
        else:  # a piece of the frame: a frame like it
            context_id = getattr(source, "context_id", None)
            audio = TTSAudioRawFrame(item.data, rate, stream.stats.channels, context_id=context_id)
            audio.transport_destination = getattr(source, "transport_destination", None)
        start_ns = (stream.base_ns or 0) + item.start * NS // rate
        audio.pts = start_ns
        samples = len(item.data) // (2 * stream.stats.channels)
        self._clock_ns = max(self._clock_ns, start_ns + samples * NS // rate)
        await self.push_frame(audio)

    def _end_stream(self, stream: AvatarStream) -> None:
        """No more audio for ``stream``: its call's request stream ends."""
        if stream.closed:
            return
        stream.closed = True
        if self._current is stream:
            self._current = None
        if stream.session is not None and not stream.read_done:
            stream.outgoing.put_nowait(None)
        if stream.read_done:
            self._finish(stream)

    def _finish(self, stream: AvatarStream) -> None:
        stream.stats.ended_at = time.perf_counter()
        stream.done.set()
        if stream in self._streams:
            self._streams.remove(stream)

    async def _end_streams(self, timeout_s: float = 60.0) -> None:
        """End the open stream and wait until every stream has pushed all it holds."""
        if self._current is not None:
            self._end_stream(self._current)
        last = self._last
        if last is None:
            return
        try:
            await asyncio.wait_for(last.done.wait(), timeout_s)
        except TimeoutError:
            for stream in list(self._streams):
                stream.abort = f"no video within {timeout_s:g} s"
                if stream.session is not None:
                    stream.session.cancel()
            await last.done.wait()

    async def _drop_streams(self, interrupted: bool = False) -> None:
        """Cancel every stream now and forget what they hold (interruption, cancel, cleanup)."""
        streams, self._streams = self._streams, []
        self._current = self._last = None
        for stream in streams:
            stream.closed = True
            stream.stats.interrupted = interrupted
            if stream.session is not None:
                stream.session.cancel()
        for stream in streams:
            for task in (stream.sender, stream.reader):
                if task is not None and task is not asyncio.current_task():
                    await self.cancel_task(task)
            stream.sender = stream.reader = None
            stream.timeline.drop()
            stream.stats.ended_at = time.perf_counter()
            stream.done.set()
