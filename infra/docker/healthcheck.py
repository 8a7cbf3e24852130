"""Container health check (Docker HEALTHCHECK); standard library only.

The role comes from ``S2V_HEALTH_ROLE`` (or the first argument):

- ``serve``  (CPU image): Ray head alive (GCS + local raylet) and the Serve HTTP proxy's
  ``/-/healthz`` answering on ``S2V_HEALTH_HTTP_PORT`` (8000);
- ``worker`` (GPU image): the local raylet alive (dashboard agent ``/api/local_raylet_healthz``);
- ``mlflow``: the MLflow server's ``/health`` on ``MLFLOW_PORT`` (5000);
- ``none``: always healthy (pipeline jobs started from the service image).

Exit status 0 when healthy, 1 otherwise (what Docker expects).
"""

from __future__ import annotations

import os
import sys
import urllib.request

HOST = "127.0.0.1"
TIMEOUT_S = 4.0


def _get(port: int, path: str, expect: str | None = None) -> None:
    with urllib.request.urlopen(f"http://{HOST}:{port}{path}", timeout=TIMEOUT_S) as response:
        body = response.read(4096).decode("utf-8", "replace")
    if expect is not None and expect not in body:
        raise RuntimeError(f"{path}: unexpected answer {body[:80]!r}")


def check(role: str) -> None:
    agent_port = int(os.environ.get("S2V_HEALTH_AGENT_PORT", "52365"))
    if role == "none":
        return
    if role == "mlflow":
        _get(int(os.environ.get("MLFLOW_PORT", "5000")), "/health")
    elif role == "worker":
        _get(agent_port, "/api/local_raylet_healthz", "success")
    elif role == "serve":
        _get(agent_port, "/api/local_raylet_healthz", "success")
        _get(
            int(os.environ.get("S2V_HEALTH_DASHBOARD_PORT", "8265")), "/api/gcs_healthz", "success"
        )
        _get(int(os.environ.get("S2V_HEALTH_HTTP_PORT", "8000")), "/-/healthz")
    else:
        raise ValueError(f"unknown health role {role!r}")


def main(argv: list[str]) -> int:
    role = argv[1] if len(argv) > 1 else os.environ.get("S2V_HEALTH_ROLE", "serve")
    try:
        check(role)
    except Exception as exc:  # any failure is "unhealthy"; say why on stderr
        print(f"unhealthy ({role}): {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
