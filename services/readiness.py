"""Readiness ("its models are loaded") apart from liveness ("the process answers").

Liveness is the health service as it was (:mod:`services.health`): ``""`` while the proxy runs,
``speech2video.v1.<Service>`` while the application is routed. Readiness is the service name
with ``/ready`` appended (``speech2video.v1.Renderer/ready``): SERVING only when the application
is routed *and* a replica of it, asked through a Serve handle, says its models are loaded
(:func:`replica_ready`):

- every replica loads its engines in its constructor (the speech-to-text engine), so a
  constructed replica has them;
- per-speaker models load on a speaker's first call; the speakers named in
  ``$S2V_WARM_SPEAKERS`` (comma separated) are loaded by each multiplexing replica when readiness
  is first asked, and it is NOT_SERVING until they all are (an unknown speaker stays not ready,
  with a warning in the replica's log).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from typing import Any

logger = logging.getLogger("ray.serve")
WARM_ENV = "S2V_WARM_SPEAKERS"
READY_SUFFIX = "/ready"
_ASK_TIMEOUT_S = 2.0
_CACHE_S = 2.0


def warm_speakers() -> tuple[str, ...]:
    """The speakers every multiplexing replica loads before it reports ready."""
    return tuple(s.strip() for s in os.environ.get(WARM_ENV, "").split(",") if s.strip())


async def replica_ready(deployment: Any) -> bool:
    """Whether this replica's models are loaded: its constructor ran (engines) and, when it
    multiplexes speakers (a ``models`` getter), the warm speakers are loaded. The first ask
    starts loading them in the background."""
    getter = getattr(deployment, "models", None)
    speakers = warm_speakers()
    if getter is None or not speakers:
        return True
    task = getattr(deployment, "_s2v_warming", None)
    if task is None:
        task = asyncio.ensure_future(_warm(getter, speakers))
        deployment._s2v_warming = task
    if not task.done():
        return False
    return not task.cancelled() and task.exception() is None and bool(task.result())


async def _warm(getter: Any, speakers: tuple[str, ...]) -> bool:
    ok = True
    for speaker in speakers:
        try:
            await getter(speaker)
        except Exception as exc:
            logger.warning("warm speaker %s not loaded: %s", speaker, exc)
            ok = False
    return ok


class ReadinessProbe:
    """Asks an application's replica whether it is ready (in the proxy; cached per app)."""

    def __init__(self) -> None:
        self._seen: dict[str, tuple[float, bool]] = {}

    async def ready(self, app: str) -> bool:
        at, value = self._seen.get(app, (-_CACHE_S, False))
        if time.monotonic() - at < _CACHE_S:
            return value
        value = await self._ask(app)
        self._seen[app] = (time.monotonic(), value)
        return value

    @staticmethod
    async def _ask(app: str) -> bool:
        try:
            from ray import serve

            handle = serve.get_app_handle(app)
            return bool(await asyncio.wait_for(handle.ready.remote(), _ASK_TIMEOUT_S))
        except Exception as exc:  # not deployed yet, replica starting, timeout
            logger.debug("readiness of %s unknown: %s", app, exc)
            return False
