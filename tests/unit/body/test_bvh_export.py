"""BVH export of the open skeleton: it parses back with 55 joints, every frame, and the
rotations it was given."""

from __future__ import annotations

import numpy as np
import pytest

from speech2video.body import pose_layout as pl
from speech2video.body.bvh_export import motion_to_bvh, read_bvh
from speech2video.body.hand_basis import open_hand_basis
from speech2video.body.joint_tree import JOINT_NAMES, PARENTS
from speech2video.body.motion_file import Motion
from speech2video.body.rotations import rotation_angle_between
from speech2video.body.skeleton_model import OpenSkeletonModel
from speech2video.errors import InputError


def test_bvh_round_trips_hierarchy_frames_and_rotations() -> None:
    rng = np.random.default_rng(0)
    poses = (rng.standard_normal((12, pl.POSE_DIM)) * 0.4).astype(np.float32)
    poses[3, pl.BODY][15 * 3 : 16 * 3] = (0.3, -1.2, 0.5)  # left shoulder (body joint 16)
    orient = np.array([0.1, 2.0, -0.2], np.float32)
    motion = Motion(poses, 15.0, global_orient=orient)
    rest = OpenSkeletonModel.default().rest_joints
    bvh = read_bvh(motion_to_bvh(motion, rest, open_hand_basis()))
    order = [JOINT_NAMES.index(n) for n in bvh.names]  # depth-first file order → SMPL-X
    assert len(bvh.names) == 55 and sorted(order) == list(range(55))
    assert [order[p] if p >= 0 else -1 for p in bvh.parents] == [PARENTS[j] for j in order]
    assert bvh.values.shape == (12, 6 + 54 * 3)
    assert bvh.frame_time == pytest.approx(1 / 15)
    knee = bvh.names.index("left_knee")
    np.testing.assert_allclose(bvh.offsets[knee], (rest[4] - rest[1]) * 100, atol=1e-5)
    full = pl.to_full_pose(poses, open_hand_basis(), orient).reshape(12, 55, 3)[:, order]
    angles = rotation_angle_between(bvh.rotations(), full.astype(np.float64))
    assert float(angles.max()) < 1e-4
    shoulder = bvh.names.index("left_shoulder")
    assert float(rotation_angle_between(bvh.rotations()[3, shoulder], full[3, shoulder])) < 1e-4


def test_bad_rest_joints_and_malformed_text_are_refused() -> None:
    motion = Motion(np.zeros((2, pl.POSE_DIM), np.float32), 15.0)
    with pytest.raises(InputError, match="rest_joints"):
        motion_to_bvh(motion, np.zeros((3, 3)), open_hand_basis())
    with pytest.raises(InputError, match="not a BVH"):
        read_bvh("hello")
