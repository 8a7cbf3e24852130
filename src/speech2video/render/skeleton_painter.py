"""Skeleton images: the vid2vid input with a white face and colored hand circles (paper §3.5,
Fig. 7).

Drawing order (later over earlier), all without anti-aliasing so part colors match exactly:

1. limbs: one line per body bone, in ``LIMB_COLORS`` of the bone's child joint (jaw and eye
   bones are left to the face);
2. face: the landmark hull, grown by :data:`FACE_HULL_SCALE` about its centre, filled in
   ``FACE`` white; over it the brows, nose and eyes as contours in :data:`FACE_FEATURE`, the
   outer lips in :data:`LIPS`, and the mouth opening (inner-lip polygon) filled black, so the
   mouth shape stays visible inside the white face;
3. hands: a filled circle in ``LEFT_HAND_CIRCLE`` / ``RIGHT_HAND_CIRCLE`` centred on the mean
   of the wrist and the five finger base joints, radius :data:`HAND_RADIUS_SCALE` × the largest
   distance from that centre to those six joints (at least a few pixels);
4. fingers: thin lines in ``FINGER_COLORS`` over the circles.

Line widths and radii scale with ``min(width, height) / 512``. Points may lie outside the
frame (legs usually do): segments are clipped before drawing.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from speech2video.body import joint_tree as jt
from speech2video.errors import InputError
from speech2video.render import palette

#: Contours drawn inside the white face (brows, nose, eyes): dark grey.
FACE_FEATURE: palette.Color = (96, 96, 96)
#: Outer lip contour.
LIPS: palette.Color = (192, 0, 64)
#: Mouth opening (inside the inner lips).
MOUTH: palette.Color = palette.BACKGROUND
#: The face region is the landmark hull scaled by this factor about its centroid.
FACE_HULL_SCALE = 1.25
#: Hand circle radius relative to the palm size (centre to farthest of wrist + finger bases).
HAND_RADIUS_SCALE = 1.2
_REFERENCE_SIZE = 512.0
_FINGERS = ("thumb", "index", "middle", "ring", "pinky")


def _bone_lists() -> tuple[
    list[tuple[int, int, palette.Color]], list[tuple[int, int, palette.Color]]
]:
    limbs, fingers = [], []
    hand_joints = set(jt.LEFT_HAND_JOINTS) | set(jt.RIGHT_HAND_JOINTS)
    for parent, child in jt.BONES:
        name = jt.JOINT_NAMES[child]
        if name in palette.LIMB_COLORS:
            limbs.append((parent, child, palette.LIMB_COLORS[name]))
        elif child in hand_joints:
            finger = next(f for f in _FINGERS if f in name)
            fingers.append((parent, child, palette.FINGER_COLORS[finger]))
    return limbs, fingers


def _finger_bases(hand_joints: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(j for j in hand_joints if jt.JOINT_NAMES[j].endswith("1"))


@dataclass(frozen=True)
class PartBox:
    """A pixel box: columns ``x0 <= x < x1``, rows ``y0 <= y < y1``; ``pixels`` of part color."""

    x0: int
    y0: int
    x1: int
    y1: int
    pixels: int

    @property
    def width(self) -> int:
        return self.x1 - self.x0

    @property
    def height(self) -> int:
        return self.y1 - self.y0

    def contains(self, x: float, y: float) -> bool:
        """Whether pixel coordinates (x right, y down) fall inside the box."""
        return self.x0 <= x < self.x1 and self.y0 <= y < self.y1


def part_mask(image: np.ndarray, color: palette.Color) -> np.ndarray:
    """image: (H, W, 3) uint8 → (H, W) bool, pixels within PART_COLOR_TOLERANCE of ``color``."""
    diff = np.abs(image.astype(np.int16) - np.asarray(color, np.int16))
    return np.all(diff <= palette.PART_COLOR_TOLERANCE, axis=-1)


def locate_parts(image: np.ndarray, min_pixels: int = 1) -> dict[str, PartBox | None]:
    """Find the face and both hands by their part colors.

    image: (H, W, 3) uint8 RGB skeleton image
    returns: {"face", "left_hand", "right_hand"} → the box around that color's pixels, or None
    when fewer than ``min_pixels`` pixels have it.
    """
    arr = np.asarray(image)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise InputError(f"image must have shape (H, W, 3); got {arr.shape}")
    out: dict[str, PartBox | None] = {}
    for name, color in palette.PART_COLORS.items():
        mask = part_mask(arr, color)
        count = int(mask.sum())
        if count < max(1, min_pixels):
            out[name] = None
            continue
        rows = np.flatnonzero(mask.any(axis=1))
        cols = np.flatnonzero(mask.any(axis=0))
        out[name] = PartBox(int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1, count)
    return out


class SkeletonPainter:
    """Draws one skeleton image per frame from projected joints and face landmarks.

    width, height: image size in pixels; draw_legs: False leaves out hips, knees, ankles, feet.
    """

    def __init__(self, width: int, height: int, draw_legs: bool = True) -> None:
        if width < 8 or height < 8:
            raise InputError(f"image size must be at least 8x8; got {width}x{height}")
        self.width, self.height = int(width), int(height)
        scale = min(self.width, self.height) / _REFERENCE_SIZE
        self.limb_thickness = max(1, round(6 * scale))
        self.finger_thickness = max(1, round(2 * scale))
        self.feature_thickness = max(1, round(2 * scale))
        self.min_hand_radius = max(2, round(6 * scale))
        limbs, self._fingers = _bone_lists()
        legs = {"left_hip", "right_hip", "left_knee", "right_knee"}
        legs |= {"left_ankle", "right_ankle", "left_foot", "right_foot"}
        self._limbs = [b for b in limbs if draw_legs or jt.JOINT_NAMES[b[1]] not in legs]
        self._margin = 4 * max(self.width, self.height)

    def _clip(self, p: np.ndarray, q: np.ndarray) -> tuple[tuple[int, int], tuple[int, int]] | None:
        """Liang-Barsky clip of segment p→q to a box well around the image; integer endpoints."""
        if not (np.all(np.isfinite(p)) and np.all(np.isfinite(q))):
            return None
        lo = np.array([-self._margin, -self._margin], np.float64)
        hi = np.array([self.width + self._margin, self.height + self._margin], np.float64)
        d = q - p
        t0, t1 = 0.0, 1.0
        for axis in range(2):
            if d[axis] == 0:
                if p[axis] < lo[axis] or p[axis] > hi[axis]:
                    return None
                continue
            ta, tb = (lo[axis] - p[axis]) / d[axis], (hi[axis] - p[axis]) / d[axis]
            t0, t1 = max(t0, min(ta, tb)), min(t1, max(ta, tb))
            if t0 > t1:
                return None
        a, b = p + t0 * d, p + t1 * d
        return (round(a[0]), round(a[1])), (round(b[0]), round(b[1]))

    def _line(
        self, img: np.ndarray, p: np.ndarray, q: np.ndarray, color: palette.Color, thickness: int
    ) -> None:
        import cv2

        seg = self._clip(np.asarray(p, np.float64), np.asarray(q, np.float64))
        if seg is not None:
            cv2.line(img, seg[0], seg[1], color, thickness, lineType=cv2.LINE_8)

    def _face(self, img: np.ndarray, lm: np.ndarray) -> None:
        import cv2

        if not np.all(np.isfinite(lm)):
            return
        span = np.abs(lm).max()
        if span > self._margin:
            return
        centre = lm.mean(axis=0)
        grown = centre + FACE_HULL_SCALE * (lm - centre)
        hull = cv2.convexHull(np.round(grown).astype(np.int32))
        cv2.fillConvexPoly(img, hull, palette.FACE, lineType=cv2.LINE_8)
        for region, idx in jt.FACE_REGIONS.items():
            pts = np.round(lm[list(idx)]).astype(np.int32).reshape(-1, 1, 2)
            closed = region in jt.CLOSED_FACE_REGIONS
            if region == "inner_lips":
                cv2.fillPoly(img, [pts], MOUTH, lineType=cv2.LINE_8)
                continue
            color = LIPS if region == "outer_lips" else FACE_FEATURE
            cv2.polylines(img, [pts], closed, color, self.feature_thickness, cv2.LINE_8)

    def _hand(self, img: np.ndarray, joints: np.ndarray, wrist: int, hand: tuple[int, ...],
              color: palette.Color) -> None:  # fmt: skip
        import cv2

        pts = joints[[wrist, *_finger_bases(hand)]]
        if not np.all(np.isfinite(pts)):
            return
        centre = pts.mean(axis=0)
        if np.any(np.abs(centre) > self._margin):
            return
        radius = HAND_RADIUS_SCALE * np.linalg.norm(pts - centre, axis=1).max()
        radius = max(self.min_hand_radius, round(min(radius, self._margin)))
        c = (round(centre[0]), round(centre[1]))
        cv2.circle(img, c, radius, color, thickness=-1, lineType=cv2.LINE_8)

    def paint(self, joints2d: np.ndarray, landmarks2d: np.ndarray) -> np.ndarray:
        """Draw one frame.

        joints2d: (55, 2) pixel coordinates (x right, y down) of the SMPL-X joints
        landmarks2d: (51, 2) pixel coordinates of the face landmarks
        returns: (height, width, 3) uint8 RGB, black background
        """
        joints = np.asarray(joints2d, np.float64)
        lm = np.asarray(landmarks2d, np.float64)
        if joints.shape != (jt.NUM_JOINTS, 2):
            raise InputError(f"joints2d must have shape ({jt.NUM_JOINTS}, 2); got {joints.shape}")
        if lm.shape != (jt.NUM_FACE_LANDMARKS, 2):
            raise InputError(
                f"landmarks2d must have shape ({jt.NUM_FACE_LANDMARKS}, 2); got {lm.shape}"
            )
        img = np.zeros((self.height, self.width, 3), np.uint8)
        for parent, child, color in self._limbs:
            self._line(img, joints[parent], joints[child], color, self.limb_thickness)
        self._face(img, lm)
        self._hand(img, joints, jt.LEFT_WRIST, jt.LEFT_HAND_JOINTS, palette.LEFT_HAND_CIRCLE)
        self._hand(img, joints, jt.RIGHT_WRIST, jt.RIGHT_HAND_JOINTS, palette.RIGHT_HAND_CIRCLE)
        for parent, child, color in self._fingers:
            self._line(img, joints[parent], joints[child], color, self.finger_thickness)
        return img

    def paint_sequence(
        self, joints2d: Iterable[np.ndarray], landmarks2d: Iterable[np.ndarray]
    ) -> Iterator[np.ndarray]:
        """joints2d: (T, 55, 2), landmarks2d: (T, 51, 2) (arrays or iterables of frames)
        yields: (height, width, 3) uint8 RGB per frame."""
        for joints, lm in zip(joints2d, landmarks2d, strict=True):
            yield self.paint(joints, lm)
