"""Skeleton painter: exact part colors, located boxes, determinism, resolution."""

from __future__ import annotations

import numpy as np
import pytest

from speech2video.body import joint_tree as jt
from speech2video.errors import InputError
from speech2video.render import palette
from speech2video.render.skeleton_painter import (
    FACE_FEATURE,
    LIPS,
    SkeletonPainter,
    locate_parts,
    part_mask,
)

# A frontal standing speaker in unit image coordinates (x right, y down); the subject's left is
# the image's right. Ankles and feet fall below the frame.
_BODY = {
    "pelvis": (0.50, 0.75), "left_hip": (0.56, 0.77), "right_hip": (0.44, 0.77),
    "spine1": (0.50, 0.68), "left_knee": (0.57, 0.92), "right_knee": (0.43, 0.92),
    "spine2": (0.50, 0.60), "left_ankle": (0.57, 1.08), "right_ankle": (0.43, 1.08),
    "spine3": (0.50, 0.52), "left_foot": (0.60, 1.12), "right_foot": (0.40, 1.12),
    "neck": (0.50, 0.40), "left_collar": (0.54, 0.42), "right_collar": (0.46, 0.42),
    "head": (0.50, 0.33), "left_shoulder": (0.62, 0.43), "right_shoulder": (0.38, 0.43),
    "left_elbow": (0.70, 0.56), "right_elbow": (0.30, 0.56), "left_wrist": (0.76, 0.66),
    "right_wrist": (0.22, 0.52), "jaw": (0.50, 0.30), "left_eye": (0.53, 0.255),
    "right_eye": (0.47, 0.255),
}  # fmt: skip


def _ellipse(cx: float, cy: float, rx: float, ry: float, n: int) -> np.ndarray:
    a = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return np.stack([cx + rx * np.cos(a), cy + ry * np.sin(a)], axis=1)


def _speaker(size: int = 512) -> tuple[np.ndarray, np.ndarray]:
    joints = np.zeros((55, 2))
    for name, xy in _BODY.items():
        joints[jt.JOINT_INDEX[name]] = xy
    for wrist, hand, sign in ((20, jt.LEFT_HAND_JOINTS, 1.0), (21, jt.RIGHT_HAND_JOINTS, -1.0)):
        for f in range(5):  # fingers fan out from the wrist, 3 joints each
            ang = np.deg2rad(-60 + 30 * f)
            d = np.array([np.cos(ang) * sign, np.sin(ang)]) * 0.014
            for j in range(3):
                joints[hand[3 * f + j]] = joints[wrist] + d * (j + 2)
    lm = np.concatenate(
        [
            np.stack([np.linspace(0.45, 0.49, 5), np.full(5, 0.24)], 1),  # right brow
            np.stack([np.linspace(0.51, 0.55, 5), np.full(5, 0.24)], 1),  # left brow
            np.stack([np.full(4, 0.5), np.linspace(0.25, 0.28, 4)], 1),  # nose bridge
            np.stack([np.linspace(0.485, 0.515, 5), np.full(5, 0.29)], 1),  # nose base
            _ellipse(0.47, 0.255, 0.012, 0.005, 6),
            _ellipse(0.53, 0.255, 0.012, 0.005, 6),
            _ellipse(0.50, 0.315, 0.028, 0.012, 12),  # outer lips
            _ellipse(0.50, 0.315, 0.017, 0.007, 8),  # inner lips (mouth open)
        ]
    )
    return joints * size, lm * size


def test_face_and_hand_boxes_contain_their_points() -> None:
    joints, lm = _speaker()
    img = SkeletonPainter(512, 512).paint(joints, lm)
    boxes = locate_parts(img)
    face = boxes["face"]
    assert face is not None
    assert all(face.contains(x, y) for x, y in lm)
    for name, wrist in (("left_hand", jt.LEFT_WRIST), ("right_hand", jt.RIGHT_WRIST)):
        box = boxes[name]
        assert box is not None and box.contains(*joints[wrist])
        assert box.width < 60 and box.height < 60  # a hand, not the whole image
    # the two hand circles are told apart: the left one lies on the image's right
    assert boxes["left_hand"].x0 > 256 > boxes["right_hand"].x1


def test_only_palette_colors_and_no_limb_pixel_has_a_part_color() -> None:
    joints, lm = _speaker()
    img = SkeletonPainter(512, 512).paint(joints, lm)
    allowed = {palette.BACKGROUND, FACE_FEATURE, LIPS, *palette.PART_COLORS.values()}
    allowed |= set(palette.LIMB_COLORS.values()) | set(palette.FINGER_COLORS.values())
    packed = np.unique(img.reshape(-1, 3).astype(np.int32) @ np.array([65536, 256, 1]))
    seen = {(int(v >> 16), int(v >> 8 & 255), int(v & 255)) for v in packed}
    assert seen <= allowed, seen - allowed  # no anti-aliasing: exact colors only
    parts = np.zeros(img.shape[:2], bool)
    for color in palette.PART_COLORS.values():
        parts |= part_mask(img, color)
    for color in [*palette.LIMB_COLORS.values(), *palette.FINGER_COLORS.values(), FACE_FEATURE]:
        limb = np.all(img == np.asarray(color, np.uint8), axis=-1)
        assert not np.any(limb & parts)
    # a pixel in the middle of the left upper arm has its limb color
    mid = np.round((joints[16] + joints[18]) / 2).astype(int)
    assert tuple(img[mid[1], mid[0]]) == palette.LIMB_COLORS["left_elbow"]


def test_mouth_opening_is_visible_inside_the_white_face() -> None:
    joints, lm = _speaker()
    img = SkeletonPainter(512, 512).paint(joints, lm)
    cx, cy = np.round(lm[43:51].mean(axis=0)).astype(int)
    assert tuple(img[cy, cx]) == palette.BACKGROUND
    assert tuple(img[cy - 15, cx]) == palette.FACE  # between nose and lips: white face
    assert np.any(np.all(img == np.asarray(LIPS, np.uint8), axis=-1))


def test_same_input_gives_identical_bytes() -> None:
    joints, lm = _speaker()
    painter = SkeletonPainter(512, 512)
    assert painter.paint(joints, lm).tobytes() == painter.paint(joints, lm).tobytes()
    assert (
        SkeletonPainter(512, 512).paint(joints, lm).tobytes() == painter.paint(joints, lm).tobytes()
    )


def test_resolution_is_a_parameter_and_sizes_scale() -> None:
    small = SkeletonPainter(320, 256).paint(*_speaker(256))
    big = SkeletonPainter(640, 512).paint(*_speaker(512))
    assert small.shape == (256, 320, 3) and big.shape == (512, 640, 3)
    fs, fb = locate_parts(small)["face"], locate_parts(big)["face"]
    assert fs is not None and fb is not None
    assert fb.width == pytest.approx(2 * fs.width, rel=0.1)
    hs, hb = locate_parts(small)["left_hand"], locate_parts(big)["left_hand"]
    assert hb.width == pytest.approx(2 * hs.width, rel=0.15)


def test_far_and_missing_points_are_handled() -> None:
    joints, lm = _speaker()
    joints[jt.JOINT_INDEX["left_foot"]] = (1e12, -1e12)
    joints[jt.JOINT_INDEX["right_foot"]] = (np.nan, 3.0)
    img = SkeletonPainter(512, 512).paint(joints, lm)
    assert img.shape == (512, 512, 3)
    no_legs = SkeletonPainter(512, 512, draw_legs=False).paint(joints, lm)
    knee_color = np.asarray(palette.LIMB_COLORS["left_knee"], np.uint8)
    assert np.any(np.all(img == knee_color, -1)) and not np.any(np.all(no_legs == knee_color, -1))


def test_paint_sequence_and_bad_shapes() -> None:
    joints, lm = _speaker()
    painter = SkeletonPainter(128, 128)
    frames = list(painter.paint_sequence(np.stack([joints / 4] * 3), np.stack([lm / 4] * 3)))
    assert len(frames) == 3 and frames[0].shape == (128, 128, 3)
    with pytest.raises(InputError, match=r"joints2d must have shape \(55, 2\)"):
        painter.paint(joints[:54], lm)
    with pytest.raises(InputError, match="landmarks2d"):
        painter.paint(joints, lm[:, :1])
    assert locate_parts(np.zeros((16, 16, 3), np.uint8)) == {
        "face": None,
        "left_hand": None,
        "right_hand": None,
    }
