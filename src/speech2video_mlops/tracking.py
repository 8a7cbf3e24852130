"""Tracking training stages as MLflow runs: params, per-epoch metrics, artifacts, lineage tags.

Each training stage is a run in the experiment named after the stage. Tags: ``git.commit``
(``+dirty`` when the tree has changes), ``speaker``, ``stage`` and one ``data.<path>`` tag per
input with its hash from ``dvc.lock`` (when the stage has been through ``dvc repro``).
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml

from speech2video_mlops.registry import ModelRegistry

DVC_LOCK = "dvc.lock"


def git_commit(cwd: str | Path = ".") -> str:
    """HEAD's commit id, with ``+dirty`` if tracked files changed; ``unknown`` outside git."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=cwd,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head}+dirty" if dirty else head


def dvc_lock_hashes(stage: str, lock_path: str | Path = DVC_LOCK) -> dict[str, str]:
    """``{dep path: md5}`` of ``stage``'s dependencies recorded in ``dvc.lock`` (empty if none)."""
    path = Path(lock_path)
    if not path.is_file():
        return {}
    data = yaml.safe_load(path.read_text()) or {}
    entry = (data.get("stages") or {}).get(stage) or {}
    out = {}
    for dep in entry.get("deps") or []:
        digest = dep.get("md5") or dep.get("hash") or ""
        if dep.get("path") and digest:
            out[str(dep["path"])] = str(digest)
    return out


def flatten(params: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested params as ``{"a.b": "value"}`` strings (MLflow params are flat strings)."""
    out: dict[str, str] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = str(value)[:6000]
    return out


class TrainingRun:
    """A context manager around one MLflow run of a stage.

    Usage::

        with TrainingRun("train_audio_to_pose", speaker="demo", params=p) as run:
            train(..., callback=run.log_epoch)
            run.log_artifacts(model_dir, "model")
    """

    def __init__(
        self,
        stage: str,
        speaker: str,
        params: Mapping[str, Any],
        *,
        registry: ModelRegistry | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> None:
        self.stage = stage
        self.speaker = speaker
        self.params = dict(params)
        self.registry = registry or ModelRegistry()
        self.client = self.registry.client
        self.extra_tags = dict(tags or {})
        self.run_id = ""

    def __enter__(self) -> TrainingRun:
        tags = {
            "stage": self.stage,
            "speaker": self.speaker,
            "git.commit": git_commit(),
            **{f"data.{k}": v for k, v in dvc_lock_hashes(self.stage).items()},
            **self.extra_tags,
        }
        run = self.client.create_run(self.registry.experiment_id(self.stage), tags=tags)
        self.run_id = run.info.run_id
        from mlflow.entities import Param

        items = [Param(k, v) for k, v in flatten(self.params).items()]
        for i in range(0, len(items), 100):
            self.client.log_batch(self.run_id, params=items[i : i + 100])
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.client.set_terminated(self.run_id, "FAILED" if exc_type else "FINISHED")

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        """Log numeric metrics (non-finite values are skipped)."""
        import math
        import time

        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        batch = [
            Metric(k, float(v), now, step or 0)
            for k, v in metrics.items()
            if isinstance(v, int | float) and math.isfinite(float(v))
        ]
        if batch:
            self.client.log_batch(self.run_id, metrics=batch)

    def log_epoch(self, epoch: int, metrics: Mapping[str, float]) -> None:
        """The core training loops' ``callback(epoch, metrics)`` signature."""
        self.log_metrics(metrics, step=epoch)

    def log_artifacts(self, directory: str | Path, artifact_path: str | None = None) -> None:
        self.client.log_artifacts(self.run_id, str(directory), artifact_path)

    def log_artifact(self, path: str | Path, artifact_path: str | None = None) -> None:
        self.client.log_artifact(self.run_id, str(path), artifact_path)

    def set_tags(self, tags: Mapping[str, str]) -> None:
        for key, value in tags.items():
            self.client.set_tag(self.run_id, key, str(value))
