"""Boxes around the head and hands from pose landmarks, and the crop ↔ frame mapping."""

from __future__ import annotations

import numpy as np
import pytest

from speech2video.fitting import keypoint_regions as kr


def _pose() -> tuple[np.ndarray, np.ndarray]:
    """A frontal person in a 1000×2000 frame: (33, 2) px landmarks, all visible."""
    pose = np.zeros((33, 2), np.float32)
    pose[kr.NOSE] = (500, 300)
    pose[kr.LEFT_EYE], pose[kr.RIGHT_EYE] = (515, 290), (485, 290)
    pose[kr.LEFT_EAR], pose[kr.RIGHT_EAR] = (540, 300), (460, 300)
    pose[kr.LEFT_SHOULDER], pose[kr.RIGHT_SHOULDER] = (600, 450), (400, 450)
    elbow, wrist, pinky, index = kr.ARM_LANDMARKS["left"]
    pose[elbow], pose[wrist], pose[pinky], pose[index] = (
        (650, 600),
        (650, 750),
        (640, 790),
        (
            660,
            790,
        ),
    )
    elbow, wrist, pinky, index = kr.ARM_LANDMARKS["right"]
    pose[elbow], pose[wrist] = (350, 600), (350, 700)
    return pose, np.ones(33, np.float32)


def test_head_box_is_centred_on_the_nose_and_sized_by_the_larger_cue() -> None:
    pose, vis = _pose()
    box = kr.head_box(pose, vis)
    assert box is not None and (box.x, box.y) == (500, 300)
    assert box.side == pytest.approx(200.0)  # ears 2.5 × 80 = 200 ≥ eyes 4 × 30, shoulders 200
    vis[[kr.LEFT_EAR, kr.LEFT_SHOULDER]] = 0.0  # only the eyes left: 4 × 30
    assert kr.head_box(pose, vis).side == pytest.approx(120.0)
    vis[kr.NOSE] = 0.1
    assert kr.head_box(pose, vis) is None


def test_hand_box_follows_the_knuckles_or_the_forearm() -> None:
    pose, vis = _pose()
    left = kr.hand_box(pose, vis, "left")
    assert left is not None and (left.x, left.y) == pytest.approx((650, 790))
    assert left.side == pytest.approx(225.0)  # 1.5 × the 150-px forearm ≥ 4 × 40
    _, _, pinky, index = kr.ARM_LANDMARKS["right"]
    vis[[pinky, index]] = 0.0  # no knuckles: a third of a forearm past the wrist
    right = kr.hand_box(pose, vis, "right")
    assert (right.x, right.y) == pytest.approx((350, 700 + 100 / 3))
    assert right.side == pytest.approx(150.0)
    vis[kr.ARM_LANDMARKS["right"][1]] = 0.0
    assert kr.hand_box(pose, vis, "right") is None


def test_a_crop_maps_back_to_the_frame() -> None:
    frame = np.zeros((200, 300, 3), np.uint8)
    frame[50:60, 100:110] = 255  # a bright square at x 100-110, y 50-60
    box = kr.Box(105.0, 55.0, 40.0)  # centred on it, 40 px
    crop = kr.crop_square(frame, box, 160)  # ×4
    assert crop.shape == (160, 160, 3)
    ys, xs = np.nonzero(crop[:, :, 0] > 127)
    centre = np.array([[xs.mean() + 0.5, ys.mean() + 0.5]]) / 160  # as fractions of the crop
    assert kr.from_crop(centre, box)[0] == pytest.approx((105.0, 55.0), abs=0.5)
    edge = kr.crop_square(frame, kr.Box(0.0, 0.0, 40.0), 40)  # three quarters outside: black
    assert edge[:20].max() == 0 and edge[:, :20].max() == 0
