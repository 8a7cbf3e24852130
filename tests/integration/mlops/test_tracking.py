"""Training runs in a real MLflow sqlite store: params, epoch metrics, artifacts, lineage tags."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from speech2video_mlops.registry import ModelRegistry
from speech2video_mlops.tracking import TrainingRun, dvc_lock_hashes, flatten, git_commit

pytestmark = pytest.mark.integration


def test_run_logs_params_metrics_artifacts_and_tags(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("S2V_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "dvc.lock").write_text(
        "schema: '2.0'\nstages:\n  train_x:\n    cmd: python x.py\n    deps:\n"
        "    - path: data/features\n      md5: abc123.dir\n"
    )
    art = tmp_path / "model"
    art.mkdir()
    (art / "config.json").write_text("{}")
    registry = ModelRegistry()
    with TrainingRun("train_x", "demo", {"lstm": {"hidden": 300}, "lr": 0.001}) as run:
        for epoch in range(3):
            run.log_epoch(epoch, {"val_loss": 1.0 / (epoch + 1), "bad": float("nan")})
        run.log_artifacts(art, "model")
    got = registry.client.get_run(run.run_id)
    assert got.info.status == "FINISHED"
    assert got.data.params == {"lstm.hidden": "300", "lr": "0.001"}
    assert (
        got.data.tags["speaker"] == "demo" and got.data.tags["data.data/features"] == "abc123.dir"
    )
    history = registry.client.get_metric_history(run.run_id, "val_loss")
    assert [m.step for m in history] == [0, 1, 2]
    assert "bad" not in got.data.metrics
    assert [a.path for a in registry.client.list_artifacts(run.run_id, "model")] == [
        "model/config.json"
    ]


def test_failed_run_is_marked_failed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("S2V_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    with pytest.raises(RuntimeError), TrainingRun("train_y", "demo", {}) as run:
        raise RuntimeError("boom")
    assert ModelRegistry().client.get_run(run.run_id).info.status == "FAILED"


def test_git_commit_and_helpers(tmp_path: Path) -> None:
    assert git_commit(tmp_path) == "unknown"
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "f").write_text("x")
    subprocess.run(["git", "-C", str(tmp_path), "add", "f"], check=True)
    who = ["-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(["git", "-C", str(tmp_path), *who, "commit", "-qm", "x"], check=True)
    commit = git_commit(tmp_path)
    assert len(commit) == 40
    (tmp_path / "f").write_text("y")
    assert git_commit(tmp_path) == commit + "+dirty"
    assert dvc_lock_hashes("nope", tmp_path / "dvc.lock") == {}
    assert flatten({"a": {"b": 1}, "c": [1, 2]}) == {"a.b": "1", "c": "[1, 2]"}
