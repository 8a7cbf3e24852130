"""Open skeleton: forward kinematics, landmarks on the head, torch path, files, bone lengths."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from speech2video.body import pose_layout as pl
from speech2video.body.body_model import BodyModel
from speech2video.body.bone_lengths import bone_lengths, estimate_bone_lengths
from speech2video.body.face_landmarks import BROWS, LOWER_LIP
from speech2video.body.hand_basis import LEFT_THUMB_DIRECTION
from speech2video.body.joint_tree import BONES, JOINT_INDEX, LEFT_HAND_JOINTS
from speech2video.body.skeleton_model import OpenSkeletonModel, default_rest_joints
from speech2video.errors import InputError, NotFoundError

J = JOINT_INDEX


def _random_poses(t: int, seed: int = 0, scale: float = 0.5) -> np.ndarray:
    return (np.random.default_rng(seed).normal(size=(t, pl.POSE_DIM)) * scale).astype(np.float32)


def _set(poses: np.ndarray, joint: str, aa: tuple[float, float, float]) -> np.ndarray:
    """Write one body joint's axis-angle (SMPL-X joint index j → columns 3(j-1)..)."""
    j = J[joint]
    poses[:, 3 * (j - 1) : 3 * j] = aa
    return poses


def test_it_satisfies_the_body_model_protocol() -> None:
    assert isinstance(OpenSkeletonModel.default(), BodyModel)


def test_default_skeleton_has_adult_proportions() -> None:
    rest = default_rest_joints()
    assert rest.shape == (55, 3) and rest.dtype == np.float32
    np.testing.assert_array_equal(rest[0], 0.0)
    assert (
        rest[J["head"], 1] > rest[J["neck"], 1] > rest[J["spine3"], 1] > 0 > rest[J["left_knee"], 1]
    )
    assert rest[J["left_wrist"], 0] > 0.5 and rest[J["right_wrist"], 0] < -0.5  # left is +x
    assert rest[J["left_eye"], 2] > rest[J["head"], 2]  # facing +z
    height = rest[J["head"], 1] - rest[J["left_ankle"], 1]
    assert 1.3 < height < 1.6
    np.testing.assert_allclose(rest[LEFT_HAND_JOINTS, 0], -rest[list(range(40, 55)), 0])
    thumb = rest[J["left_thumb2"]] - rest[J["left_thumb1"]]
    np.testing.assert_allclose(thumb / np.linalg.norm(thumb), LEFT_THUMB_DIRECTION, atol=1e-6)


def test_zero_pose_without_hand_mean_gives_the_rest_joints() -> None:
    model = OpenSkeletonModel.default()
    flat = pl.HandBasis(
        model.hand_basis.components_left,
        model.hand_basis.components_right,
        np.zeros(45, np.float32),
        np.zeros(45, np.float32),
    )
    flat_model = OpenSkeletonModel(model.rest_joints, hand_basis=flat)
    out = flat_model.forward(np.zeros((3, pl.POSE_DIM), np.float32))
    assert out.joints.shape == (3, 55, 3) and out.landmarks.shape == (3, 51, 3)
    np.testing.assert_allclose(
        out.joints, np.broadcast_to(model.rest_joints, (3, 55, 3)), atol=1e-6
    )
    # The landmarks sit at the head plus the face mean.
    np.testing.assert_allclose(
        out.landmarks[0], model.rest_joints[J["head"]] + model.face.mean, atol=1e-6
    )


def test_rotating_the_left_elbow_moves_only_the_forearm_and_hand() -> None:
    model = OpenSkeletonModel.default()
    base = model.forward(np.zeros((1, pl.POSE_DIM), np.float32)).joints[0]
    bent = model.forward(
        _set(np.zeros((1, pl.POSE_DIM), np.float32), "left_elbow", (0, -1.2, 0))
    ).joints[0]
    moved = np.linalg.norm(bent - base, axis=1) > 1e-6
    chain = {J["left_wrist"], *LEFT_HAND_JOINTS}
    assert set(np.flatnonzero(moved)) == chain
    # Bending about -y swings the forearm forward (+z) for the left arm pointing +x.
    assert bent[J["left_wrist"], 2] > base[J["left_wrist"], 2] + 0.15


def test_bone_lengths_are_preserved_under_any_pose() -> None:
    model = OpenSkeletonModel.default()
    out = model.forward(_random_poses(50, scale=1.0))
    np.testing.assert_allclose(
        bone_lengths(out.joints), np.broadcast_to(model.bone_lengths(), (50, 54)), atol=1e-5
    )


def test_global_orient_and_translation_are_the_models_fixed_state() -> None:
    poses = _random_poses(4, seed=1)
    plain = OpenSkeletonModel.default().forward(poses)
    turned = OpenSkeletonModel.default(
        global_orient=np.array([0, np.pi, 0]), translation=np.array([0.0, 1.0, 2.0])
    )
    out = turned.forward(poses)
    expected = plain.joints * np.array([-1.0, 1.0, -1.0]) + np.array([0.0, 1.0, 2.0])
    np.testing.assert_allclose(out.joints, expected, atol=1e-5)


def test_jaw_opens_the_mouth_and_head_rotation_carries_the_face() -> None:
    model = OpenSkeletonModel.default()
    closed = model.forward(np.zeros((1, pl.POSE_DIM), np.float32)).landmarks[0]
    poses = np.zeros((1, pl.POSE_DIM), np.float32)
    poses[:, pl.JAW] = (0.3, 0, 0)
    opened = model.forward(poses).landmarks[0]
    assert np.all(opened[list(LOWER_LIP), 1] < closed[list(LOWER_LIP), 1] - 0.01)
    np.testing.assert_allclose(opened[list(BROWS)], closed[list(BROWS)], atol=1e-7)
    # Turning the head to its left (about +y) moves the nose toward +x; the face stays rigid.
    turned = model.forward(
        _set(np.zeros((1, pl.POSE_DIM), np.float32), "head", (0, 0.5, 0))
    ).landmarks[0]
    nose = 13
    assert turned[nose, 0] > closed[nose, 0] + 0.03
    d = lambda x: np.linalg.norm(x[:, None] - x[None], axis=-1)  # noqa: E731
    np.testing.assert_allclose(d(turned), d(closed), atol=1e-6)


def test_torch_path_matches_numpy_and_gives_gradients() -> None:
    model = OpenSkeletonModel.default(global_orient=np.array([0.1, 0.2, 0.3]))
    poses = _random_poses(6, seed=2)
    ref = model.forward(poses)
    t = torch.tensor(poses, dtype=torch.float64, requires_grad=True)
    out = model.forward_torch(t)
    np.testing.assert_allclose(out.joints.detach().numpy(), ref.joints, atol=1e-5)
    np.testing.assert_allclose(out.landmarks.detach().numpy(), ref.landmarks, atol=1e-5)
    out.joints[:, J["left_wrist"]].sum().backward()
    assert t.grad is not None
    assert torch.count_nonzero(t.grad[:, pl.BODY]) > 0
    assert torch.all(t.grad[:, pl.EXPRESSION] == 0)


@pytest.mark.parametrize("suffix", [".npz", ".json"])
def test_save_load_round_trip(tmp_path: Path, suffix: str) -> None:
    rest = default_rest_joints() * 1.1
    model = OpenSkeletonModel(rest, global_orient=np.array([0.0, 0.3, 0.0]), translation=np.ones(3))
    path = model.save(tmp_path / f"speaker{suffix}")
    loaded = OpenSkeletonModel.load(path)
    poses = _random_poses(3, seed=3)
    np.testing.assert_allclose(loaded.forward(poses).joints, model.forward(poses).joints, atol=1e-6)
    np.testing.assert_allclose(loaded.rest_joints, rest)


def test_load_errors_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="skeleton model file not found"):
        OpenSkeletonModel.load(tmp_path / "nope.npz")
    np.savez(tmp_path / "partial.npz", rest_joints=default_rest_joints())
    with pytest.raises(InputError, match="missing key"):
        OpenSkeletonModel.load(tmp_path / "partial.npz")
    with pytest.raises(InputError, match="rest_joints must have shape"):
        OpenSkeletonModel(np.zeros((54, 3)))
    with pytest.raises(InputError, match="poses must have shape"):
        OpenSkeletonModel.default().forward(np.zeros((2, 100), np.float32))


def test_estimate_bone_lengths_from_3d_observations() -> None:
    truth = OpenSkeletonModel(default_rest_joints())
    scaled = default_rest_joints()
    # A speaker with 20 % longer forearms: move the left wrist's subtree.
    target = scaled.copy()
    extra = 0.2 * (scaled[J["left_wrist"]] - scaled[J["left_elbow"]])
    target[[J["left_wrist"], *LEFT_HAND_JOINTS]] += extra
    speaker = OpenSkeletonModel(target)
    poses = _random_poses(30, seed=5, scale=0.4)
    observed_ids = [
        J[n]
        for n in (
            "pelvis",
            "neck",
            "left_shoulder",
            "left_elbow",
            "left_wrist",
            "right_shoulder",
            "right_elbow",
            "right_wrist",
        )
    ]
    points = speaker.forward(poses).joints[:, observed_ids]
    est = estimate_bone_lengths(points, observed_ids)
    lengths = dict(zip([c for _, c in BONES], bone_lengths(est[None])[0], strict=True))
    true_fore = np.linalg.norm(target[J["left_wrist"]] - target[J["left_elbow"]])
    assert lengths[J["left_wrist"]] == pytest.approx(true_fore, rel=1e-4)
    base = truth.bone_lengths()
    assert lengths[J["right_wrist"]] == pytest.approx(base[J["right_wrist"] - 1], rel=1e-4)


def test_estimate_bone_lengths_from_2d_keeps_size_and_fits_proportions() -> None:
    rest = default_rest_joints()
    ids = [
        J["left_shoulder"],
        J["left_elbow"],
        J["left_wrist"],
        J["right_shoulder"],
        J["right_elbow"],
        J["right_wrist"],
        J["neck"],
    ]
    # Front view in pixels (500 px per metre), upper arms drawn 25 % longer than the default.
    target = rest.copy()
    for side in ("left", "right"):
        shift = 0.25 * (rest[J[f"{side}_elbow"]] - rest[J[f"{side}_shoulder"]])
        target[[J[f"{side}_elbow"], J[f"{side}_wrist"]]] += shift  # the wrist follows its elbow
    pts2d = np.repeat(target[None, ids, :2] * 500.0, 5, axis=0)
    conf = np.ones((5, len(ids)))
    conf[0, 0] = 0.0  # an unsure detection is ignored
    est = estimate_bone_lengths(pts2d, ids, confidence=conf)
    upper = np.linalg.norm(est[J["left_elbow"]] - est[J["left_shoulder"]])
    fore = np.linalg.norm(est[J["left_wrist"]] - est[J["left_elbow"]])
    base_upper = np.linalg.norm(rest[J["left_elbow"]] - rest[J["left_shoulder"]])
    base_fore = np.linalg.norm(rest[J["left_wrist"]] - rest[J["left_elbow"]])
    assert upper / fore == pytest.approx(1.25 * base_upper / base_fore, rel=0.02)
    with pytest.raises(InputError, match="joint_ids"):
        estimate_bone_lengths(pts2d, ids[:-1])
