"""Per-speaker models in a replica: loaded from the registry by alias, swapped on promotion.

A deployment keeps one :class:`SpeakerModels` per speaker in its ``@serve.multiplexed`` LRU.
Each request takes :meth:`SpeakerModels.snapshot`: an immutable :class:`ModelSnapshot` it uses to
the end, so in-flight requests finish on the models they started with. When the snapshot is
older than ``refresh_s``, a background check (one at a time) resolves the alias again; a new
version is downloaded and loaded off the event loop and then replaces the snapshot in one
assignment. If the registry cannot be reached the loaded models keep serving (a warning is
logged); only a speaker never loaded needs the registry.

A request may be pinned to exact versions (:meth:`SpeakerModels.pinned`): the gateway resolves
the alias once per request and every stage uses those versions, so a video made while an alias
moves never mixes poses of one version with a rendering of another.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from services.synthesis_types import Lineage
from speech2video.errors import NotFoundError
from speech2video.model_set import load_component
from speech2video_mlops.registry import DEFAULT_ALIAS, ModelRegistry, ModelVersionRef, check_speaker

logger = logging.getLogger("ray.serve")
Loader = Callable[[str, Path], Any]
DEFAULT_REFRESH_S = float(os.environ.get("S2V_MODEL_REFRESH_S", "3"))
#: Model sets other than the alias's kept per speaker for requests pinned to them.
MAX_PINNED = 2

_REGISTRY: ModelRegistry | None = None
_REGISTRY_LOCK = threading.Lock()


def registry() -> ModelRegistry:
    """The process-wide registry client (``MLFLOW_TRACKING_URI`` or the embedded store); it
    never creates a store, and reconnects by itself after an outage."""
    global _REGISTRY
    with _REGISTRY_LOCK:
        if _REGISTRY is None:
            _REGISTRY = ModelRegistry(create=False)
        return _REGISTRY


#: Metadata key carrying a request's pinned versions: ``component=version,...``.
PIN_METADATA = "s2v-model-versions"


def pins_to_metadata(versions: dict[str, str]) -> str:
    return ",".join(f"{c}={v}" for c, v in sorted(versions.items()))


def pins_from_metadata(metadata: Any) -> dict[str, str]:
    """The pinned versions in a call's metadata ({} when none); InputError when malformed."""
    from speech2video.errors import InputError
    from speech2video.model_set import COMPONENTS

    value = next((str(v) for k, v in metadata or () if str(k).lower() == PIN_METADATA), "")
    out: dict[str, str] = {}
    for item in filter(None, value.split(",")):
        component, _, version = item.partition("=")
        if component not in COMPONENTS or not version.isdigit() or len(version) > 12:
            raise InputError(f"metadata {PIN_METADATA}: expected component=version,...")
        out[component] = version
    return out


def default_alias() -> str:
    return os.environ.get("S2V_MODEL_ALIAS") or DEFAULT_ALIAS


@dataclass(frozen=True)
class ModelSnapshot:
    """The models of one speaker at one moment: component → (version ref, loaded model)."""

    speaker: str
    refs: dict[str, ModelVersionRef]
    models: dict[str, Any]

    def get(self, component: str) -> Any:
        if component not in self.models:
            raise NotFoundError(f"speaker {self.speaker!r} has no {component} model")
        return self.models[component]

    def lineage(self, *components: str) -> Lineage:
        """Lineage of the given components (all when none given)."""
        names = components or tuple(self.refs)
        refs = [self.refs[c] for c in names if c in self.refs]
        hashes = {f"{r.component}.{k}": v for r in refs for k, v in r.data_hashes.items()}
        return Lineage(tuple(r.lineage() for r in refs), hashes)


class SpeakerModels:
    """One speaker's components in this replica, kept in step with ``alias``."""

    def __init__(
        self,
        speaker: str,
        required: Sequence[str],
        optional: Sequence[str] = (),
        alias: str | None = None,
        refresh_s: float = DEFAULT_REFRESH_S,
        loader: Loader = load_component,
    ) -> None:
        self.speaker = check_speaker(speaker)
        self.required, self.optional = tuple(required), tuple(optional)
        self.alias = alias or default_alias()
        self.refresh_s = refresh_s
        self.loader = loader
        self._snapshot: ModelSnapshot | None = None
        self._checked = 0.0
        self._refreshing: asyncio.Task[None] | None = None
        self._pinned: OrderedDict[tuple[tuple[str, str], ...], ModelSnapshot] = OrderedDict()

    @classmethod
    async def open(cls, speaker: str, required: Sequence[str], **kwargs: Any) -> SpeakerModels:
        """Load the speaker's models; NotFoundError for an unknown speaker."""
        models = cls(speaker, required, **kwargs)
        models._snapshot = await asyncio.to_thread(models._load, None)
        models._checked = time.monotonic()
        models._report()
        logger.info("loaded %s: %s", speaker, models._versions(models._snapshot))
        return models

    async def pinned(self, versions: dict[str, str]) -> ModelSnapshot:
        """The models at exactly ``versions`` (component → version, as the gateway resolved
        them for one request) for the components this replica serves; the current snapshot
        when it already matches, else those versions loaded (and kept, a few at a time), so
        one video never mixes versions while an alias moves."""
        current = self.snapshot()
        wanted = {c: v for c, v in versions.items() if c in (*self.required, *self.optional)}
        if all(c in current.refs and current.refs[c].version == v for c, v in wanted.items()):
            return current
        key = tuple(sorted(wanted.items()))
        if key not in self._pinned:
            self._pinned[key] = await asyncio.to_thread(self._load_versions, wanted, current)
            while len(self._pinned) > MAX_PINNED:
                self._pinned.popitem(last=False)
            self._report()
        self._pinned.move_to_end(key)
        return self._pinned[key]

    def _load_versions(self, wanted: dict[str, str], current: ModelSnapshot) -> ModelSnapshot:
        reg = registry()
        refs = dict(current.refs)
        models = dict(current.models)
        for component, version in wanted.items():
            if component in refs and refs[component].version == version:
                continue
            ref = replace(reg.version(self.speaker, component, version), alias=self.alias)
            refs[component], models[component] = ref, self.loader(component, reg.download(ref))
        logger.info("pinned %s to %s", self.speaker, _versions_of(refs))
        return ModelSnapshot(self.speaker, refs, models)

    def snapshot(self) -> ModelSnapshot:
        """The current models; starts a background version check when due."""
        assert self._snapshot is not None
        due = time.monotonic() - self._checked >= self.refresh_s
        if due and (self._refreshing is None or self._refreshing.done()):
            self._checked = time.monotonic()
            self._refreshing = asyncio.get_running_loop().create_task(self.refresh())
        return self._snapshot

    async def refresh(self) -> bool:
        """Resolve the alias again and swap to new versions; True when something changed."""
        current = self._snapshot
        try:
            fresh = await asyncio.to_thread(self._load, current)
        except Exception as exc:  # registry outage: keep serving what is loaded
            logger.warning(
                "model refresh for %s failed, keeping loaded models: %s", self.speaker, exc
            )
            return False
        if current is not None and fresh is current:
            return False
        self._snapshot = fresh  # one assignment: the swap
        self._report()
        logger.info("swapped %s to %s", self.speaker, self._versions(fresh))
        return True

    def _load(self, current: ModelSnapshot | None) -> ModelSnapshot:
        reg = registry()
        refs: dict[str, ModelVersionRef] = {}
        for component in (*self.required, *self.optional):
            try:
                refs[component] = reg.by_alias(self.speaker, component, self.alias)
            except NotFoundError:
                if component in self.required:
                    raise NotFoundError(
                        f"unknown speaker {self.speaker!r}: no {component} model at alias "
                        f"{self.alias!r}"
                    ) from None
        if current is not None and _versions_of(refs) == _versions_of(current.refs):
            return current
        models: dict[str, Any] = {}
        for component, ref in refs.items():
            old = current.refs.get(component) if current else None
            if old is not None and current is not None and old.version == ref.version:
                models[component] = current.models[component]
            else:
                models[component] = self.loader(component, reg.download(ref))
        return ModelSnapshot(self.speaker, refs, models)

    def _report(self) -> None:
        """The versions held now, to this replica's ``s2v_models_loaded`` gauge."""
        from services.metrics import inventory

        held = [self._snapshot, *self._pinned.values()]
        versions = {(c, r.version) for s in held if s is not None for c, r in s.refs.items()}
        inventory().report(self, self.speaker, versions)

    def __del__(self) -> None:
        """Serve calls this when its LRU unloads the speaker (and Python again when freed)."""
        try:
            from services.metrics import inventory

            inventory().dropped(self, self.speaker)
        except Exception:  # interpreter shutting down
            pass

    @staticmethod
    def _versions(snapshot: ModelSnapshot) -> str:
        return ", ".join(f"{c} v{r.version}" for c, r in snapshot.refs.items())


def _versions_of(refs: dict[str, ModelVersionRef]) -> dict[str, str]:
    return {c: r.version for c, r in refs.items()}
