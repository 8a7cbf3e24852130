"""infra/compose/compose.yaml: the Compose Specification schema and the one-machine layout."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest
from infra_helpers import INFRA, load_yaml, shared_schema

jsonschema = pytest.importorskip("jsonschema", reason="jsonschema is not installed")

COMPOSE_DIR = INFRA / "compose"
COMPOSE = COMPOSE_DIR / "compose.yaml"
SECRETISH = ("PASSWORD", "SECRET", "TOKEN", "ROOT_USER", "ACCESS_KEY")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load_yaml(COMPOSE)


def spec_errors(doc: dict[str, Any]) -> list[str]:
    schema = json.loads(shared_schema("compose/compose-spec.json").read_text())
    validator = jsonschema.Draft7Validator(schema)  # the spec declares draft-07
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(doc)]


def test_compose_matches_the_compose_spec(compose) -> None:
    assert spec_errors(compose) == []


def test_spec_check_rejects_a_broken_file(compose) -> None:
    broken = copy.deepcopy(compose)
    broken["services"]["mlflow"]["depends_on"]["postgres"]["condition"] = "service_up"
    broken["services"]["ray-head"]["healthckeck"] = {}
    assert len(spec_errors(broken)) >= 2


def test_services_ports_health_and_start_order(compose) -> None:
    services = compose["services"]
    assert {"ray-head", "mlflow", "postgres", "minio", "minio-init"} <= set(services)
    ports = " ".join(services["ray-head"]["ports"])
    for port in ("9000:9000", "8000:8000", "8265:8265"):
        assert port in ports
    for name, service in services.items():
        if name == "minio-init" or service.get("profiles"):
            continue
        assert "test" in service.get("healthcheck", {}), f"{name}: no healthcheck"
    assert services["mlflow"]["depends_on"] == {
        "postgres": {"condition": "service_healthy"},
        "minio-init": {"condition": "service_completed_successfully"},
    }
    assert services["minio-init"]["depends_on"]["minio"]["condition"] == "service_healthy"
    assert services["ray-head"]["depends_on"]["mlflow"]["condition"] == "service_healthy"
    mlflow_env = services["mlflow"]["environment"]
    assert mlflow_env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] == "false"
    assert mlflow_env["MLFLOW_BACKEND_STORE_URI"].startswith("postgresql://")
    assert mlflow_env["MLFLOW_ARTIFACTS_DESTINATION"].startswith("s3://")
    head_env = services["ray-head"]["environment"]
    for var in ("MLFLOW_TRACKING_URI", "S2V_MODEL_ALIAS", "S2V_GATEWAY_TOKEN_FILE",
                "S2V_STAGE_TOKEN_FILE", "S2V_GRPC_TARGET"):  # fmt: skip
        assert var in head_env, f"ray-head lacks {var}"


def test_secrets_come_from_the_environment_and_are_documented(compose) -> None:
    for name, service in compose["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if key.endswith("_FILE") and str(value).startswith("/run/secrets/"):
                secret = str(value).rsplit("/", 1)[1]  # a mounted Compose secret: a path
                assert secret in compose["secrets"] and secret in service.get("secrets", [])
                continue
            if any(word in key for word in SECRETISH):
                assert re.fullmatch(r"\$\{\w+(:?[?-][^}]*)?\}", str(value)), (
                    f"{name}: {key} must come from the environment, not the file"
                )
    text = COMPOSE.read_text()
    used = set(re.findall(r"\$\{(\w+)", text))
    example = (COMPOSE_DIR / ".env.example").read_text()
    documented = set(re.findall(r"^(\w+)=", example, flags=re.M))
    used |= {secret["environment"] for secret in compose.get("secrets", {}).values()}
    assert used <= documented, f"missing from .env.example: {sorted(used - documented)}"
    assert ".env" in (COMPOSE_DIR / ".gitignore").read_text().split()


def test_readme_documents_the_dvc_remote() -> None:
    readme = (COMPOSE_DIR / "README.md").read_text()
    assert re.search(r"dvc remote add -d store s3://\S+", readme)
    assert "endpointurl" in readme
