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
