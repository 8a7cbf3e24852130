"""Transcription: speech → words with times (or a known transcript aligned to the speech)."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import grpc
from pydantic import BaseModel, Field
from ray import serve
from ray.serve import Application

from services.auth import stage_tokens
from services.convert import words_to_pb
from services.errors import RpcError, unary_rpc
from services.limits import (
    MAX_ALIGN_WORDS,
    MAX_WORD_CHARS,
    Bounds,
    check_count,
    check_language,
    check_text,
    decode_audio,
    request_audio,
)
from services.observability import observed_rpc
from services.routing import AppMethods
from services.transcription.workers import WorkerLostError, WorkerPool
from speech2video.errors import InputError
from speech2video_api.v1 import transcription_pb2 as pb


class Args(BaseModel):
    """Application arguments (``serve_config.yaml`` ``args``)."""

    max_audio_seconds: float = Field(120.0, gt=0)
    #: Speech-to-text engine name (None: ``$S2V_STT_ENGINE`` or whisper).
    stt_engine: str | None = None
    #: Worker processes per replica, each with its own engine (a stopped call kills its worker).
    workers: int = Field(2, ge=1, le=8)


@serve.deployment(
    name="Transcription",
    max_ongoing_requests=4,
    max_queued_requests=16,
)
class Transcription(AppMethods):
    """``speech2video.v1.Transcription``; not per speaker."""

    def __init__(self, args: Args) -> None:
        self.authorize = stage_tokens().check  # the gateway's service token only
        from speech2video.audio.transcriber import get_transcriber

        self.args = args
        # each worker loads the engine before the first request
        self.pool = WorkerPool(args.workers, get_transcriber, (args.stt_engine,))

    def __del__(self) -> None:
        pool = getattr(self, "pool", None)
        if pool is not None:
            pool.close()

    @staticmethod
    async def _in_worker(run: Any, *args: Any, **kwargs: Any) -> Any:
        """``run(*args, **kwargs)`` in a thread; a worker that died by itself is UNAVAILABLE
        (the gateway retries; the pool has started a fresh worker)."""
        try:
            return await asyncio.to_thread(run, *args, **kwargs)
        except WorkerLostError:
            raise RpcError(
                grpc.StatusCode.UNAVAILABLE, "the speech recogniser restarted; retry"
            ) from None

    def check_health(self) -> None:
        return None

    @observed_rpc("transcription")
    @unary_rpc(lambda: pb.TranscribeResponse())
    async def Transcribe(  # noqa: N802 - the RPC name
        self, request: pb.TranscribeRequest, grpc_context: Any
    ) -> pb.TranscribeResponse:
        bounds = Bounds(self.args.max_audio_seconds)
        check_text(request.known_text, "known_text")
        check_language(request.language)
        refine = _word_timing(request)
        if request.HasField("pcm"):
            audio = request_audio(request.audio, request.pcm, bounds)
        else:
            audio = await asyncio.to_thread(decode_audio, request.audio, bounds)
        language = request.language or None
        gone = threading.Event()  # set when the caller cancels or its deadline passes
        if request.known_text:
            from speech2video.audio.alignment import align

            try:
                aligned = await self._in_worker(
                    self.pool.run,
                    align,
                    audio,
                    request.known_text,
                    stt_engine=self.args.stt_engine,
                    should_stop=gone.is_set,
                )
            finally:
                gone.set()  # a worker still computing is killed
            return pb.TranscribeResponse(
                language=request.language or "en",
                engine=f"align-{aligned.engine}",
                words=words_to_pb(aligned.words),
                duration_s=audio.duration,
            )
        from speech2video.audio.transcriber import transcribe

        try:
            result = await self._in_worker(
                self.pool.run,
                transcribe,
                audio,
                engine=self.args.stt_engine,
                language=language,
                should_stop=gone.is_set,
                **refine,
            )
        finally:
            gone.set()  # a worker still decoding is killed
        return pb.TranscribeResponse(
            language=result.language,
            engine=result.engine,
            words=words_to_pb(result.words),
            duration_s=audio.duration,
        )


def _word_timing(request: pb.TranscribeRequest) -> dict[str, Any]:
    """``transcribe``'s refinement arguments for the request's ``word_timing`` (validated)."""
    timing = request.word_timing
    if timing not in pb.WordTiming.values():
        raise InputError(f"word_timing {timing} is not a WordTiming value")
    if timing != pb.WORD_TIMING_ALIGNED_IF_HEARD and request.align_if_heard:
        raise InputError("align_if_heard is only read with WORD_TIMING_ALIGNED_IF_HEARD")
    check_count(len(request.align_if_heard), "align_if_heard", MAX_ALIGN_WORDS)
    for word in request.align_if_heard:
        check_text(word, "align_if_heard", MAX_WORD_CHARS)
    if timing == pb.WORD_TIMING_RECOGNISER:
        return {"refine_times": False}
    if timing == pb.WORD_TIMING_ALIGNED_IF_HEARD:
        return {"refine_if_heard": list(request.align_if_heard)}
    return {}


def build_app(args: Args | dict[str, Any]) -> Application:
    """The ``transcription`` application."""
    return Transcription.bind(Args.model_validate(args))
