"""SMPL-X through the real smplx code, on a synthetic model file built around the open skeleton."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from speech2video.body import pose_layout as pl
from speech2video.body.body_model import BodyModel, load_body_model
from speech2video.body.face_landmarks import BROWS, LOWER_LIP
from speech2video.body.hand_basis import open_hand_basis
from speech2video.body.joint_tree import JOINT_INDEX, LEFT_HAND_JOINTS
from speech2video.body.skeleton_model import OpenSkeletonModel
from speech2video.body.smplx_model import SmplxBodyModel, smplx_model_file
from speech2video.errors import InputError

J = JOINT_INDEX


@pytest.fixture(scope="module")
def model(synthetic_smplx_dir: Path) -> SmplxBodyModel:
    return SmplxBodyModel(synthetic_smplx_dir)


def _poses(t: int, seed: int, scale: float = 0.4) -> np.ndarray:
    return (np.random.default_rng(seed).normal(size=(t, pl.POSE_DIM)) * scale).astype(np.float32)


def test_real_smplx_runs_and_gives_the_interface_shapes(model: SmplxBodyModel) -> None:
    assert isinstance(model, BodyModel)
    out = model.forward(_poses(5, 0))
    assert out.joints.shape == (5, 55, 3) and out.landmarks.shape == (5, 51, 3)
    assert out.joints.dtype == np.float32 and np.all(np.isfinite(out.joints))


def test_joints_move_when_the_pose_changes(model: SmplxBodyModel) -> None:
    zero = np.zeros((1, pl.POSE_DIM), np.float32)
    bent = zero.copy()
    e = J["left_elbow"]
    bent[0, 3 * (e - 1) : 3 * e] = (0.0, -1.2, 0.0)
    a, b = model.forward(zero).joints[0], model.forward(bent).joints[0]
    moved = set(np.flatnonzero(np.linalg.norm(a - b, axis=1) > 1e-5))
    assert moved == {J["left_wrist"], *LEFT_HAND_JOINTS}


def test_smplx_and_open_skeleton_agree_on_the_synthetic_file(model: SmplxBodyModel) -> None:
    # The synthetic file's template, regressor and hand PCA are the open skeleton's, so the real
    # smplx kinematics must reproduce the skeleton's joints (hands through the 12-D basis too).
    poses = _poses(4, 1)
    poses[:, pl.EXPRESSION] = 0.0
    skeleton = OpenSkeletonModel.default()
    np.testing.assert_allclose(
        model.forward(poses).joints, skeleton.forward(poses).joints, atol=1e-4
    )
    np.testing.assert_allclose(
        model.hand_basis.components_left, open_hand_basis().components_left, atol=1e-6
    )


def test_landmarks_follow_the_jaw(model: SmplxBodyModel) -> None:
    zero = np.zeros((1, pl.POSE_DIM), np.float32)
    opened = zero.copy()
    opened[0, pl.JAW] = (0.3, 0.0, 0.0)
    closed_lm, open_lm = model.forward(zero).landmarks[0], model.forward(opened).landmarks[0]
    assert np.all(open_lm[list(LOWER_LIP), 1] < closed_lm[list(LOWER_LIP), 1] - 0.01)
    np.testing.assert_allclose(open_lm[list(BROWS)], closed_lm[list(BROWS)], atol=1e-6)


def test_speaker_state_betas_orient_translation(
    synthetic_smplx_dir: Path, model: SmplxBodyModel
) -> None:
    poses = _poses(2, 2)
    base = model.forward(poses).joints
    betas = np.zeros(10, np.float32)
    betas[0] = 2.0  # the synthetic file's first shape direction scales the body by 5 % per unit
    tall = SmplxBodyModel(synthetic_smplx_dir, betas=betas).forward(poses).joints
    span = lambda j: j[:, J["head"], 1] - j[:, J["left_ankle"], 1]  # noqa: E731
    np.testing.assert_allclose(span(tall), 1.1 * span(base), rtol=0.02)
    moved = SmplxBodyModel(synthetic_smplx_dir, translation=np.array([0.0, 0.0, 1.0])).forward(
        poses
    )
    np.testing.assert_allclose(moved.joints, base + np.array([0.0, 0.0, 1.0]), atol=1e-5)


def test_long_sequences_are_chunked_consistently(model: SmplxBodyModel) -> None:
    poses = _poses(300, 3)
    whole = model.forward(poses).joints
    np.testing.assert_allclose(whole[290:], model.forward(poses[290:]).joints, atol=1e-5)


def test_forward_torch_is_differentiable(model: SmplxBodyModel) -> None:
    poses = torch.tensor(_poses(2, 4), requires_grad=True)
    out = model.forward_torch(poses)
    out.joints[:, J["right_wrist"]].sum().backward()
    assert poses.grad is not None and torch.count_nonzero(poses.grad[:, pl.BODY]) > 0


def test_smplx_kwargs_round_trip_matches_the_model_inputs() -> None:
    poses = _poses(3, 5)
    kwargs = pl.to_smplx_kwargs(
        poses, betas=np.arange(10, dtype=np.float32), global_orient=np.ones(3)
    )
    assert kwargs["left_hand_pose"].shape == (3, 12) and kwargs["betas"].shape == (3, 10)
    np.testing.assert_array_equal(pl.from_smplx_kwargs(kwargs), poses)


def test_missing_model_file_is_a_clear_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"SMPL-X model file not found: .*SMPLX_NEUTRAL\.npz"):
        SmplxBodyModel(tmp_path)
    with pytest.raises(InputError, match=r"SMPLX_FEMALE\.npz"):
        smplx_model_file(tmp_path, "female")
    with pytest.raises(InputError, match="gender"):
        smplx_model_file(tmp_path, "other")
    with pytest.raises(InputError, match="model_dir"):
        load_body_model("smplx")


def test_load_body_model_builds_both_kinds(synthetic_smplx_dir: Path, tmp_path: Path) -> None:
    assert isinstance(load_body_model("smplx", synthetic_smplx_dir), SmplxBodyModel)
    skeleton = load_body_model(global_orient=np.array([0.0, 0.5, 0.0]))
    assert isinstance(skeleton, OpenSkeletonModel)
    np.testing.assert_allclose(skeleton.global_orient, (0.0, 0.5, 0.0))
    skeleton.save(tmp_path / "skeleton.npz")
    again = load_body_model("skeleton", tmp_path, translation=np.ones(3))
    assert isinstance(again, OpenSkeletonModel)
    np.testing.assert_allclose(again.translation, 1.0)
    np.testing.assert_allclose(again.global_orient, (0.0, 0.5, 0.0))
    with pytest.raises(InputError, match="unknown body model kind"):
        load_body_model("mesh")
    with pytest.raises(InputError, match="unknown speaker setting"):
        load_body_model("skeleton", tmp_path, gender="male")
