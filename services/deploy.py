"""Start a local Ray, then Serve with every application of a serve config (``s2v serve up``).

The config is ``infra/serve/serve_config.yaml`` by default; it is deployed the way ``serve run
config.yaml`` does (Serve's controller builds each application from its ``import_path`` and
``args`` and applies the deployment overrides). ``grpc_servicer_functions`` always start with
the proxy guard (:mod:`services.proxy_guard`) and end with the standard health service
(:mod:`services.health`).
"""

from __future__ import annotations

import copy
import logging
import os
import random
import socket
import time
from pathlib import Path
from typing import Any

import grpc

from services.bind import BIND_ENV, SETUP_HOOK
from services.health import APPLICATIONS
from services.metrics import metrics_export_port

HEALTH_SERVICER = "services.health.add_health_servicer_to_server"
#: First of the servicer functions: the proxy's answers never carry Ray's text.
GUARD_SERVICER = "services.proxy_guard.add_guard_to_server"
DEFAULT_CONFIG = Path(__file__).resolve().parents[1] / "infra" / "serve" / "serve_config.yaml"


def load_config(path: str | Path | None = None) -> dict[str, Any]:
    """The serve config as a dict (``yaml.safe_load``)."""
    import yaml

    source = Path(path) if path else DEFAULT_CONFIG
    if not source.is_file():
        raise FileNotFoundError(f"serve config not found: {source}")
    return yaml.safe_load(source.read_text())


#: The local stack listens here unless told otherwise (``s2v serve up --host``).
LOCAL_HOST = "127.0.0.1"


def prepare_config(
    config: dict[str, Any],
    grpc_port: int | None = None,
    http_port: int | None = None,
    host: str | None = LOCAL_HOST,
    renderer_gpus: float = 0.0,
) -> dict[str, Any]:
    """A copy with the health servicer added, the ports replaced when given, the HTTP proxy
    bound to ``host`` (None: as the config says; gRPC follows in :func:`start`) and, with
    ``renderer_gpus`` > 0, that many GPUs asked for each renderer replica (added to the
    config's ``ray_actor_options``: the config is where Serve takes resources from)."""
    out = copy.deepcopy(config)
    if renderer_gpus > 0:
        for app in out.get("applications", []):
            for dep in app.get("deployments", []) if app.get("name") == "renderer" else []:
                dep.setdefault("ray_actor_options", {})["num_gpus"] = float(renderer_gpus)
    if host is not None:
        out.setdefault("http_options", {})["host"] = host
    grpc_options = out.setdefault("grpc_options", {})
    functions = grpc_options.setdefault("grpc_servicer_functions", [])
    if GUARD_SERVICER in functions:
        functions.remove(GUARD_SERVICER)
    functions.insert(0, GUARD_SERVICER)
    if HEALTH_SERVICER not in functions:
        functions.append(HEALTH_SERVICER)
    if grpc_port is not None:
        grpc_options["port"] = grpc_port
    if http_port is not None:
        out.setdefault("http_options", {})["port"] = http_port
    return out


def local_renderer_gpus() -> float:
    """1 when this machine has a CUDA GPU torch can use (each renderer replica then asks Ray for
    one), else 0."""
    import torch

    return 1.0 if torch.cuda.is_available() else 0.0


def port_in_use(port: int) -> bool:
    """True when binding ``port`` on all interfaces (IPv6 dual-stack where the host has it, and
    IPv4) fails, i.e. something already listens there."""
    families = [socket.AF_INET]
    if socket.has_ipv6:
        families.insert(0, socket.AF_INET6)
    for family in families:
        try:
            with socket.socket(family, socket.SOCK_STREAM) as sock:
                sock.bind(("::" if family == socket.AF_INET6 else "0.0.0.0", port))
        except OSError as exc:
            if exc.errno == 98:  # EADDRINUSE; other errors mean the family is unavailable
                return True
    return False


#: Ports for local test and benchmark stacks: below the kernel's ephemeral range (32768+), where
#: Ray's own processes bind theirs moments after a pick, and above Ray's worker ports (10002-19999).
LOCAL_PORT_BAND = (20000, 32000)


def free_ports(count: int) -> list[int]:
    """``count`` distinct ports nothing listens on, from :data:`LOCAL_PORT_BAND`."""
    rng = random.Random()
    ports: list[int] = []
    for _ in range(500 * count):
        port = rng.randrange(*LOCAL_PORT_BAND)
        if port not in ports and not port_in_use(port):
            ports.append(port)
            if len(ports) == count:
                return ports
    raise RuntimeError(f"fewer than {count} free ports in {LOCAL_PORT_BAND}")


def check_ports(config: dict[str, Any]) -> None:
    """RuntimeError naming the option when a port the config asks for is already taken."""
    for option in ("grpc_options", "http_options"):
        port = (config.get(option) or {}).get("port")
        if port and port_in_use(int(port)):
            raise RuntimeError(
                f"port {port} ({option}.port) is already in use; stop what holds it or pick "
                "another port (--grpc-port for gRPC)"
            )


def secret_files() -> dict[str, str]:
    """Environment naming the token files (never the tokens): the stage token file (made when
    missing) and the callers' token file. A token given in ``$S2V_GATEWAY_TOKEN`` is moved into
    a 0600 file under ``$S2V_HOME/secrets`` and out of this process's environment, so neither
    Ray's logs nor its workers' environments carry it."""
    from services import auth

    stage = os.environ.get(auth.STAGE_FILE_ENV) or str(
        auth.ensure_token_file(auth.default_stage_token_file())
    )
    out = {auth.STAGE_FILE_ENV: stage}
    legacy = os.environ.pop(auth.CALLER_ENV, "").strip()
    caller = os.environ.get(auth.CALLER_FILE_ENV)
    if not caller and legacy:
        caller = str(auth.write_secret(auth.secrets_dir() / "gateway_token", legacy))
    if caller:
        out[auth.CALLER_FILE_ENV] = caller
    return out


def runtime_env_vars(grpc_port: int, extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment every Ray worker needs: the registry, the proxy address, offline flags, the
    token files (:func:`secret_files`)."""
    from speech2video_mlops.registry import default_tracking_uri, s2v_home

    env = {
        "S2V_HOME": str(s2v_home()),
        "MLFLOW_TRACKING_URI": default_tracking_uri(),
        "S2V_GRPC_TARGET": f"127.0.0.1:{grpc_port}",
        "S2V_GRPC_PORT": str(grpc_port),
        "HF_HUB_OFFLINE": "1",
        "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    }
    from services.readiness import WARM_ENV
    from services.tracing import TRACE_ENV

    forwarded = ("S2V_MODEL_ALIAS", "S2V_MODEL_REFRESH_S", "S2V_STT_ENGINE", BIND_ENV, WARM_ENV)
    for key in (*forwarded, *TRACE_ENV):
        if os.environ.get(key):
            env[key] = os.environ[key]
    env.update(secret_files())
    env.update(extra or {})
    return env


def start(
    config: dict[str, Any],
    *,
    num_cpus: float | None = None,
    env: dict[str, str] | None = None,
    timeout_s: float = 240.0,
    verbose: bool = False,
) -> str:
    """Start Ray (if needed) and Serve, deploy every application and wait until the proxy
    routes to all of them. Returns the gRPC target (``127.0.0.1:<port>``).

    Quiet unless ``verbose``: Ray's and Serve's logs stay in their files
    (:func:`framework_log_dir`) instead of being copied to this process's terminal."""
    import ray
    from ray.serve._private import api as serve_api
    from ray.serve.config import gRPCOptions
    from ray.serve.schema import ServeDeploySchema

    schema = ServeDeploySchema.model_validate(config)
    port = int(schema.grpc_options.port)
    check_ports(config)
    host = str(schema.http_options.host)
    env_vars = runtime_env_vars(port, {BIND_ENV: host, **(env or {})})
    _set_environment(env_vars)  # workers started from here inherit it; shutdown() restores
    if not verbose:
        quiet_framework_loggers()
    if not ray.is_initialized():
        ray.init(
            namespace="serve",
            num_cpus=num_cpus,
            include_dashboard=False,
            _metrics_export_port=metrics_export_port(),  # $S2V_METRICS_PORT, else Ray's pick
            runtime_env={"env_vars": env_vars, "worker_process_setup_hook": SETUP_HOOK},
            log_to_driver=verbose,
            logging_level=logging.INFO if verbose else logging.WARNING,
        )
    try:
        client = serve_api.serve_start(
            http_options=schema.http_options.model_dump(),
            proxy_location=schema.proxy_location,
            grpc_options=gRPCOptions(**schema.grpc_options.model_dump()),
        )
    except Exception as exc:  # Ray wraps the proxy's bind error in a task error
        if "Failed to bind" in str(exc):
            raise RuntimeError(
                f"the Serve proxy could not bind its port (gRPC {port}, HTTP "
                f"{schema.http_options.port}): taken by another process after the check"
            ) from None
        raise
    client.deploy_apps(schema, _blocking=False)
    target = f"127.0.0.1:{port}"
    wait_until_routed(target, [app.name for app in schema.applications], timeout_s)
    return target


#: Loggers of the frameworks whose INFO lines a user of the CLI should not have to read.
FRAMEWORK_LOGGERS = ("ray", "ray.serve", "ray.data", "ray.train", "filelock")


def quiet_framework_loggers() -> None:
    """Ray's and Serve's own loggers in this process: warnings and errors only."""
    for name in FRAMEWORK_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def framework_log_dir() -> str | None:
    """Where Ray and Serve write their logs (this session's ``logs`` folder), if Ray runs."""
    import ray

    if not ray.is_initialized():
        return None
    try:
        from ray._private.worker import global_worker

        return str(Path(global_worker.node.get_session_dir_path()) / "logs")
    except (AttributeError, RuntimeError):
        return None


def wait_until_routed(target: str, apps: list[str], timeout_s: float) -> None:
    """Poll the proxy's ``ListApplications`` and Serve's status until every app is RUNNING and
    routed; RuntimeError naming the laggards on timeout or on a failed deployment."""
    from ray import serve
    from ray.serve.generated import serve_pb2, serve_pb2_grpc

    deadline = time.monotonic() + timeout_s
    missing: list[str] = list(apps)
    with grpc.insecure_channel(target) as channel:
        stub = serve_pb2_grpc.RayServeAPIServiceStub(channel)
        while time.monotonic() < deadline:
            statuses = serve.status().applications
            failed = [n for n, s in statuses.items() if str(s.status).endswith("DEPLOY_FAILED")]
            if failed:
                raise RuntimeError(
                    f"applications failed to deploy: {failed}: "
                    f"{[statuses[n].message for n in failed]}"
                )
            running = {n for n, s in statuses.items() if str(s.status).endswith("RUNNING")}
            try:
                routed = set(
                    stub.ListApplications(
                        serve_pb2.ListApplicationsRequest(), timeout=2
                    ).application_names
                )
            except grpc.RpcError:
                routed = set()
            missing = [a for a in apps if a not in running or a not in routed]
            if not missing:
                return
            time.sleep(1.0)
    raise RuntimeError(f"applications not serving after {timeout_s:.0f} s: {missing}")


#: What this process's environment held before :func:`start` changed it (None: unset).
_SAVED_ENV: dict[str, str | None] = {}


def _set_environment(values: dict[str, str]) -> None:
    for key, value in values.items():
        _SAVED_ENV.setdefault(key, os.environ.get(key))
        os.environ[key] = value


def _restore_environment() -> None:
    for key, value in _SAVED_ENV.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    _SAVED_ENV.clear()


def shutdown() -> None:
    """Serve and Ray down (what this process started), and the environment as it was."""
    import ray
    from ray import serve

    if ray.is_initialized():
        serve.shutdown()
        ray.shutdown()
    _restore_environment()


__all__ = ["APPLICATIONS", "DEFAULT_CONFIG", "load_config", "prepare_config", "shutdown", "start"]
