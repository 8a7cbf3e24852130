"""Scoring a tiny model beside its baselines, and the report written from it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from speech2video.body.camera import PinholeCamera
from speech2video.body.joint_tree import MOUTH_LANDMARKS
from speech2video.body.skeleton_model import OpenSkeletonModel
from speech2video.evaluation import report
from speech2video.evaluation.directions import metric_direction
from speech2video.evaluation.motion_evaluation import HeldOutClip, evaluate_motion
from speech2video.evaluation.render_metrics import RenderScores
from speech2video.motion.lstm import LSTMConfig, SequenceToPoseLSTM

FPS = 25.0


def _clip(name: str, seed: int, body, camera) -> HeldOutClip:
    rng = np.random.default_rng(seed)
    feats = rng.normal(0, 1, (200, 28)).astype(np.float32)  # 2 s at 100 Hz
    fitted = (0.05 * rng.normal(0, 1, (50, 106))).astype(np.float32)
    lm = camera.project(body.forward(fitted).landmarks[:, list(MOUTH_LANDMARKS)])
    return HeldOutClip(name, {"audio": feats}, fitted, FPS, lm, np.ones(lm.shape[:2]))


def test_evaluate_motion_reports_model_baselines_and_fitted(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = SequenceToPoseLSTM(LSTMConfig(hidden=16, layers=1)).eval()
    body, camera = OpenSkeletonModel.default(), PinholeCamera.framing(128, 128)
    clips = [_clip("a", 1, body, camera), _clip("b", 2, body, camera)]
    mean = np.mean([c.fitted.mean(axis=0) for c in clips], axis=0)
    other = [np.random.default_rng(9).normal(0, 1, (150, 28)).astype(np.float32)]
    ev = evaluate_motion(clips, model, body, camera, mean, seed=0, other_inputs=other)
    m = ev.metrics
    expected = ("mouth_px", "mouth_px_mean_pose", "mouth_px_shuffled", "pose_mae_hands",
                "pose_mae_body_mean_pose", "diversity_face_fitted", "beat_consistency")  # fmt: skip
    for key in expected:
        assert key in m and np.isfinite(m[key]), key
    assert m["mouth_px_fitted"] == pytest.approx(0.0, abs=1e-3)  # detections are the fit's own
    assert m["num_clips"] == 2 and m["num_frames"] == 100
    assert set(ev.predictions) == {"a", "b"} and ev.predictions["a"].shape == (50, 106)
    assert set(ev.mouth_opening) >= {"model", "fitted", "detected", "mean_pose", "shuffled"}
    assert set(ev.part_errors) == {"model", "mean_pose", "shuffled", "other_audio"}
    assert "mouth_px_gain" in m and "mouth_shape_px_gain" in m
    for part in ("jaw", "face", "body", "hands"):  # gain over the better of mean pose / other
        best = min(m[f"pose_mae_{part}_mean_pose"], m[f"pose_mae_{part}_other_audio"])
        assert m[f"pose_mae_{part}_gain"] == pytest.approx(1 - m[f"pose_mae_{part}"] / best)
    assert -1.0 <= m["jaw_opening_corr"] <= 1.0 and m["jaw_opening_corr_mean_pose"] == 0.0
    assert set(ev.jaw_opening) >= {"model", "fitted", "mean_pose", "other_audio"}
    np.testing.assert_array_equal(ev.jaw_opening["fitted"], clips[0].fitted[:, 63])

    samples = np.zeros((1, 2, 3, 16, 16, 3), np.uint8)
    render = RenderScores(30.0, 0.9, 5.0, 7.0, 4, samples)
    metrics = {**m, **render.metrics(), "keypose_within_1f": 1.0}
    path = report.write_report(tmp_path / "rep", metrics, "demo", ev, render, FPS, ["a note"])
    text = path.read_text()
    assert "| mouth_px |" in text and "shuffled audio" in text and "| psnr |" in text
    assert "keypose_within_1f" in text and "a note" in text
    shape_gain = f"(`mouth_shape_px`): {m['mouth_shape_px_gain']:.1%} (target"
    assert "Mouth motion gain" in text and shape_gain in text
    assert "other audio" in text and "| jaw_opening_corr |" in text
    assert "Jaw-opening correlation with the truth" in text and "per part: body" in text
    pngs = ("mouth_trajectory.png", "jaw_trajectory.png", "part_errors.png", "render_crops.png")
    for png in pngs:
        assert (tmp_path / "rep" / png).stat().st_size > 1000
        assert f"({png})" in text
    finite = report.finite_metrics({**metrics, "bad": float("nan")})
    assert "bad" not in finite and all(isinstance(v, float) for v in finite.values())


def test_metric_directions() -> None:
    assert metric_direction("mouth_px") == "lower"
    assert metric_direction("pose_mae_hands") == "lower"
    assert metric_direction("text_pose_mae_jaw") == "lower"
    assert metric_direction("psnr") == metric_direction("ssim") == "higher"
    assert metric_direction("keypose_within_1f") == "higher"
    assert metric_direction("jaw_opening_corr") == "higher"
    for informational in ("mouth_px_shuffled", "pose_mae_body_mean_pose", "diversity_body",
                          "beat_consistency_fitted", "num_clips", "unknown_metric",
                          "pose_mae_jaw_gain", "pose_mae_jaw_other_audio", "psnr_ref_plate",
                          "psnr_ref_real_lag", "reference_lag_s"):  # fmt: skip
        assert metric_direction(informational) is None
