"""scripts/check_install.py: the set-up's last step fails loudly when a pin was broken (a
protobuf downgraded by someone's ``pip install pipecat-ai``) and excuses only pipecat-ai's own
``pip check`` lines (it is installed with --no-deps on purpose)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "check_install.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("check_install", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_this_environment_passes() -> None:
    run = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr


def test_a_downgraded_protobuf_fails_loudly(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    check = _load()
    real = check.md.version
    monkeypatch.setattr(check.md, "version", lambda n: "6.33.0" if n == "protobuf" else real(n))
    monkeypatch.setattr(check, "pip_check_problems", lambda: [])
    assert check.main() == 1
    err = capsys.readouterr().err
    assert "protobuf 6.33.0 is installed; pyproject.toml pins 7.36.2" in err
    assert "breaks the generated gRPC code" in err


def test_only_pipecats_own_pip_check_lines_are_excused(monkeypatch: pytest.MonkeyPatch) -> None:
    check = _load()
    out = (
        "pipecat-ai 1.14.0 has requirement protobuf<7,>=5.29.6, but you have protobuf 7.36.2.\n"
        "pipecat-ai 1.14.0 requires openai, which is not installed.\n"
        "mlflow 3.17.2 has requirement protobuf<7, but you have protobuf 7.36.2.\n"
    )
    done = subprocess.CompletedProcess([], 1, stdout=out, stderr="")
    monkeypatch.setattr(check.subprocess, "run", lambda *a, **k: done)
    assert check.pip_check_problems() == [out.splitlines()[2]]
    assert check.pins()["protobuf"] == "7.36.2" and check.pins()["ray"] == "2.60.0"
