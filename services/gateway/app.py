"""Speech2Video gateway: the product API, calling the stage applications over gRPC."""

from __future__ import annotations

import tempfile
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import grpc
from pydantic import BaseModel, Field
from ray import serve
from ray.serve import Application

from services.auth import caller_tokens
from services.convert import (
    insertion_to_pb,
    key_pose_options_from_pb,
    lineage_to_pb,
    motion_to_pb,
    piece_to_pb,
    words_to_pb,
)
from services.errors import RpcError, streaming_rpc, unary_rpc
from services.limits import check_language, check_text, check_word_list
from services.model_pins import ModelSetVersions
from services.observability import observed_rpc
from services.routing import AppMethods
from services.stage_client import GrpcStages
from services.synthesis_flow import (
    MotionResult,
    SynthesisInput,
    VideoSummary,
    synthesize_motion,
    synthesize_video,
)
from speech2video.errors import NotFoundError
from speech2video_api.v1 import gateway_pb2 as pb
from speech2video_mlops.registry import RegistryUnavailableError, check_speaker


class Args(BaseModel):
    """Application arguments (``serve_config.yaml`` ``args``)."""

    max_audio_seconds: float = Field(120.0, gt=0)
    #: Stage calls through this proxy address (None: ``$S2V_GRPC_TARGET`` or 127.0.0.1:9000).
    grpc_target: str | None = None
    stage_timeout_s: float = Field(600.0, gt=0)
    #: Speakers whose body model (BVH export offsets) this replica keeps loaded.
    max_body_models: int = Field(16, ge=1)
    model_alias: str | None = None  # None: $S2V_MODEL_ALIAS or production
    #: SynthesizeLive (services/live_flow.py): longest stream (the renderer's and audio_to_pose's
    #: max_audio_seconds must be at least this), audio ahead of the rendered video, silence
    #: between messages, and how long frames wait for words by default (seconds).
    live_max_seconds: float = Field(120.0, gt=0)
    live_max_buffered_s: float = Field(10.0, gt=0)
    live_idle_timeout_s: float = Field(10.0, gt=0)
    live_key_pose_wait_s: float = Field(3.0, ge=0, le=10)


def _request_id(grpc_context: Any) -> str:
    """This call's id (``x-request-id`` or ``request_id`` metadata, else made by the gateway),
    else the id Serve gave the request."""
    from services.request_context import current_request_id

    given = current_request_id() or grpc_context.request_id()
    if given:
        return str(given)
    from ray.serve.context import _get_serve_request_context

    return str(_get_serve_request_context().request_id or "")


def _input(request: Any) -> SynthesisInput:
    kind = request.WhichOneof("input")
    if kind is None:
        raise RpcError(grpc.StatusCode.INVALID_ARGUMENT, "the request needs audio or text")
    if not request.speaker_id:
        raise RpcError(grpc.StatusCode.INVALID_ARGUMENT, "speaker_id is required")
    check_speaker(request.speaker_id)  # before it becomes a stage call's metadata
    if kind == "text":
        check_text(request.text.text, "text.text")
        check_language(request.text.language, "text.language")
    check_word_list(request.key_poses.force_words, "key_poses.force_words")
    check_word_list(request.key_poses.forbid_words, "key_poses.forbid_words")
    return SynthesisInput(
        speaker=request.speaker_id,
        audio=request.audio if kind == "audio" else b"",
        text=request.text.text if kind == "text" else "",
        language=(request.text.language if kind == "text" else "") or "en",
        key_poses=key_pose_options_from_pb(request.key_poses),
    )


@serve.deployment(
    name="Speech2Video",
    max_ongoing_requests=16,
    max_queued_requests=32,
)
class Speech2Video(AppMethods):
    """``speech2video.v1.Speech2Video``: validate, call the stages, stream the video."""

    def __init__(self, args: Args) -> None:
        self.args = args
        self.stages = GrpcStages(args.grpc_target, args.stage_timeout_s)
        #: Each request is pinned to the versions its speaker's alias points at when it starts.
        self.versions = ModelSetVersions(args.model_alias)
        self.authorize = caller_tokens().check  # callers' tokens (none set: open)
        self._body_models: OrderedDict[str, Any] = OrderedDict()  # speaker → SpeakerModels (LRU)
        self._live_dictionaries: OrderedDict[str, Any] = OrderedDict()  # SynthesizeLive's

    def check_health(self) -> None:
        return None

    @observed_rpc("gateway", entry=True)
    @streaming_rpc
    async def Synthesize(  # noqa: N802 - the RPC name
        self, request: pb.SynthesizeRequest, grpc_context: Any
    ) -> AsyncIterator[pb.SynthesizeResponse]:
        job = _input(request)
        stages = self.stages.with_versions(await self.versions.resolve(job.speaker))
        job = await self._with_align_words(job)
        index = 0
        async for item in synthesize_video(stages, job, self.args.max_audio_seconds):
            if isinstance(item, VideoSummary):
                yield pb.SynthesizeResponse(result=self._summary(item, grpc_context))
            else:
                yield pb.SynthesizeResponse(chunk=piece_to_pb(item, index))
                index += 1

    @observed_rpc("gateway", entry=True)
    @unary_rpc(lambda: pb.SynthesizeMotionResponse())
    async def SynthesizeMotion(  # noqa: N802 - the RPC name
        self, request: pb.SynthesizeMotionRequest, grpc_context: Any
    ) -> pb.SynthesizeMotionResponse:
        job = _input(request)
        stages = self.stages.with_versions(await self.versions.resolve(job.speaker))
        job = await self._with_align_words(job)
        result = await synthesize_motion(stages, job, self.args.max_audio_seconds)
        reply = pb.SynthesizeMotionResponse(
            poses=motion_to_pb(result.motion, raw=False),  # the product API: values
            words=words_to_pb(result.words),
            insertions=[insertion_to_pb(e) for e in result.insertions],
            lineage=lineage_to_pb(result.lineage, _request_id(grpc_context)),
        )
        if request.export_format == pb.SynthesizeMotionRequest.EXPORT_FORMAT_SMPLX_NPZ:
            reply.export_data = _export_npz(result)
            reply.export_filename = f"{request.speaker_id}_motion_smplx.npz"
        elif request.export_format == pb.SynthesizeMotionRequest.EXPORT_FORMAT_BVH:
            rest = await self._rest_joints(request.speaker_id)
            reply.export_data = _export_bvh(result, rest)
            reply.export_filename = f"{request.speaker_id}_motion.bvh"
        return reply

    @observed_rpc("gateway", entry=True)
    @streaming_rpc
    async def SynthesizeLive(  # noqa: N802 - the RPC name
        self, request_stream: AsyncIterator[Any], grpc_context: Any
    ) -> AsyncIterator[Any]:
        from services.live_gateway import serve_live

        async for reply in serve_live(self, request_stream, _request_id(grpc_context)):
            yield reply

    async def _with_align_words(self, job: SynthesisInput) -> SynthesisInput:
        """``job`` with the words whose hearing makes a transcription align its word times:
        the speaker's key words (the dictionary a few KB, kept like SynthesizeLive's), so speech
        without one keeps the recogniser's times and spares the alignment. Text input is
        aligned to its own words and needs none. Without the dictionary (registry away, no such
        speaker: the stages answer for that) every word is aligned, as before."""
        if job.text:
            return job
        if job.key_poses.disabled:
            return replace(job, align_if_heard=frozenset())
        from services.live_stages import GrpcLiveStages

        live = GrpcLiveStages(self.stages, self._live_dictionaries, self.args.model_alias)
        try:
            dictionary, _ = await live.key_pose_dictionary(job.speaker)
        except (RegistryUnavailableError, NotFoundError):
            return job
        return replace(job, align_if_heard=job.key_poses.words_to_align(dictionary.entries))

    async def _rest_joints(self, speaker: str) -> Any:
        """(55, 3) rest joints of the speaker's body model (BVH offsets), alias-tracked."""
        from services.speaker_models import SpeakerModels

        if speaker not in self._body_models:
            self._body_models[speaker] = await SpeakerModels.open(speaker, ("body_model",))
            while len(self._body_models) > self.args.max_body_models:
                self._body_models.popitem(last=False)
        self._body_models.move_to_end(speaker)
        return self._body_models[speaker].snapshot().get("body_model").body_model.rest_joints

    @staticmethod
    def _summary(item: VideoSummary, grpc_context: Any) -> pb.SynthesisResult:
        result = item.result
        return pb.SynthesisResult(
            words=words_to_pb(result.words),
            insertions=[insertion_to_pb(e) for e in result.insertions],
            lineage=lineage_to_pb(item.lineage, _request_id(grpc_context)),
            num_frames=result.motion.num_frames,
            fps=result.motion.fps,
            duration_s=result.duration_s,
        )


def _export_npz(result: MotionResult) -> bytes:
    """The AMASS/BEAT2 SMPL-X layout (hand PCA expanded with the open hand basis)."""
    from speech2video.body.hand_basis import open_hand_basis
    from speech2video.body.motion_file import export_amass

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "motion.npz"
        export_amass(path, result.motion, open_hand_basis())
        return path.read_bytes()


def _export_bvh(result: MotionResult, rest_joints: Any) -> bytes:
    """BVH of the motion on the speaker's skeleton (hand PCA expanded with the open basis)."""
    from speech2video.body.bvh_export import motion_to_bvh
    from speech2video.body.hand_basis import open_hand_basis

    return motion_to_bvh(result.motion, rest_joints, open_hand_basis()).encode()


def build_app(args: Args | dict[str, Any]) -> Application:
    """The ``gateway`` application."""
    return Speech2Video.bind(Args.model_validate(args))
