"""KeyPose: key poses inserted at the speaker's key words (paper §3.3)."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
from pydantic import BaseModel, Field
from ray import serve
from ray.serve import Application

from services.auth import stage_tokens
from services.convert import (
    insertion_to_pb,
    key_pose_options_from_pb,
    lineage_to_pb,
    motion_from_pb,
    motion_to_pb,
    words_from_pb,
)
from services.errors import RpcError, unary_rpc
from services.limits import Bounds, check_number, check_timed_words, check_word_list
from services.multiplexing import request_models, speaker_model_getter
from services.observability import observed_rpc
from services.pose_deltas import DIGEST_CHARS, MotionCache, motion_digest, pose_edits
from services.routing import AppMethods
from speech2video import synthesis
from speech2video.errors import InputError
from speech2video.model_set import KEY_POSE_DICTIONARY
from speech2video_api.v1 import key_pose_pb2 as pb


class Args(BaseModel):
    """Application arguments (``serve_config.yaml`` ``args``)."""

    model_alias: str | None = None  # None: $S2V_MODEL_ALIAS or production
    max_loaded_speakers: int = Field(8, ge=1)
    #: Longest motion accepted, seconds.
    max_audio_seconds: float = Field(120.0, gt=0)


@serve.deployment(
    name="KeyPose",
    max_ongoing_requests=16,
    max_queued_requests=64,
)
class KeyPose(AppMethods):
    """``speech2video.v1.KeyPose``; the speaker id is the multiplexed model id."""

    def __init__(self, args: Args) -> None:
        self.authorize = stage_tokens().check  # the gateway's service token only
        self.args = args
        self.sent = MotionCache()  # motions earlier calls sent, by digest
        self.models = speaker_model_getter(
            (KEY_POSE_DICTIONARY,),
            alias=args.model_alias,
            max_loaded_speakers=args.max_loaded_speakers,
        )

    def check_health(self) -> None:
        return None

    @observed_rpc("key_pose")
    @unary_rpc(lambda: pb.InsertKeyPosesResponse())
    async def InsertKeyPoses(  # noqa: N802 - the RPC name
        self, request: pb.InsertKeyPosesRequest, grpc_context: Any
    ) -> pb.InsertKeyPosesResponse:
        bounds = Bounds(self.args.max_audio_seconds)
        motion, digest = self._motion(request, bounds)
        check_timed_words(request.words, bounds)
        check_word_list(request.options.force_words, "options.force_words")
        check_word_list(request.options.forbid_words, "options.forbid_words")
        if request.HasField("words_complete_before_s"):
            check_number(
                request.words_complete_before_s, "words_complete_before_s", 0.0, bounds.max_seconds
            )
        words = words_from_pb(request.words)
        options = key_pose_options_from_pb(request.options)
        models = await request_models(self.models, grpc_context)
        seed = (
            options.seed
            if options.seed is not None
            else synthesis.seed_of(" ".join(f"{w.word}@{w.start:.3f}" for w in words))
        )
        result = await asyncio.to_thread(
            synthesis.insert_key_poses,
            models.get(KEY_POSE_DICTIONARY),
            motion,
            words,
            seed=seed,
            force=options.force,
            forbid=options.forbid,
            interpolation=options.interpolation,
            disabled=options.disabled,
        )
        complete_before = (
            request.words_complete_before_s if request.HasField("words_complete_before_s") else None
        )
        final = synthesis.final_frames(
            models.get(KEY_POSE_DICTIONARY), motion, complete_before, options.disabled
        )
        reply = pb.InsertKeyPosesResponse(
            insertions=[insertion_to_pb(e) for e in result.log],
            lineage=lineage_to_pb(models.lineage(KEY_POSE_DICTIONARY)),
            final_frames=final,
            poses_digest=digest,
        )
        if request.edits_only:
            for start, frames in pose_edits(motion.poses, result.poses):
                edited = pb.PoseEdit(
                    start_frame=start, poses=motion_to_pb(motion.with_poses(frames))
                )
                reply.edits.append(edited)
        else:
            reply.poses.CopyFrom(motion_to_pb(motion.with_poses(result.poses)))
        return reply

    def _motion(self, request: pb.InsertKeyPosesRequest, bounds: Bounds) -> tuple[Any, str]:
        """The request's motion and its digest: the poses sent (kept for later calls), or the
        ones an earlier call sent under ``poses_digest``."""
        if not request.poses_digest:
            motion = motion_from_pb(request.poses, bounds.max_seconds)
            digest = motion_digest(motion)
            self.sent.put(digest, motion)
            return motion, digest
        if request.HasField("poses"):
            raise InputError("set poses or poses_digest, not both")
        digest = request.poses_digest
        if len(digest) != DIGEST_CHARS or digest.strip("0123456789abcdef"):
            raise InputError(f"poses_digest must be {DIGEST_CHARS} lowercase hex characters")
        motion = self.sent.get(digest)
        if motion is None:
            raise RpcError(
                grpc.StatusCode.FAILED_PRECONDITION,
                "poses_digest: these poses are not held here (any more); send the poses",
            )
        return motion, digest


def build_app(args: Args | dict[str, Any]) -> Application:
    """The ``key_pose`` application."""
    return KeyPose.bind(Args.model_validate(args))
