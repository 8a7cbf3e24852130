"""infra/serve/serve_config.yaml: Ray Serve's own schema, the app layout, the CPU budget."""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from infra_helpers import APPS, INFRA, SERVICERS, load_yaml

serve_schema = pytest.importorskip("ray.serve.schema", reason="ray[serve] is not installed")

SERVE_CONFIG = INFRA / "serve" / "serve_config.yaml"
LOCAL_CPUS = 2.0


def strict_unknown_keys(config: dict[str, Any]) -> list[str]:
    """Keys Serve would silently ignore (its models allow extras): typos, mostly."""
    from ray.serve.config import AutoscalingConfig
    from ray.serve.schema import (
        DeploymentSchema,
        HTTPOptionsSchema,
        LoggingConfig,
        RayActorOptionsSchema,
        ServeApplicationSchema,
        ServeDeploySchema,
        gRPCOptionsSchema,
    )

    def fields(model: type) -> set[str]:
        out = set(model.model_fields)
        out |= {f.alias for f in model.model_fields.values() if f.alias}
        return out

    problems: list[str] = []

    def check(where: str, value: Any, model: type) -> None:
        if isinstance(value, dict):
            problems.extend(f"{where}.{k}" for k in sorted(set(value) - fields(model)))

    check("config", config, ServeDeploySchema)
    check("http_options", config.get("http_options"), HTTPOptionsSchema)
    check("grpc_options", config.get("grpc_options"), gRPCOptionsSchema)
    check("logging_config", config.get("logging_config"), LoggingConfig)
    for app in config.get("applications", []):
        check(f"app {app.get('name')}", app, ServeApplicationSchema)
        for dep in app.get("deployments", []):
            where = f"app {app.get('name')} deployment {dep.get('name')}"
            check(where, dep, DeploymentSchema)
            check(f"{where}.ray_actor_options", dep.get("ray_actor_options"), RayActorOptionsSchema)
            check(f"{where}.autoscaling_config", dep.get("autoscaling_config"), AutoscalingConfig)
    return problems


def check_serve_config(config: dict[str, Any]) -> None:
    """Everything both serve configs (local and the RayService's) must satisfy."""
    parsed = serve_schema.ServeDeploySchema.model_validate(config)
    assert strict_unknown_keys(config) == []
    apps = {app.name: app for app in parsed.applications}
    assert sorted(apps) == sorted(APPS)
    for name, app in apps.items():
        assert app.import_path == f"services.{name}.app:build_app"
        assert app.route_prefix == f"/{name}", "a gRPC app needs a route prefix to be routed"
        assert app.deployments, f"{name}: no deployment settings"
        for dep in app.deployments:
            opts = dep.ray_actor_options
            assert opts is not None and opts.num_cpus, f"{name}/{dep.name}: set num_cpus"
    assert parsed.grpc_options.port == 9000
    assert list(parsed.grpc_options.grpc_servicer_functions) == list(SERVICERS)
    assert parsed.http_options.port == 8000


def test_serve_config_matches_serve_schema_and_layout() -> None:
    check_serve_config(load_yaml(SERVE_CONFIG))


def test_every_replica_fits_on_two_cpus() -> None:
    config = load_yaml(SERVE_CONFIG)
    total = 0.0
    for app in config["applications"]:
        for dep in app["deployments"]:
            cpus = dep["ray_actor_options"]["num_cpus"]
            assert 0 < cpus <= 0.5, f"{dep['name']}: {cpus} CPUs is too much for one machine"
            auto = dep.get("autoscaling_config")
            replicas = auto["max_replicas"] if auto else dep.get("num_replicas", 1)
            total += cpus * replicas
            assert not dep["ray_actor_options"].get("num_gpus"), "local config asks for no GPU"
    assert total <= LOCAL_CPUS + 1e-9, f"max replicas need {total} CPUs, have {LOCAL_CPUS}"


def test_strict_key_check_catches_a_typo() -> None:
    config = load_yaml(SERVE_CONFIG)
    config["applications"][0]["deployments"][0]["num_replica"] = 2
    assert strict_unknown_keys(config) == ["app transcription deployment Transcription.num_replica"]


@pytest.mark.parametrize("dotted", SERVICERS)
def test_servicer_functions_are_importable(dotted: str) -> None:
    module_name, _, attr = dotted.rpartition(".")
    module = importlib.import_module(module_name)
    assert callable(getattr(module, attr, None)), f"{dotted} does not exist"


@pytest.mark.parametrize("name", APPS)
def test_app_args_fit_the_application(name: str) -> None:
    """Once services/<name>/app.py exists: build_app is there and its Args accept the args."""
    try:
        module = importlib.import_module(f"services.{name}.app")
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith(f"services.{name}"):
            pytest.skip(f"services.{name}.app does not exist yet")
        raise
    assert callable(getattr(module, "build_app", None)), f"services.{name}.app has no build_app"
    args_model = getattr(module, "Args", None)
    if args_model is None or not hasattr(args_model, "model_validate"):
        pytest.skip(f"services.{name}.app has no pydantic Args")
    for app in load_yaml(SERVE_CONFIG)["applications"]:
        if app["name"] == name:
            args_model.model_validate(app.get("args") or {})


def test_a_taken_port_is_named_before_ray_starts() -> None:
    import socket

    from services import deploy

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("0.0.0.0", 0))
        holder.listen(1)
        taken = holder.getsockname()[1]
        assert deploy.port_in_use(taken)
        config = deploy.prepare_config(deploy.load_config(), taken, None)
        with pytest.raises(RuntimeError, match=rf"port {taken} \(grpc_options.port\) is already"):
            deploy.check_ports(config)
        with pytest.raises(RuntimeError, match="already in use"):
            deploy.start(config)  # fails on the check, before any Ray process exists
    assert not deploy.port_in_use(taken)
