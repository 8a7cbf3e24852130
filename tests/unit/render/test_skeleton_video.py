"""Motion → skeleton images through the body model, a camera and the painter."""

from __future__ import annotations

import numpy as np
import pytest

from speech2video.body.body_model import load_body_model
from speech2video.body.joint_tree import LEFT_WRIST, RIGHT_WRIST
from speech2video.body.motion_file import Motion
from speech2video.errors import InputError
from speech2video.render.skeleton_painter import SkeletonPainter, locate_parts
from speech2video.render.skeleton_video import draw_motion, frame_camera


def _talking(t: int = 12) -> Motion:
    """Arms down in front of the body, jaw opening over time."""
    poses = np.zeros((t, 106), np.float32)
    poses[:, 47], poses[:, 50] = -1.1, 1.1  # shoulders (z): arms down
    poses[:, 52], poses[:, 55] = -1.2, 1.2  # elbows (y): forearms forward
    poses[:, 63] = np.linspace(0.0, 0.4, t)  # jaw
    return Motion(poses, 30.0)


def test_frames_show_face_and_hands_where_the_camera_puts_them() -> None:
    motion = _talking()
    model = load_body_model("skeleton")
    camera = frame_camera(model, 256, 256)
    frames = list(draw_motion(motion, model, camera, SkeletonPainter(256, 256), chunk=5))
    assert len(frames) == motion.num_frames and frames[0].shape == (256, 256, 3)
    body = model.forward(motion.poses)
    for i in (0, motion.num_frames - 1):
        boxes = locate_parts(frames[i])
        lm = camera.project(body.landmarks[i])
        assert all(boxes["face"].contains(x, y) for x, y in lm)
        j = camera.project(body.joints[i])
        assert boxes["left_hand"].contains(*j[LEFT_WRIST])
        assert boxes["right_hand"].contains(*j[RIGHT_WRIST])
    assert not np.array_equal(frames[0], frames[-1])  # the mouth moved


def test_chunking_does_not_change_frames() -> None:
    motion = _talking(7)
    model = load_body_model("skeleton")
    camera = frame_camera(model, 96, 96)
    painter = SkeletonPainter(96, 96)
    a = np.stack(list(draw_motion(motion, model, camera, painter, chunk=2)))
    b = np.stack(list(draw_motion(motion, model, camera, painter)))
    np.testing.assert_array_equal(a, b)
    with pytest.raises(InputError, match="chunk"):
        next(draw_motion(motion, model, camera, painter, chunk=0))
