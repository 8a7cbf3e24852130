"""infra/k8s/rayservice.yaml: KubeRay CRD schema, embedded serve config, GPU renderer group."""

from __future__ import annotations

import copy
import importlib.util
from typing import Any

import pytest
import yaml
from infra_helpers import INFRA, load_yaml, shared_schema
from test_serve_config import check_serve_config

jsonschema = pytest.importorskip("jsonschema", reason="jsonschema is not installed")

RAYSERVICE = INFRA / "k8s" / "rayservice.yaml"


def _sync_module() -> Any:
    spec = importlib.util.spec_from_file_location(
        "s2v_sync_serve_config", INFRA / "k8s" / "sync_serve_config.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def strict(schema: Any) -> Any:
    """The CRD schema with unknown fields rejected, as `kubectl apply --validate=strict` does."""
    if isinstance(schema, dict):
        out = {k: strict(v) for k, v in schema.items()}
        if (
            out.get("type") == "object"
            and "properties" in out
            and "additionalProperties" not in out
            and not out.get("x-kubernetes-preserve-unknown-fields")
        ):
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [strict(v) for v in schema]
    return schema


@pytest.fixture(scope="module")
def crd_schema() -> dict[str, Any]:
    crd = load_yaml(shared_schema("kuberay/ray.io_rayservices.yaml"))
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    return strict(version["schema"]["openAPIV3Schema"])


def crd_errors(schema: dict[str, Any], doc: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft7Validator(schema)
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(doc)]


@pytest.fixture(scope="module")
def rayservice() -> dict[str, Any]:
    return load_yaml(RAYSERVICE)


def test_rayservice_matches_kuberay_crd(crd_schema, rayservice) -> None:
    assert rayservice["apiVersion"] == "ray.io/v1" and rayservice["kind"] == "RayService"
    assert crd_errors(crd_schema, rayservice) == []


def test_crd_check_rejects_a_misspelt_field(crd_schema, rayservice) -> None:
    broken = copy.deepcopy(rayservice)
    broken["spec"]["rayClusterConfig"]["workerGroupSpecs"][0]["maxReplica"] = 3
    assert crd_errors(crd_schema, broken)


def test_serve_config_v2_is_valid_and_lists_every_app(rayservice) -> None:
    check_serve_config(yaml.safe_load(rayservice["spec"]["serveConfigV2"]))


def test_serve_config_v2_is_the_local_config_plus_cluster_overrides(rayservice) -> None:
    sync = _sync_module()
    embedded = yaml.safe_load(rayservice["spec"]["serveConfigV2"])
    local = load_yaml(INFRA / "serve" / "serve_config.yaml")
    assert [(a["name"], a["import_path"], a["route_prefix"]) for a in embedded["applications"]] == [
        (a["name"], a["import_path"], a["route_prefix"]) for a in local["applications"]
    ]
    assert embedded == sync.cluster_config(), "run: python infra/k8s/sync_serve_config.py"
    assert sync.main(["--check"]) == 0


def test_renderer_lands_on_the_gpu_group_and_groups_autoscale(rayservice) -> None:
    cluster = rayservice["spec"]["rayClusterConfig"]
    assert cluster["enableInTreeAutoscaling"] is True
    assert cluster["rayVersion"] == "2.60.0"
    groups = {g["groupName"]: g for g in cluster["workerGroupSpecs"]}
    assert {"cpu", "gpu-renderer"} <= set(groups)
    for group in groups.values():
        assert 0 <= group["minReplicas"] <= group.get("replicas", 0) <= group["maxReplicas"]
        assert group["maxReplicas"] >= 1
    gpu = groups["gpu-renderer"]
    (container,) = gpu["template"]["spec"]["containers"]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "1"
    offered = set(gpu.get("resources", {}))
    assert not any(
        set(g.get("resources", {})) & offered for n, g in groups.items() if n != "gpu-renderer"
    )

    embedded = yaml.safe_load(rayservice["spec"]["serveConfigV2"])
    for app in embedded["applications"]:
        for dep in app["deployments"]:
            opts = dep["ray_actor_options"]
            custom = set(opts.get("resources", {}))
            if app["name"] == "renderer":
                assert opts.get("num_gpus", 0) > 0 and custom and custom <= offered
            else:
                assert not opts.get("num_gpus") and not custom & offered
    assert rayservice["spec"]["serveService"]["spec"]["ports"][0]["port"] == 9000
