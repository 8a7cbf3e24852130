"""The resources each deployment really gets: built the way Serve's controller builds them.

Serve imports each application's ``import_path``, calls the builder with the config's ``args``
(``call_user_app_builder_with_args_if_necessary``), then applies the config's deployment options
over the code's (``override_deployment_info``), replacing ``ray_actor_options`` wholesale. These
tests run those same two functions on the local serve config, on it as ``s2v serve up`` prepares
it on a GPU machine, and on the RayService's ``serveConfigV2``: the renderer asks for a GPU
exactly where one should be used, and resources are set in one place only (the configs).
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from infra_helpers import APPS, INFRA, REPO_ROOT, load_yaml

pytest.importorskip("ray.serve", reason="ray[serve] is not installed")


def deployed_actor_options(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Application name → the ray_actor_options its (single) deployment is deployed with."""
    from ray._common.utils import import_attr
    from ray.serve._private.api import call_user_app_builder_with_args_if_necessary
    from ray.serve._private.application_state import override_deployment_info
    from ray.serve._private.deployment_info import DeploymentInfo
    from ray.serve.schema import ServeApplicationSchema

    out = {}
    for app_config in config["applications"]:
        builder = import_attr(app_config["import_path"])
        app = call_user_app_builder_with_args_if_necessary(builder, app_config.get("args") or {})
        deployment = app._bound_deployment
        info = DeploymentInfo(deployment._deployment_config, deployment._replica_config, 0, "t")
        schema = ServeApplicationSchema.model_validate(app_config)
        infos = override_deployment_info({deployment.name: info}, schema)
        out[app_config["name"]] = dict(infos[deployment.name].replica_config.ray_actor_options)
    return out


def _local() -> dict[str, Any]:
    return load_yaml(INFRA / "serve" / "serve_config.yaml")


def _cluster() -> dict[str, Any]:
    docs = yaml.safe_load_all((INFRA / "k8s" / "rayservice.yaml").read_text())
    service = next(d for d in docs if d and d.get("kind") == "RayService")
    return yaml.safe_load(service["spec"]["serveConfigV2"])


def test_the_code_sets_no_resources() -> None:
    """Every deployment's resources come from the config: no ``@serve.deployment`` decorator
    (nor ``.options``) in services/ names actor options."""
    import ast

    found = []
    for path in sorted((REPO_ROOT / "services").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                for kw in node.keywords:
                    if kw.arg in {"ray_actor_options", "num_gpus", "placement_group_bundles"}:
                        found.append(f"{path.relative_to(REPO_ROOT)}:{node.lineno} {kw.arg}")
    assert not found, f"resources set in code as well as in the serve configs: {found}"


def test_local_stack_cpu_only_and_every_deployment_sized() -> None:
    options = deployed_actor_options(_local())
    assert set(options) == set(APPS)
    for name, opts in options.items():
        assert 0 < opts.get("num_cpus", 0) <= 1, (name, opts)
        assert not opts.get("num_gpus"), (name, opts)


def test_serve_up_on_a_gpu_machine_gives_each_renderer_a_gpu() -> None:
    from services import deploy

    options = deployed_actor_options(deploy.prepare_config(_local(), renderer_gpus=1))
    assert options["renderer"]["num_gpus"] == 1.0
    assert (
        options["renderer"]["num_cpus"] == deployed_actor_options(_local())["renderer"]["num_cpus"]
    )  # the config's CPUs are kept beside the GPU
    assert not any(options[n].get("num_gpus") for n in APPS if n != "renderer")


def test_the_cluster_renderer_runs_on_the_gpu_group() -> None:
    options = deployed_actor_options(_cluster())
    assert options["renderer"]["num_gpus"] == 1.0
    assert options["renderer"]["resources"] == {"renderer_gpu": 1}
    assert not any(options[n].get("num_gpus") for n in APPS if n != "renderer")
