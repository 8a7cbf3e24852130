"""``s2v models list|register|promote|rollback`` through ``speech2video_cli.main.main``."""

from __future__ import annotations

from pathlib import Path

import pytest

from speech2video_cli import main as cli

pytestmark = pytest.mark.integration

MODULE = "speech2video_cli.models_command"


@pytest.fixture()
def s2v(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture):
    """Run ``s2v ARGS`` against a temp sqlite registry; returns (exit code, stdout, stderr)."""
    monkeypatch.setenv("S2V_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("S2V_DEBUG", raising=False)
    if MODULE not in cli.COMMAND_MODULES:  # until main.py registers it
        monkeypatch.setattr(cli, "COMMAND_MODULES", (*cli.COMMAND_MODULES, MODULE))

    def run(*args: str) -> tuple[int, str, str]:
        code = cli.main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return run


def _component(tmp_path: Path, name: str) -> str:
    d = tmp_path / name
    d.mkdir()
    (d / "config.json").write_text("{}")
    return str(d)


def _register(s2v, tmp_path: Path, tag: str, mouth: float) -> None:
    for component in ("audio_to_pose", "renderer"):
        code, out, _ = s2v("models", "register", "demo", component,
                           _component(tmp_path, f"{component}{tag}"),
                           "--metric", f"mouth_px={mouth}", "--metric", "psnr=30",
                           "--alias", "candidate")  # fmt: skip
        assert code == 0 and f"registered s2v-demo-{component} version" in out


def test_register_list_promote_refuse_force_rollback(s2v, tmp_path: Path) -> None:
    _register(s2v, tmp_path, "1", 2.0)
    code, out, _ = s2v("models", "promote", "demo")
    assert code == 0 and "promoted demo to production: audio_to_pose=1, renderer=1" in out
    code, out, _ = s2v("models", "list", "demo")
    assert code == 0
    assert "audio_to_pose" in out and "candidate,production" in out and "mouth_px=2" in out

    _register(s2v, tmp_path, "2", 2.5)
    code, _, err = s2v("models", "promote", "demo", "--alias", "production", "--from",
                       "candidate", "--tolerance", "0.05")  # fmt: skip
    assert code == 1
    assert err.count("\n") == 1 and err.startswith("s2v: error: promotion of demo to production")
    assert "mouth_px (lower is better): current 2, candidate 2.5, tolerance 0.05" in err

    code, _, err = s2v("models", "promote", "demo", "--force")
    assert code == 1 and err.strip() == (
        "s2v: error: --force needs --reason: say why the gate is overridden"
    )
    code, out, _ = s2v("models", "promote", "demo", "--force", "--reason", "demo day")
    assert code == 0 and "forced: demo day" in out and "overridden: mouth_px" in out

    code, out, _ = s2v("models", "rollback", "demo", "--alias", "production")
    assert code == 0 and "rolled back demo production: audio_to_pose=1, renderer=1" in out
    code, out, _ = s2v("models", "list")
    assert code == 0 and out.count("production") == 2


def test_errors_are_one_line(s2v, tmp_path: Path) -> None:
    home = tmp_path / "home"
    for args in (("models", "list"), ("models", "list", "demo"), ("models", "promote", "demo"),
                 ("models", "rollback", "demo")):  # fmt: skip
        code, out, err = s2v(*args)  # no registry yet: none is made, the error says where
        assert code == 1 and err.count("\n") == 1 and not out
        assert f"no registry at {home / 'mlflow.db'}" in err
    assert not (home / "mlflow.db").exists()
    code, _, err = s2v("models", "list", "--tracking-uri", f"sqlite:///{tmp_path / 'other.db'}")
    assert code == 1 and "other.db" in err and not (tmp_path / "other.db").exists()
    code, _, err = s2v("models", "register", "demo", "audio_to_pose",
                       _component(tmp_path, "x"), "--metric", "mouth_px")  # fmt: skip
    assert code == 1 and "NAME=VALUE" in err
    code, _, err = s2v("models", "register", "demo", "vocoder", _component(tmp_path, "y"))
    assert code == 1 and "unknown component" in err
    _register(s2v, tmp_path, "1", 2.0)  # registering makes the registry
    for args in (("models", "list", "nobody"), ("models", "promote", "nobody"),
                 ("models", "rollback", "nobody")):  # fmt: skip
        code, _, err = s2v(*args)
        assert code == 1 and err.count("\n") == 1
        assert "no registered models for speaker 'nobody'" in err


DOC = Path(__file__).resolve().parents[3] / "docs" / "data-science.md"


def doc_blocks(language: str) -> list[str]:
    """The fenced ``language`` blocks of docs/data-science.md."""
    parts = DOC.read_text().split("```")
    return [p[len(language) :].strip() for p in parts[1::2] if p.startswith(language + "\n")]


def test_documented_s2v_commands_run_in_order(
    s2v, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shlex

    monkeypatch.chdir(tmp_path)
    (tmp_path / "models" / "audio_to_pose").mkdir(parents=True)
    (tmp_path / "models" / "audio_to_pose" / "config.json").write_text("{}")
    lines = [ln for b in doc_blocks("bash") for ln in b.splitlines() if ln.startswith("s2v ")]
    assert [shlex.split(ln)[2] for ln in lines] == [
        "register", "list", "promote", "promote", "rollback"]  # fmt: skip
    for line in lines:
        code, _, err = s2v(*shlex.split(line)[1:])
        assert code == 0, (line, err)


def test_documented_pipeline_commands_exist() -> None:
    import importlib.util

    import yaml

    stages = yaml.safe_load((DOC.parents[1] / "dvc.yaml").read_text())["stages"]
    for line in (ln for b in doc_blocks("bash") for ln in b.splitlines()):
        words = line.split("#")[0].split()
        if words[:3] == ["dvc", "repro", "-s"]:
            assert words[3] in stages
        elif words[:2] == ["python", "-m"]:
            assert importlib.util.find_spec(words[2]) is not None
        elif words[:1] == ["dvc"]:
            assert words[1:3] in (["repro"], ["metrics", "show"]), line
