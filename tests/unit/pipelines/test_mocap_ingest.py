"""The mocap path's stage helpers: the params switch and the speaker folder, named errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pipelines.mocap_ingest import mocap_files, motion_source
from pipelines.stage_io import StageError


def test_motion_source_switch() -> None:
    assert motion_source({}) == "video"
    assert motion_source({"motion_source": "mocap"}) == "mocap"
    with pytest.raises(StageError, match="motion_source must be one of"):
        motion_source({"motion_source": "kinect"})


def test_speaker_folder_needs_captures_with_their_audio(tmp_path: Path) -> None:
    with pytest.raises(StageError, match="no mocap recordings"):
        mocap_files(tmp_path)
    (tmp_path / "mocap").mkdir()
    np.savez(tmp_path / "mocap" / "a.npz", poses=np.zeros((2, 165)))
    with pytest.raises(StageError, match=r"a\.npz: no audio for it"):
        mocap_files(tmp_path)
    (tmp_path / "audio").mkdir()
    (tmp_path / "audio" / "a.flac").write_bytes(b"")
    assert mocap_files(tmp_path) == {
        "a": (tmp_path / "mocap" / "a.npz", tmp_path / "audio" / "a.flac")
    }
