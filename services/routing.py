"""Methods of one application called on another: UNIMPLEMENTED naming the right application.

Serve's gRPC proxy routes a call by its ``application`` metadata alone and the replica looks the
RPC's method name up on the deployment (``hasattr``); a method the deployment lacks used to
come back as INTERNAL with Ray's traceback (pid, node IP, actor id, paths). Deployments inherit
:class:`AppMethods`: for the name of any RPC of the API that the class does not define, attribute
look-up gives a stand-in that answers UNIMPLEMENTED with one line, before any credential check
or model (other names raise AttributeError as usual, so Serve's own probes are unaffected).
"""

from __future__ import annotations

import functools
from typing import Any

import grpc

from services.errors import RpcAbortError
from services.health import APPLICATIONS


@functools.cache
def rpc_owners() -> dict[str, tuple[str, str]]:
    """RPC method name → (full service name, the application serving it)."""
    from speech2video_api.v1 import (
        audio_to_pose_pb2,
        gateway_pb2,
        key_pose_pb2,
        renderer_pb2,
        transcription_pb2,
    )

    out: dict[str, tuple[str, str]] = {}
    for module in (transcription_pb2, audio_to_pose_pb2, key_pose_pb2, renderer_pb2, gateway_pb2):
        for service in module.DESCRIPTOR.services_by_name.values():
            for method in service.methods:
                out[method.name] = (service.full_name, APPLICATIONS[service.full_name])
    return out


def _elsewhere(name: str, service: str, app: str) -> Any:
    async def other_application(request: Any, grpc_context: Any) -> Any:
        message = (
            f"{service}/{name} is served by application {app!r}: send metadata application={app}"
        )
        grpc_context.set_code(grpc.StatusCode.UNIMPLEMENTED)
        grpc_context.set_details(message)
        raise RpcAbortError(message)

    other_application.__name__ = other_application.__qualname__ = name
    return other_application


class AppMethods:
    """Mixin for deployments: another application's RPC answers UNIMPLEMENTED cleanly."""

    def __getattr__(self, name: str) -> Any:
        owner = rpc_owners().get(name) if not name.startswith("_") else None
        if owner is None:
            raise AttributeError(name)
        return _elsewhere(name, *owner)

    async def ready(self) -> bool:
        """Readiness (not an RPC; the health service asks it through a Serve handle): this
        replica's models are loaded (:mod:`services.readiness`)."""
        from services.readiness import replica_ready

        return await replica_ready(self)
