"""Speech2Video.SynthesizeLive on the gateway: the first message checked, the flow run, replies.

Every check names its field (INVALID_ARGUMENT), before any stage is called: the first message
must be a ``config`` with a known speaker id, an audio format, key-pose word lists within the
limits of ``Synthesize``, a language code and ``key_pose_wait_s`` in [0, 10]; every later message
must be ``audio``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

from services.convert import insertion_to_pb, key_pose_options_from_pb, lineage_to_pb, piece_to_pb
from services.limits import check_language, check_word_list
from services.live_flow import LiveLimits, LiveRequest, LiveSummary, synthesize_live
from services.live_frames import FrameAudio, PieceDecoder, raw_frame
from services.live_stages import GrpcLiveStages, LiveStages
from speech2video import synthesis
from speech2video.errors import InputError
from speech2video_api.v1 import live_pb2
from speech2video_mlops.registry import check_speaker

#: Bytes one audio message may carry (a container piece or 10 s of 48 kHz PCM).
MAX_MESSAGE_BYTES = 1 << 20


def live_request(message: live_pb2.SynthesizeLiveRequest | None) -> LiveRequest:
    """The first message → a :class:`LiveRequest`; InputError naming the field."""
    if message is None:
        raise InputError("the request stream is empty: send a config first")
    if message.WhichOneof("message") != "config":
        raise InputError("the first message must be a config (speaker_id, audio_format)")
    config = message.config
    if not config.speaker_id:
        raise InputError("config.speaker_id is required")
    check_speaker(config.speaker_id)
    check_word_list(config.key_poses.force_words, "config.key_poses.force_words")
    check_word_list(config.key_poses.forbid_words, "config.key_poses.forbid_words")
    check_language(config.language, "config.language")
    fmt = config.audio_format
    if fmt.encoding not in live_pb2.LiveAudioFormat.Encoding.values():
        raise InputError(f"config.audio_format.encoding: unknown value {fmt.encoding}")
    options = key_pose_options_from_pb(config.key_poses)
    if options.seed is None:  # a seed derived from the request, as Synthesize does
        options = replace(options, seed=synthesis.seed_of(config.SerializeToString()))
    return LiveRequest(
        speaker=config.speaker_id,
        encoding=int(fmt.encoding),
        sample_rate=int(fmt.sample_rate),
        key_poses=options,
        key_pose_wait_s=float(config.key_pose_wait_s),
        language=config.language or "en",
        raw_frames=bool(config.raw_frames),
    )


async def _audio(
    requests: AsyncIterator[live_pb2.SynthesizeLiveRequest], tap: FrameAudio | None = None
) -> AsyncIterator[bytes]:
    async for message in requests:
        if message.WhichOneof("message") != "audio":
            raise InputError("every message after the first must be audio")
        if len(message.audio) > MAX_MESSAGE_BYTES:
            raise InputError(
                f"audio: {len(message.audio)} bytes in one message; the limit is "
                f"{MAX_MESSAGE_BYTES}"
            )
        if tap is not None:
            tap.push(message.audio)
        yield message.audio
    if tap is not None:
        tap.push(None)


def summary_to_pb(summary: LiveSummary, request_id: str) -> live_pb2.LiveSummary:
    from services.convert import words_to_pb

    return live_pb2.LiveSummary(
        words=words_to_pb(summary.words),
        insertions=[insertion_to_pb(e) for e in summary.insertions],
        skipped_late=[insertion_to_pb(e) for e in summary.late],
        lineage=lineage_to_pb(summary.lineage, request_id),
        num_frames=summary.num_frames,
        fps=summary.fps,
        duration_s=summary.duration_s,
    )


async def live_replies(
    stages: LiveStages,
    request: LiveRequest,
    requests: AsyncIterator[live_pb2.SynthesizeLiveRequest],
    limits: LiveLimits,
    request_id: str = "",
) -> AsyncIterator[live_pb2.SynthesizeLiveResponse]:
    """The replies of one stream whose first message was ``request``; with ``raw_frames`` each
    piece is followed by the frames decoded from it so far."""
    tap = FrameAudio(request.encoding, request.sample_rate, limits.max_seconds)
    decoder = PieceDecoder() if request.raw_frames else None
    audio = _audio(requests, tap if decoder else None)
    index, frames, fed = 0, 0, 0
    try:
        async for item in synthesize_live(stages, request, audio, limits):
            if isinstance(item, LiveSummary):
                for frame in await decoder.rest() if decoder else []:
                    raw = raw_frame(frame, frames, item.fps, tap)
                    yield live_pb2.SynthesizeLiveResponse(frame=raw, fps=item.fps)
                    frames += 1
                summary = summary_to_pb(item, request_id)
                yield live_pb2.SynthesizeLiveResponse(summary=summary, fps=item.fps)
                continue
            yield live_pb2.SynthesizeLiveResponse(
                chunk=piece_to_pb(item.piece, index), fps=item.fps
            )
            index += 1
            if decoder is not None:  # this piece's frames follow it (decoded: ~ms each)
                decoder.feed(item.piece.data)
                fed += item.piece.num_frames
                for frame in await decoder.frames_of(fed - frames):
                    raw = raw_frame(frame, frames, item.fps, tap)
                    yield live_pb2.SynthesizeLiveResponse(frame=raw, fps=item.fps)
                    frames += 1
    finally:
        if decoder is not None:
            decoder.close()


async def serve_live(
    gateway: Any,
    requests: AsyncIterator[live_pb2.SynthesizeLiveRequest],
    request_id: str,
) -> AsyncIterator[live_pb2.SynthesizeLiveResponse]:
    """The gateway deployment's SynthesizeLive: ``gateway`` gives its stages, version pins,
    dictionary cache and arguments."""
    stream = aiter(requests)
    request = live_request(await anext(stream, None))
    versions = await gateway.versions.resolve(request.speaker)
    stages = GrpcLiveStages(
        gateway.stages.with_versions(versions), gateway._live_dictionaries, gateway.args.model_alias
    )
    args = gateway.args
    limits = LiveLimits(
        max_seconds=args.live_max_seconds,
        max_buffered_s=args.live_max_buffered_s,
        idle_timeout_s=args.live_idle_timeout_s,
        key_pose_wait_s=args.live_key_pose_wait_s,
    )
    async for reply in live_replies(stages, request, stream, limits, request_id):
        yield reply
