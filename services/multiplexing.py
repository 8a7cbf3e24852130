"""Per-speaker model loading for the stage deployments (``@serve.multiplexed``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import grpc
from ray import serve

from services.errors import RpcError
from services.speaker_models import Loader, ModelSnapshot, SpeakerModels, pins_from_metadata
from speech2video.model_set import load_component
from speech2video_mlops.registry import check_speaker

ModelGetter = Callable[[str], Awaitable[SpeakerModels]]


def speaker_model_getter(
    required: Sequence[str],
    optional: Sequence[str] = (),
    *,
    alias: str | None,
    max_loaded_speakers: int,
    loader: Loader = load_component,
) -> ModelGetter:
    """A ``@serve.multiplexed`` loader (LRU of ``max_loaded_speakers`` per replica); store it
    as an attribute of the deployment so Serve sees the replica multiplexes."""

    async def open_speaker(speaker: str) -> SpeakerModels:
        return await SpeakerModels.open(
            speaker, required, optional=optional, alias=alias, loader=loader
        )

    getter: Any = serve.multiplexed(max_num_models_per_replica=max_loaded_speakers)(open_speaker)
    return getter


async def request_models(getter: ModelGetter, grpc_context: Any = None) -> ModelSnapshot:
    """The models of this request's speaker (metadata ``multiplexed_model_id``), at the
    versions the gateway pinned for the request (metadata ``s2v-model-versions``) if any."""
    speaker = serve.get_multiplexed_model_id()
    if not speaker:
        raise RpcError(
            grpc.StatusCode.INVALID_ARGUMENT,
            "missing the speaker id: send metadata multiplexed_model_id=<speaker>",
        )
    check_speaker(speaker)  # INVALID_ARGUMENT before Serve's multiplexer or the registry
    pins = pins_from_metadata(grpc_context.invocation_metadata()) if grpc_context else {}
    models = await getter(speaker)
    return await models.pinned(pins) if pins else models.snapshot()
