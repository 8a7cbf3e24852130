"""Every shell command in README.md and the guides is one the project really has.

`s2v` lines parse with the real CLI parser; `make` targets exist in the Makefile; `dvc` stages
exist in dvc.yaml; files and folders named by `docker`, `kubectl`, `cp` and `python` lines exist.
(Docker and Kubernetes cannot run here; their manifests are validated in tests/infra.)
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml

from speech2video_cli.main import build_parser

REPO = Path(__file__).resolve().parents[3]
DOCS = ("README.md", "docs/operations.md", "docs/backend-integration.md", "docs/pipecat.md")


def _commands(doc: str) -> list[str]:
    text = (REPO / doc).read_text()
    lines = []
    for block in re.findall(r"```(?:bash|sh)\n(.*?)```", text, flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split("  #")[0].strip()
            if line and not line.startswith("#"):
                lines.append(line)
    return lines


ALL = [(doc, line) for doc in DOCS for line in _commands(doc)]


def test_the_docs_have_commands() -> None:
    for doc in DOCS:
        assert _commands(doc), f"{doc} shows no shell commands"


@pytest.mark.parametrize(("doc", "line"), ALL, ids=[f"{d}:{i}" for i, (d, _) in enumerate(ALL)])
def test_command_exists(doc: str, line: str) -> None:
    argv = shlex.split(line)
    tool = argv[0]
    if tool == "s2v":
        build_parser().parse_args(argv[1:])  # SystemExit(2) fails the test with the usage line
    elif tool == "make":
        targets = set(re.findall(r"^([\w-]+):", (REPO / "Makefile").read_text(), flags=re.M))
        assert set(argv[1:]) <= targets, f"{doc}: unknown make target in {line!r}"
    elif tool == "dvc":
        assert argv[1] in {"repro", "push", "pull", "add", "params", "metrics", "status"}
        if argv[1] == "repro" and len(argv) > 2:
            stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
            assert argv[-1] in stages, f"{doc}: unknown stage in {line!r}"
    elif tool in {"docker", "kubectl", "cp", "python"}:
        paths = [a for a in argv[1:] if "/" in a and not a.startswith("-")]
        for path in paths:
            if path.endswith("/.env"):  # made by the cp line before it, from .env.example
                continue
            assert (REPO / path).exists(), f"{doc}: {path} named by {line!r} does not exist"
    elif tool in {"grpcurl", "mlflow"}:
        pass  # exercised by tests/integration/serving (grpcurl) and the MLflow tests
    else:
        pytest.fail(f"{doc}: command {tool!r} is not checked by this test: {line!r}")
