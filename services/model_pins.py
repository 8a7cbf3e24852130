"""The model set a request is made with: the versions the alias points at, resolved once in the
gateway and sent to every stage (metadata ``s2v-model-versions``), so a video never mixes
versions while an alias moves (the stages load a pinned version they do not have yet).

Resolutions are kept for ``refresh_s`` per speaker (a promotion is followed within seconds). If
the registry is unavailable the last resolution is used; with none, the request is not pinned
and each stage serves what it has loaded.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict

from services.speaker_models import DEFAULT_REFRESH_S, default_alias, registry
from speech2video.errors import NotFoundError
from speech2video.model_set import (
    AUDIO_TO_POSE,
    BODY_MODEL,
    KEY_POSE_DICTIONARY,
    RENDERER,
    TEXT_TO_POSE,
)
from speech2video_mlops.registry import RegistryUnavailableError

#: What the stages of one synthesis use; the first four are needed.
REQUIRED = (AUDIO_TO_POSE, BODY_MODEL, KEY_POSE_DICTIONARY, RENDERER)
OPTIONAL = (TEXT_TO_POSE,)
MAX_SPEAKERS = 256


class ModelSetVersions:
    """Per speaker: component → the version the alias points at, cached ``refresh_s``."""

    def __init__(self, alias: str | None = None, refresh_s: float = DEFAULT_REFRESH_S) -> None:
        self.alias = alias or default_alias()
        self.refresh_s = refresh_s
        self._cache: OrderedDict[str, tuple[float, dict[str, str]]] = OrderedDict()

    async def resolve(self, speaker: str) -> dict[str, str]:
        """The versions to pin this request to; NotFoundError for an unknown speaker."""
        cached = self._cache.get(speaker)
        if cached is not None and time.monotonic() - cached[0] < self.refresh_s:
            return cached[1]
        try:
            versions = await asyncio.to_thread(self._resolve, speaker)
        except RegistryUnavailableError:
            return cached[1] if cached is not None else {}
        self._cache[speaker] = (time.monotonic(), versions)
        self._cache.move_to_end(speaker)
        while len(self._cache) > MAX_SPEAKERS:
            self._cache.popitem(last=False)
        return versions

    def _resolve(self, speaker: str) -> dict[str, str]:
        reg = registry()
        out: dict[str, str] = {}
        for component in (*REQUIRED, *OPTIONAL):
            try:
                out[component] = reg.by_alias(speaker, component, self.alias).version
            except NotFoundError:
                if component in REQUIRED:
                    raise NotFoundError(
                        f"unknown speaker {speaker!r}: no {component} model at alias {self.alias!r}"
                    ) from None
        return out
