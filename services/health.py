"""Standard ``grpc.health.v1.Health`` on Serve's gRPC proxy, answered by the proxy itself.

Ray Serve 2.60 routes every registered service to a replica, which needs the ``application``
metadata header; health checkers (grpcurl, grpc_health_probe, Kubernetes gRPC probes) send none.
:func:`add_health_servicer_to_server`, listed in ``grpc_options.grpc_servicer_functions``,
registers Health as a *passthrough* service of the proxy's server (the mechanism Serve uses for
server reflection), so it is answered in the proxy process with no header:

- ``service=""``: SERVING while the proxy runs;
- ``service="speech2video.v1.<Service>"``: SERVING when the proxy has a route to the application
  serving it (asked of the proxy's own ``ListApplications``), else NOT_SERVING;
- ``service="speech2video.v1.<Service>/ready"``: readiness, SERVING only when the application is
  routed and a replica says its models are loaded (:mod:`services.readiness`);
- any other name: NOT_FOUND (``Watch``: SERVICE_UNKNOWN, as the health protocol says).

``Watch`` streams the status at once and again whenever it changes (checked every second) until
the caller goes. Health needs no credential: it tells only whether an application is routed.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.readiness import READY_SUFFIX, ReadinessProbe

SERVICE_NAME = "grpc.health.v1.Health"
#: gRPC service → Serve application name (the route in ``serve_config.yaml``).
APPLICATIONS: dict[str, str] = {
    "speech2video.v1.Transcription": "transcription",
    "speech2video.v1.AudioToPose": "audio_to_pose",
    "speech2video.v1.KeyPose": "key_pose",
    "speech2video.v1.Renderer": "renderer",
    "speech2video.v1.Speech2Video": "gateway",
}
_CACHE_S = 2.0
_WATCH_S = 1.0


def _unknown(service: str) -> str:
    shown = service if len(service) <= 80 and service.isprintable() else repr(service[:80])
    return f"unknown service {shown}"


def _proxy_target() -> str:
    port = os.environ.get("S2V_GRPC_PORT", "9000")
    return f"127.0.0.1:{port}"


class ProxyHealth(health_pb2_grpc.HealthServicer):
    """Health answered from the proxy's own route table (cached for two seconds)."""

    def __init__(self, target: str | None = None) -> None:
        self.target = target
        self._apps: set[str] = set()
        self._at = -_CACHE_S
        self._channel: Any = None
        self._readiness = ReadinessProbe()

    async def _applications(self) -> set[str]:
        from ray.serve.generated import serve_pb2, serve_pb2_grpc

        if time.monotonic() - self._at < _CACHE_S:
            return self._apps
        if self._channel is None:
            self._channel = grpc.aio.insecure_channel(self.target or _proxy_target())
        stub = serve_pb2_grpc.RayServeAPIServiceStub(self._channel)
        try:
            reply = await stub.ListApplications(serve_pb2.ListApplicationsRequest(), timeout=2.0)
            self._apps = set(reply.application_names)
        except grpc.aio.AioRpcError:
            self._apps = set()
        self._at = time.monotonic()
        return self._apps

    async def _status(self, service: str) -> int:
        status = health_pb2.HealthCheckResponse
        if not service:
            return status.SERVING
        app = APPLICATIONS.get(service.removesuffix(READY_SUFFIX))
        if app is None:
            return status.SERVICE_UNKNOWN
        if app not in await self._applications():
            return status.NOT_SERVING
        if service.endswith(READY_SUFFIX) and not await self._readiness.ready(app):
            return status.NOT_SERVING
        return status.SERVING

    async def Check(  # noqa: N802 - the RPC name
        self, request: health_pb2.HealthCheckRequest, context: Any
    ) -> health_pb2.HealthCheckResponse:
        status = await self._status(request.service)
        if status == health_pb2.HealthCheckResponse.SERVICE_UNKNOWN:
            await context.abort(grpc.StatusCode.NOT_FOUND, _unknown(request.service))
        return health_pb2.HealthCheckResponse(status=status)  # type: ignore[arg-type]

    async def Watch(  # noqa: N802 - the RPC name
        self, request: health_pb2.HealthCheckRequest, context: Any
    ) -> AsyncIterator[health_pb2.HealthCheckResponse]:
        last = None
        while True:
            status = await self._status(request.service)
            if status != last:
                yield health_pb2.HealthCheckResponse(status=status)  # type: ignore[arg-type]
                last = status
            await asyncio.sleep(_WATCH_S)


def add_health_servicer_to_server(servicer: Any, server: Any) -> None:
    """A ``grpc_servicer_functions`` entry: Health as a passthrough service of the proxy.

    ``servicer`` (Serve passes a mock) is ignored; on a plain gRPC server this simply adds the
    servicer.
    """
    del servicer
    if hasattr(server, "add_passthrough_service"):
        server.add_passthrough_service(SERVICE_NAME)
    health_pb2_grpc.add_HealthServicer_to_server(ProxyHealth(), server)
