"""Pinhole camera: projection conventions and the default upper-body framing."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from speech2video.body import pose_layout as pl
from speech2video.body.camera import FRONT_VIEW, PinholeCamera
from speech2video.body.joint_tree import JOINT_INDEX
from speech2video.body.skeleton_model import OpenSkeletonModel
from speech2video.errors import InputError

J = JOINT_INDEX
LEGS = [J[f"{s}_{p}"] for s in ("left", "right") for p in ("knee", "ankle", "foot")]


def _pose_arms(raise_arms: bool) -> np.ndarray:
    """Arms hanging at the sides (rest for a speaker) or raised beside the head."""
    poses = np.zeros((1, pl.POSE_DIM), np.float32)
    for side, sign in (("left", 1.0), ("right", -1.0)):
        s = J[f"{side}_shoulder"]
        e = J[f"{side}_elbow"]
        if raise_arms:  # elbow out and a little down, forearm up: hands beside the head
            poses[0, 3 * (s - 1) : 3 * s] = (0, 0, -sign * 0.5)
            poses[0, 3 * (e - 1) : 3 * e] = (0, 0, sign * 2.0)
        else:  # arm straight down
            poses[0, 3 * (s - 1) : 3 * s] = (0, 0, -sign * 1.45)
    return poses


def test_projection_axes_and_intrinsics() -> None:
    cam = PinholeCamera(100.0, 100.0, 50.0, 40.0, FRONT_VIEW, np.array([0.0, 0.0, 2.0]))
    pts = np.array([[0.0, 0.0, 0.0], [0.2, 0.0, 0.0], [0.0, 0.2, 0.0], [0.0, 0.0, 1.0]])
    uv = cam.project(pts)
    np.testing.assert_allclose(uv[0], (50.0, 40.0))  # on the axis: the principal point
    assert uv[1, 0] == pytest.approx(60.0)  # +x world → right
    assert uv[2, 1] == pytest.approx(30.0)  # +y world (up) → smaller pixel y
    assert cam.depth(pts[3]) == pytest.approx(1.0)  # nearer the camera
    np.testing.assert_allclose(cam.intrinsics @ np.array([0.1, 0.0, 1.0]), (60.0, 40.0, 1.0))
    t = cam.project_torch(torch.tensor(pts, dtype=torch.float64))
    np.testing.assert_allclose(t.numpy(), uv, atol=1e-4)


def test_framing_puts_head_above_pelvis_and_every_pose_inside_the_frame() -> None:
    model = OpenSkeletonModel.default()
    for width, height in ((1280, 720), (512, 512), (720, 1280)):
        cam = PinholeCamera.framing(width, height)
        for raise_arms in (False, True):
            out = model.forward(_pose_arms(raise_arms))
            uv = cam.project(
                np.concatenate([out.joints[0][:25], out.joints[0][25:], out.landmarks[0]])
            )
            head, pelvis = uv[J["head"]], uv[J["pelvis"]]
            assert head[1] < pelvis[1]
            upper = np.delete(uv, LEGS, axis=0)
            assert np.all(upper[:, 0] >= 0) and np.all(upper[:, 0] <= width), (
                width,
                height,
                raise_arms,
            )
            assert np.all(upper[:, 1] >= 0) and np.all(upper[:, 1] <= height), (
                width,
                height,
                raise_arms,
            )
        # The upper body fills the frame: head-to-hip span is a good share of the image height.
        rest = cam.project(model.rest_joints)
        span = rest[J["left_hip"], 1] - rest[J["head"], 1]
        assert span > 0.35 * min(width, height)


def test_framing_follows_a_given_skeleton() -> None:
    small = OpenSkeletonModel.default().rest_joints * 0.8
    big = PinholeCamera.framing(640, 480)
    tight = PinholeCamera.framing(640, 480, small)
    assert tight.fx > big.fx * 1.2  # a smaller body needs a longer lens to fill the frame


def test_dict_round_trip_and_validation() -> None:
    cam = PinholeCamera.framing(640, 480)
    again = PinholeCamera.from_dict(cam.to_dict())
    np.testing.assert_allclose(again.project(np.zeros((1, 3))), cam.project(np.zeros((1, 3))))
    with pytest.raises(InputError, match="rotation"):
        PinholeCamera(1.0, 1.0, 0.0, 0.0, np.ones((3, 3)), np.zeros(3))
    with pytest.raises(InputError, match="focal"):
        PinholeCamera(0.0, 1.0, 0.0, 0.0, np.eye(3), np.zeros(3))
    with pytest.raises(InputError, match="image size"):
        PinholeCamera.framing(0, 480)
    with pytest.raises(InputError, match="missing key"):
        PinholeCamera.from_dict({"fx": 1.0})
