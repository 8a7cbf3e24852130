"""Where Serve's gRPC proxy listens: ``$S2V_GRPC_BIND_HOST`` (unset: every interface).

Ray Serve 2.60 binds its gRPC proxy to ``[::]:<port>`` with no option to change it; the HTTP
proxy has ``http_options.host``. :func:`bind_grpc_host` is a Ray ``worker_process_setup_hook``
(set by :func:`services.deploy.start`): in the proxy's process it makes the address the proxy
adds ``<host>:<port>`` instead, so the local stack listens on 127.0.0.1 only.
"""

from __future__ import annotations

import os
from typing import Any

BIND_ENV = "S2V_GRPC_BIND_HOST"
SETUP_HOOK = "services.bind.bind_grpc_host"


def bind_grpc_host() -> None:
    """Make Serve's gRPC proxy (started later in this process) listen on ``$S2V_GRPC_BIND_HOST``."""
    host = os.environ.get(BIND_ENV, "").strip()
    if not host or host in ("0.0.0.0", "::", "[::]"):
        return
    from ray.serve._private import default_impl

    original = default_impl.add_grpc_address
    if getattr(original, "_s2v_bound", False):
        return

    def add_grpc_address(server: Any, address: str) -> None:
        port = address.rsplit(":", 1)[-1]
        original(server, f"{host}:{port}")

    add_grpc_address._s2v_bound = True  # type: ignore[attr-defined]
    default_impl.add_grpc_address = add_grpc_address
