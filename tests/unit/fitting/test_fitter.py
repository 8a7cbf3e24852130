"""Fitting recovers known poses from their exact 2D projections; smoothness cuts jitter."""

from __future__ import annotations

import numpy as np
import pytest

from speech2video.body import pose_layout as pl
from speech2video.body.camera import PinholeCamera
from speech2video.body.skeleton_model import OpenSkeletonModel
from speech2video.errors import InputError
from speech2video.fitting.fitter import FitConfig, fit_poses
from speech2video.fitting.keypoint_set import Keypoints2D, project_keypoints
from speech2video.fitting.pose_prior import joint_columns, mean_pose
from speech2video.fitting.speaker_calibration import calibrate_speaker

FAST = FitConfig(iterations=120, init_iterations=60, batch_frames=8, face_model_frames=16)


def plausible_poses(t: int, seed: int = 0) -> np.ndarray:
    """(t, 106): the mean pose with random arm, head, jaw, hand and expression changes."""
    rng = np.random.default_rng(seed)
    p = np.tile(mean_pose(), (t, 1))
    for name, amp in (("left_shoulder", 0.25), ("right_shoulder", 0.25), ("neck", 0.1)):
        c = joint_columns(name)
        p[:, c] += rng.uniform(-amp, amp, (t, 3))
    p[:, joint_columns("left_elbow").start + 1] = rng.uniform(-1.2, -0.4, t)
    p[:, joint_columns("right_elbow").start + 1] = rng.uniform(0.4, 1.2, t)
    p[:, pl.JAW.start] = rng.uniform(0.0, 0.3, t)
    p[:, pl.HANDS] = rng.uniform(-0.3, 0.3, (t, 24))
    p[:, pl.EXPRESSION] = rng.uniform(-0.5, 0.5, (t, 10))
    return p.astype(np.float32)


@pytest.fixture(scope="module")
def speaker() -> tuple[OpenSkeletonModel, PinholeCamera]:
    model = OpenSkeletonModel.default(global_orient=np.array([0.05, 0.15, 0.0], np.float32))
    return model, PinholeCamera.framing(640, 480, model.rest_joints)


def test_recovers_known_poses(speaker: tuple[OpenSkeletonModel, PinholeCamera]) -> None:
    model, camera = speaker
    truth = plausible_poses(6)
    fit = fit_poses(model, camera, project_keypoints(model, camera, truth), FAST)
    assert fit.poses.shape == truth.shape
    assert fit.errors["body"] < 2.0 and fit.errors["hands"] < 3.0 and fit.errors["face"] < 1.0
    jaw = np.abs(fit.poses[:, pl.JAW.start] - truth[:, pl.JAW.start])
    assert jaw.mean() < 0.05
    for name in ("left_elbow", "right_elbow"):
        flex = joint_columns(name).start + 1
        assert np.abs(fit.poses[:, flex] - truth[:, flex]).mean() < 0.3


def test_smoothness_reduces_jitter(speaker: tuple[OpenSkeletonModel, PinholeCamera]) -> None:
    model, camera = speaker
    truth = np.tile(plausible_poses(1, seed=3), (10, 1))
    clean = project_keypoints(model, camera, truth)
    rng = np.random.default_rng(1)
    noisy = Keypoints2D(
        clean.joints + rng.normal(0, 3.0, clean.joints.shape),
        clean.joint_conf,
        clean.landmarks + rng.normal(0, 1.5, clean.landmarks.shape),
        clean.landmark_conf,
    )

    def jitter(smoothness: float) -> float:
        cfg = FitConfig(**{**FAST.__dict__, "smoothness": smoothness, "batch_frames": 10})
        joints = model.forward(fit_poses(model, camera, noisy, cfg).poses).joints
        return float(np.linalg.norm(np.diff(joints, axis=0), axis=-1).mean())

    assert jitter(5.0) < 0.5 * jitter(0.0)


def test_calibration_places_the_camera(speaker: tuple[OpenSkeletonModel, PinholeCamera]) -> None:
    model, camera = speaker
    kp = project_keypoints(model, camera, plausible_poses(16, seed=5))
    cal = calibrate_speaker([kp], 640, 480, FAST)
    depth_true = camera.translation[2]
    assert abs(cal.camera.translation[2] - depth_true) < 0.15 * depth_true
    assert cal.face_refitted is False  # 16 frames < min_face_frames
    ratio = cal.model.bone_lengths() / model.bone_lengths()
    assert np.median(ratio) == pytest.approx(1.0, abs=0.1)


def test_config_from_params_rejects_unknown_keys() -> None:
    cfg = FitConfig.from_params({"iterations": "20", "use_ground_truth": True})
    assert cfg.iterations == 20
    with pytest.raises(InputError, match="unknown fit setting"):
        FitConfig.from_params({"iterationz": 3})
