"""The pose-model training stage refuses what it cannot do instead of ignoring it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pipelines.pose_model_training import train_pose_model
from pipelines.stage_io import StageError


def test_phonetic_input_is_refused_by_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    params = {"speaker_dir": "spk", "train_audio_to_pose": {"hidden": 8, "phones": "viseme"}}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(StageError, match="phones 'viseme': phonetic input is measured by"):
        train_pose_model("train_audio_to_pose", "audio_to_pose", "audio")


def _mocap_workspace(root: Path, pretrain: object, **extra: object) -> None:
    """A synthetic mocap speaker (its own three recordings) with a capture of two others under
    ``spk/pretrain``, run through ingest, fit and features."""
    from pipelines import features, fit, ingest
    from tests.integration.test_dvc_mocap import make_mocap_speaker

    make_mocap_speaker(root / "spk", seconds=3.0, count=3)
    make_mocap_speaker(root / "spk" / "pretrain", seconds=4.0, count=2)
    settings = {"hidden": 16, "layers": 1, "epochs": 2, "batch_size": 4, "window_s": 1.0,
                "batches_per_epoch": 2, "val_fraction": 0.0, "pretrain": pretrain,
                **extra}  # fmt: skip
    params = {
        "speaker_dir": "spk",
        "motion_source": "mocap",
        "split": {"holdout": ["rec2"]},
        "features": {"transcribe_missing": False},
        "train_audio_to_pose": settings,
    }
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    ingest.main()
    fit.main()
    features.main()


def test_mocap_pretraining_runs_first_and_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    _mocap_workspace(tmp_path, {"epochs": 3})
    train_pose_model("train_audio_to_pose", "audio_to_pose", "audio")
    metrics = json.loads((tmp_path / "metrics/train_audio_to_pose.json").read_text())
    assert metrics["pretrain_recordings"] == 2.0 and metrics["pretrain_epochs_run"] == 3.0
    assert metrics["pretrain_seconds_of_capture"] == pytest.approx(8.0, abs=0.1)
    assert metrics["recordings"] == 2 and metrics["epochs_run"] == 2


def test_pretraining_settings_and_folder_are_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipelines.mocap_pretraining import pretrain_settings

    assert pretrain_settings({}) is None and pretrain_settings({"pretrain": None}) is None
    assert pretrain_settings({"pretrain": True})["parts"] == ["body", "mouth"]
    with pytest.raises(StageError, match=r"unknown key\(s\) \['epoch'\]"):
        pretrain_settings({"pretrain": {"epoch": 3}})
    with pytest.raises(StageError, match=r"pretrain\.parts: \['jaw'\]"):
        pretrain_settings({"pretrain": {"parts": ["jaw"]}})
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    _mocap_workspace(tmp_path, {"folder": "elsewhere"})
    with pytest.raises(StageError, match=r"spk/elsewhere: no pre-training folder"):
        train_pose_model("train_audio_to_pose", "audio_to_pose", "audio")


def test_a_speech_embedding_readout_is_trained_after_pretraining(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    from speech2video.motion.lstm import SequenceToPoseLSTM

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    _mocap_workspace(tmp_path, {"epochs": 1}, embedding="whisper", val_fraction=0.3,
                     val_block_s=1.0)  # fmt: skip
    assert (tmp_path / "data/interim/features/embedding/whisper/rec0.npy").is_file()
    train_pose_model("train_audio_to_pose", "audio_to_pose", "audio")
    metrics = json.loads((tmp_path / "metrics/train_audio_to_pose.json").read_text())
    assert metrics["pretrain_recordings"] == 2.0
    assert metrics["readout_ridge"] > 0 and "readout_val_error_mouth" in metrics
    assert {metrics["readout_used_mouth"], metrics["readout_used_face"]} <= {0.0, 1.0}
    model = SequenceToPoseLSTM.load(tmp_path / "models/audio_to_pose")
    assert model.config.embedding == "whisper" and model.readout.is_ready
