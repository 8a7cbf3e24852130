"""`dvc repro` of the whole per-speaker pipeline on the tiny config, in a temp git + DVC repo.

Runs the real stages (demo speaker → ingest → keypoints → fit → features → training →
dictionary → evaluate → register) and checks what an operator would: every output exists, the
model set is registered in MLflow (sqlite in the temp dir) with production aliases, a second
`dvc repro` does nothing, and changing a parameter re-runs only what depends on it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pipelines.enrolment import copy_project, pipeline_env

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
DVC = [sys.executable, "-m", "dvc"]


def _run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: int = 900) -> str:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{cmd} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


@pytest.fixture(scope="module")
def pipeline_repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    root = tmp_path_factory.mktemp("pipeline")
    copy_project(REPO, root)  # dvc.yaml, the stages' code (what s2v enrol copies too)
    shutil.copy(REPO / "pipelines" / "params" / "tiny.yaml", root / "params.yaml")
    env = {**pipeline_env(root), "S2V_HOME": str(root / ".s2v")}
    env.pop("MLFLOW_TRACKING_URI", None)
    _run(["git", "init", "-q"], root, env)
    _run([*DVC, "init", "-q"], root, env)
    _run(["git", "add", "-A"], root, env)
    _run(["git", "commit", "-qm", "pipeline"], root, env)
    _run([*DVC, "repro"], root, env, timeout=1500)
    return root, env


def test_every_stage_output_exists(pipeline_repo: tuple[Path, dict[str, str]]) -> None:
    root, _ = pipeline_repo
    for path in (
        "data/demo_speaker/speaker.yaml",
        "data/interim/ingest",
        "data/interim/keypoints",
        "data/interim/fit/body_model/profile.json",
        "data/interim/features",
        "models/audio_to_pose/config.json",
        "models/text_to_pose/config.json",
        "models/renderer/config.json",
        "models/renderer/part_refiner.json",  # the tiny params train the hands' refiner
        "models/body_model/profile.json",
        "models/key_pose_dictionary/dictionary.yaml",
        "metrics/evaluation.json",
        "metrics/registered.json",
        "dvc.lock",
    ):
        assert (root / path).exists(), path
    metrics = json.loads((root / "metrics" / "evaluation.json").read_text())
    assert metrics, "evaluation wrote no metrics"
    # the posed keywords.csv words, plus any the transcripts add; csv words are never re-chosen
    key_words = json.loads((root / "metrics" / "key_words.json").read_text())
    posed = {row["word"] for row in key_words["from_keywords_csv"]}
    mined = {c["word"] for c in key_words["from_transcripts"]["chosen"]}
    assert posed and not posed & mined
    summary = json.loads((root / "metrics" / "build_key_pose_dictionary.json").read_text())
    assert summary["entries"] == len(posed | mined)


def test_model_set_is_registered_with_production_alias(
    pipeline_repo: tuple[Path, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, _ = pipeline_repo
    monkeypatch.setenv("S2V_HOME", str(root / ".s2v"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    from speech2video_mlops.registry import ModelRegistry

    registry = ModelRegistry()
    components = registry.speakers()["demo"]
    assert {"audio_to_pose", "renderer", "key_pose_dictionary", "body_model"} <= set(components)
    for component in components:
        ref = registry.by_alias("demo", component, "production")
        assert ref.tags.get("git.commit"), component
        assert ref.run_id


def test_repro_again_is_a_no_op_and_params_rerun_only_dependants(
    pipeline_repo: tuple[Path, dict[str, str]],
) -> None:
    root, env = pipeline_repo
    status = _run([*DVC, "status"], root, env)
    assert "changed" not in status, status
    params = (root / "params.yaml").read_text()
    (root / "params.yaml").write_text(
        params.replace("default_probability: 0.8", "default_probability: 0.7")
    )
    out = _run([*DVC, "repro", "build_key_pose_dictionary"], root, env)
    assert "Running stage 'build_key_pose_dictionary'" in out
    assert "Running stage 'train_renderer'" not in out
