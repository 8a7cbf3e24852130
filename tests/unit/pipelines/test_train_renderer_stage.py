"""Stage train_renderer end to end on tiny skeleton/frame pairs: in process (``workers: 1``) and
data-parallel with Ray Train on two CPU workers (``workers: 2``, a real local Ray)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from pipelines import train_renderer
from speech2video.render import checkpoint as ckpt
from speech2video.render.palette import FACE
from speech2video.render.renderer_data import write_sequence
from tests.unit.render.test_renderer_training import synthetic_sequence


def _workspace(root: Path, workers: int) -> None:
    (root / "spk").mkdir()
    (root / "spk" / "speaker.yaml").write_text("speaker: tiny\n")
    settings = {
        "config": "tiny",
        "steps": 2,
        "crop": 32,
        "checkpoint_every": 1,
        "log_every": 1,
        "progress": False,
        "workers": workers,
        "cpus_per_worker": 0.5,
    }
    params = {"speaker_dir": "spk", "train_renderer": settings, "split": {"holdout": ["seq1"]}}
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    skels, reals = synthetic_sequence()
    for rec in ("seq0", "seq1"):
        write_sequence(root / "data/interim/skeletons" / rec, skels, reals)
        (root / "data/interim/ingest" / rec).mkdir(parents=True)
        (root / "data/interim/ingest" / rec / "meta.json").write_text("{}")
    # the held-out recording is never read: a frame missing there would fail the dataset
    (root / "data/interim/skeletons/seq1/frames/000000.png").unlink()


def _with_renderer_params(root: Path, monkeypatch: pytest.MonkeyPatch, **settings: object) -> None:
    """``train_renderer`` params updated with ``settings``; the test then runs in ``root``."""
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["train_renderer"].update(settings)
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    monkeypatch.chdir(root)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)


def _check_outputs(root: Path) -> dict[str, float]:
    metrics = json.loads((root / "metrics/train_renderer.json").read_text())
    assert metrics["steps"] == 2.0 and np.isfinite(metrics["g_total"])
    loaded = ckpt.load_renderer(root / "models/renderer")
    assert loaded.config.preset == "tiny"
    state = torch.load(
        root / train_renderer.TRAINING_DIR / ckpt.TRAINING_STATE_FILE, weights_only=True
    )
    assert state["step"] == 2
    return metrics


def test_stage_trains_in_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _workspace(tmp_path, workers=1)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    train_renderer.main()
    metrics = _check_outputs(tmp_path)
    # the int8 step for CPU rendering: calibrated, checked against float and carried
    assert metrics["int8"] == 1.0 and metrics["int8_psnr_mean"] >= 30.0
    int8 = ckpt.load_renderer(tmp_path / "models/renderer").int8
    assert int8 is not None and int8.shape[0] == 1 and int8.meta["calibrated_on"] == ["seq0"]


def test_stage_without_int8_writes_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _workspace(tmp_path, workers=1)
    _with_renderer_params(tmp_path, monkeypatch, int8=False)
    train_renderer.main()
    assert _check_outputs(tmp_path)["int8"] == 0.0
    assert ckpt.load_renderer(tmp_path / "models/renderer").int8 is None


def test_stage_trains_the_part_refiner_on_training_frames_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _workspace(tmp_path, workers=1)
    refiner = {"steps": 4, "batch_size": 2, "crop": 16, "width": 4, "descriptor": 4}
    _with_renderer_params(tmp_path, monkeypatch, int8=False, part_refiner=refiner)
    train_renderer.main()
    metrics = _check_outputs(tmp_path)
    # seq0's 4 frames, both hands each; held-out seq1 (a frame missing) is never read
    assert metrics["part_refiner"] == 1.0 and metrics["part_refiner_samples"] == 8.0
    assert np.isfinite(metrics["part_refiner_l1"])
    loaded = ckpt.load_renderer(tmp_path / "models/renderer")
    assert loaded.refiner is not None and loaded.refiner.config.crop == 16
    assert loaded.refiner.bank.sequence.unique().tolist() == [0]


def test_a_speaker_without_hands_gets_no_refiner_and_still_a_renderer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _workspace(tmp_path, workers=1)
    skels, reals = synthetic_sequence()
    face_only = np.where((skels == FACE).all(-1, keepdims=True), skels, 0).astype(np.uint8)
    write_sequence(tmp_path / "data/interim/skeletons/seq0", face_only, reals)
    _with_renderer_params(tmp_path, monkeypatch, int8=False, part_refiner={"steps": 4, "crop": 16})
    train_renderer.main()
    assert _check_outputs(tmp_path)["part_refiner"] == 0.0
    assert ckpt.load_renderer(tmp_path / "models/renderer").refiner is None


@pytest.mark.parametrize(
    ("refiner", "needle"),
    [
        ({"steps": 2, "colour": 1}, r"unknown train_renderer\.part_refiner keys \['colour'\]"),
        ({"steps": -1}, "steps >= 0"),
        ({"steps": 2, "parts": ["tail"]}, "part_refiner.parts"),
        ([1, 2], "must be a mapping or null"),
    ],
)
def test_bad_part_refiner_settings_fail_the_stage_by_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, refiner: object, needle: str
) -> None:
    _workspace(tmp_path, workers=1)
    _with_renderer_params(tmp_path, monkeypatch, int8=False, part_refiner=refiner)
    with pytest.raises(train_renderer.StageError, match=needle):
        train_renderer.main()


def test_bad_worker_count_is_a_stage_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _workspace(tmp_path, workers=0)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    with pytest.raises(train_renderer.StageError, match=r"train_renderer\.workers must be >= 1"):
        train_renderer.main()


@pytest.mark.integration
def test_stage_trains_data_parallel_with_ray_train(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ray = pytest.importorskip("ray")
    _workspace(tmp_path, workers=2)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    ray.init(num_cpus=2, include_dashboard=False)
    try:
        train_renderer.main()
    finally:
        ray.shutdown()
    _check_outputs(tmp_path)
