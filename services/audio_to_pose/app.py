"""AudioToPose: speech (or timed words) → the speaker's pose sequence (paper §3.4)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from pydantic import BaseModel, Field
from ray import serve
from ray.serve import Application

from services.auth import stage_tokens
from services.convert import lineage_to_pb, motion_to_pb, words_from_pb
from services.errors import streaming_rpc, unary_rpc
from services.limits import (
    Bounds,
    check_fps,
    check_language,
    check_number,
    check_timed_words,
    decode_audio,
    pcm_audio,
)
from services.multiplexing import request_models, speaker_model_getter
from services.observability import observed_rpc
from services.routing import AppMethods
from speech2video import synthesis
from speech2video.errors import InputError
from speech2video.model_set import AUDIO_TO_POSE, BODY_MODEL, TEXT_TO_POSE
from speech2video_api.v1 import audio_to_pose_pb2 as pb


class Args(BaseModel):
    """Application arguments (``serve_config.yaml`` ``args``)."""

    model_alias: str | None = None  # None: $S2V_MODEL_ALIAS or production
    max_audio_seconds: float = Field(120.0, gt=0)
    max_loaded_speakers: int = Field(4, ge=1)


@serve.deployment(
    name="AudioToPose",
    max_ongoing_requests=8,
    max_queued_requests=32,
)
class AudioToPose(AppMethods):
    """``speech2video.v1.AudioToPose``; the speaker id is the multiplexed model id."""

    def __init__(self, args: Args) -> None:
        self.authorize = stage_tokens().check  # the gateway's service token only
        self.args = args
        self.models = speaker_model_getter(
            (AUDIO_TO_POSE, BODY_MODEL),
            (TEXT_TO_POSE,),
            alias=args.model_alias,
            max_loaded_speakers=args.max_loaded_speakers,
        )

    def check_health(self) -> None:
        return None

    @observed_rpc("audio_to_pose")
    @unary_rpc(lambda: pb.PredictPosesResponse())
    async def PredictPoses(  # noqa: N802 - the RPC name
        self, request: pb.PredictPosesRequest, grpc_context: Any
    ) -> pb.PredictPosesResponse:
        source = request.WhichOneof("source")
        if source is None:
            raise InputError("PredictPosesRequest needs audio, pcm or words")
        bounds = Bounds(self.args.max_audio_seconds)
        check_fps(request.fps, optional=True)
        if source == "words":
            check_timed_words(request.words.words, bounds, "words.words")
            check_number(request.words.duration_s, "words.duration_s", 0.01, bounds.max_seconds)
            check_language(request.words.language, "words.language")
        models = await request_models(self.models, grpc_context)
        profile = models.get(BODY_MODEL)
        fps = float(request.fps) or profile.fps
        if source == "words":
            text = request.words
            poses = await asyncio.to_thread(
                synthesis.poses_from_words,
                models.get(TEXT_TO_POSE),
                words_from_pb(text.words),
                text.duration_s,
                text.language,
                fps,
            )
            lineage = models.lineage(TEXT_TO_POSE, BODY_MODEL)
        else:
            if source == "pcm":
                audio = pcm_audio(request.pcm, bounds)
            else:
                audio = await asyncio.to_thread(decode_audio, request.audio, bounds)
            poses = await asyncio.to_thread(
                synthesis.poses_from_audio, models.get(AUDIO_TO_POSE), audio, fps
            )
            lineage = models.lineage(AUDIO_TO_POSE, BODY_MODEL)
        motion = synthesis.speaker_motion(poses, fps, profile)
        return pb.PredictPosesResponse(poses=motion_to_pb(motion), lineage=lineage_to_pb(lineage))

    @observed_rpc("audio_to_pose")
    @streaming_rpc
    async def PredictPosesStream(  # noqa: N802 - the RPC name
        self, request_stream: AsyncIterator[pb.PredictPosesStreamRequest], grpc_context: Any
    ) -> AsyncIterator[pb.PredictPosesStreamResponse]:
        from services.live_poses import pose_replies

        async for reply in pose_replies(
            request_stream, grpc_context, self.models, Bounds(self.args.max_audio_seconds)
        ):
            yield reply


def build_app(args: Args | dict[str, Any]) -> Application:
    """The ``audio_to_pose`` application."""
    return AudioToPose.bind(Args.model_validate(args))
