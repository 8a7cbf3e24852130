"""Stage fit end to end on a tiny synthetic recording (ground-truth keypoints)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from pipelines import fit, ingest, keypoints
from speech2video.body.motion_file import load_motion
from speech2video.model_set import load_speaker_profile

_spec = importlib.util.spec_from_file_location(
    "kp_stage_test", Path(__file__).with_name("test_keypoints_stage.py")
)
assert _spec is not None and _spec.loader is not None
_helpers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_helpers)
N = _helpers.N


@pytest.mark.parametrize("use_ground_truth", [False, True])
def test_fit_stage_writes_motion_body_model_and_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, use_ground_truth: bool
) -> None:
    settings = {"use_ground_truth": use_ground_truth, "iterations": 60, "init_iterations": 40}
    truth = _helpers.synthetic_speaker(
        tmp_path, {"keypoints": {"use_ground_truth": True}, "fit": settings}
    )
    monkeypatch.chdir(tmp_path)
    ingest.main()
    keypoints.main()
    fit.main()
    out = tmp_path / "data/interim/fit"
    motion = load_motion(out / "motion" / "r1.npz")
    assert motion.poses.shape == (N // 2, 106) and motion.fps == pytest.approx(15.0)
    profile = load_speaker_profile(out / "body_model")
    assert (profile.width, profile.height) == (_helpers.W, _helpers.H)
    report = json.loads((out / "report.json").read_text())
    rec = report["recordings"]["r1"]
    assert rec["frames_fitted"] == N // 2
    if use_ground_truth:
        assert np.allclose(motion.poses, truth[::2])
        assert rec["reprojection_error_px"]["body"] < 1e-3
    else:
        assert rec["reprojection_error_px"]["body"] < 2.0
        assert rec["reprojection_error_px"]["face"] < 1.0
        jaw = motion.poses[:, 63]
        assert jaw[-1] > jaw[0] + 0.1  # the opening jaw is recovered
