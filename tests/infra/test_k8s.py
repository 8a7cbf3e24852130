"""infra/k8s: built-in kinds against Kubernetes' schemas (strict), kustomization, secrets."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from infra_helpers import INFRA, load_yaml, yaml_docs

kubernetes_validate = pytest.importorskip(
    "kubernetes_validate", reason="kubernetes-validate is not installed"
)

K8S = INFRA / "k8s"
KUBERNETES_VERSION = "1.33.0"
CUSTOM_KINDS = {("ray.io/v1", "RayService")}  # validated in test_rayservice.py
SECRETISH = ("PASSWORD", "SECRET", "TOKEN", "ACCESS_KEY", "CREDENTIAL")


def manifests() -> list[tuple[str, dict[str, Any]]]:
    out = []
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        out.extend((path.name, doc) for doc in yaml_docs(path))
    return out


def validate(doc: dict[str, Any]) -> None:
    kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def pod_templates(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Pod templates inside a RayService (head and worker groups)."""
    cluster = doc["spec"]["rayClusterConfig"]
    groups = [cluster["headGroupSpec"], *cluster.get("workerGroupSpecs", [])]
    return [g["template"] for g in groups]


@pytest.mark.parametrize(
    ("name", "doc"), manifests(), ids=lambda v: v if isinstance(v, str) else v.get("kind")
)
def test_builtin_kinds_validate_strictly(name: str, doc: dict[str, Any]) -> None:
    if (doc["apiVersion"], doc["kind"]) in CUSTOM_KINDS:
        # kubernetes-validate only warns on CRDs; check their pod templates as PodTemplates.
        for i, template in enumerate(pod_templates(doc)):
            validate(
                {
                    "apiVersion": "v1",
                    "kind": "PodTemplate",
                    "metadata": {"name": f"group-{i}"},
                    "template": template,
                }
            )
        return
    validate(doc)


def test_strict_validation_rejects_an_unknown_field() -> None:
    (deployment,) = [d for _, d in manifests() if d["kind"] == "Deployment"]
    broken = copy.deepcopy(deployment)
    broken["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(broken)


def test_kustomization_lists_every_manifest() -> None:
    kustomization = load_yaml(K8S / "kustomization.yaml")
    listed = set(kustomization["resources"])
    on_disk = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == on_disk
    image_names = {i["name"] for i in kustomization["images"]}
    used = set()
    for _, doc in manifests():
        used |= {c["image"].split(":")[0] for c in _containers(doc)}
    assert {u for u in used if u.startswith("speech2video-")} <= image_names


def _containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    if doc["kind"] == "RayService":
        templates = pod_templates(doc)
    elif doc["kind"] in {"Deployment", "StatefulSet"}:
        templates = [doc["spec"]["template"]]
    else:
        templates = []
    return [c for t in templates for c in t["spec"]["containers"]]


def test_secrets_by_reference_and_non_root() -> None:
    kinds = [doc["kind"] for _, doc in manifests()]
    assert "Secret" not in kinds, "Secrets are created by the operator, never committed"
    for name, doc in manifests():
        for container in _containers(doc):
            for env in container.get("env", []):
                mounted = env["name"].endswith("_FILE") and env.get("value", "").startswith(
                    "/var/run/secrets/"
                )  # a path to a mounted Secret, not a secret
                if (
                    any(word in env["name"] for word in SECRETISH)
                    and "value" in env
                    and not mounted
                ):
                    value = env["value"]
                    assert "$(" in value or not value, f"{name}: {env['name']} given inline"
                    assert "valueFrom" not in env
            image = container["image"]
            assert ":" in image and not image.endswith(":latest"), f"{name}: unpinned {image}"
        for template in _templates(doc):
            assert template["spec"]["securityContext"]["runAsNonRoot"] is True, name


def _templates(doc: dict[str, Any]) -> list[dict[str, Any]]:
    if doc["kind"] == "RayService":
        return pod_templates(doc)
    if doc["kind"] in {"Deployment", "StatefulSet"}:
        return [doc["spec"]["template"]]
    return []
