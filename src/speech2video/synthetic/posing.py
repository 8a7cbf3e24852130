"""Building pose vectors from intent: arm directions → joint rotations, finger shapes → hand PCA.

Arms are described side-neutrally in the upright torso's frame: ``(lateral, up, forward)``
directions, lateral pointing away from the body's mid-line (+x for the left arm, -x for the
right). An :class:`ArmTarget` gives the upper arm's and the forearm's direction, the hand's
direction and its palm normal; :func:`arm_rotations` turns a sequence of them into the local
axis-angles of shoulder, elbow and wrist for the open skeleton's rest pose (a T-pose, palms
down), the elbow a hinge that bends the forearm forward.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from speech2video.body import pose_layout as pl
from speech2video.body.hand_basis import FINGER_JOINTS, LEFT_THUMB_DIRECTION, open_hand_basis
from speech2video.body.joint_tree import JOINT_INDEX
from speech2video.body.rotations import matrix_to_axis_angle
from speech2video.body.skeleton_model import default_rest_joints
from speech2video.errors import InputError

SIDES = ("left", "right")


def joint_columns(name: str) -> slice:
    """Columns of a body joint's axis-angle in the 106-vector (``"neck"`` → 36:39)."""
    j = JOINT_INDEX[name]
    if not 1 <= j <= 24:
        raise InputError(f"joint {name!r} has no rotation in the pose vector")
    return slice(3 * (j - 1), 3 * j)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-9)


@dataclass(frozen=True)
class ArmTarget:
    """Directions (lateral, up, forward) of one arm's parts; each (3,) or (T, 3)."""

    upper: np.ndarray
    fore: np.ndarray
    hand: np.ndarray
    palm: np.ndarray

    def blend(self, other: ArmTarget, w: np.ndarray | float) -> ArmTarget:
        """Directions interpolated towards ``other`` by weight ``w`` (scalar or (T,))."""
        w = np.asarray(w, np.float64)[..., None] if np.ndim(w) else float(w)
        mix = lambda a, b: _unit((1 - w) * np.asarray(a) + w * np.asarray(b))  # noqa: E731
        return ArmTarget(
            mix(self.upper, other.upper),
            mix(self.fore, other.fore),
            mix(self.hand, other.hand),
            mix(self.palm, other.palm),
        )


def target(upper: tuple, fore: tuple, hand: tuple, palm: tuple) -> ArmTarget:
    """An ArmTarget from four (lateral, up, forward) tuples (normalised)."""
    return ArmTarget(*(_unit(np.asarray(v, np.float64)) for v in (upper, fore, hand, palm)))


def _frame(primary: np.ndarray, secondary: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """Orthonormal frames (..., 3, 3) with columns: primary, secondary ⊥ primary, their cross."""
    p = _unit(primary)
    s = secondary - p * np.sum(secondary * p, axis=-1, keepdims=True)
    weak = np.linalg.norm(s, axis=-1, keepdims=True) < 1e-4
    f = fallback - p * np.sum(fallback * p, axis=-1, keepdims=True)
    s = _unit(np.where(weak, f, s))
    return np.stack([p, s, np.cross(p, s)], axis=-1)


@functools.cache
def _rest_directions(side: str) -> tuple[np.ndarray, np.ndarray]:
    rest = default_rest_joints().astype(np.float64)
    j = JOINT_INDEX
    upper = _unit(rest[j[f"{side}_elbow"]] - rest[j[f"{side}_shoulder"]])
    fore = _unit(rest[j[f"{side}_wrist"]] - rest[j[f"{side}_elbow"]])
    return upper, fore


def arm_rotations(side: str, arm: ArmTarget) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Local axis-angles of shoulder, elbow and wrist that realise ``arm``.

    side: "left" or "right"; arm: directions (T, 3) or (3,) in the side-neutral frame
    returns: shoulder, elbow, wrist — each (T, 3) float32 (or (3,) for a single target)
    """
    if side not in SIDES:
        raise InputError(f"side must be 'left' or 'right'; got {side!r}")
    mirror = np.array([1.0 if side == "left" else -1.0, 1.0, 1.0])
    u, v, h, p = (
        np.asarray(d, np.float64) * mirror for d in (arm.upper, arm.fore, arm.hand, arm.palm)
    )
    single = u.ndim == 1
    u, v, h, p = (np.atleast_2d(d) for d in (u, v, h, p))
    a_up, a_fore = _rest_directions(side)
    z = np.array([0.0, 0.0, 1.0])
    down = np.array([0.0, -1.0, 0.0])
    # Shoulder: rest (upper arm, forward bend direction) → (u, the forearm's bend direction).
    rest_frame = _frame(a_up, z, down)
    world = _frame(u, v, np.broadcast_to(z, u.shape) + 0.3 * down)
    r_shoulder = world @ rest_frame.T
    # Elbow: a hinge about the rest (upper × forward) axis, by the angle between u and v.
    hinge = _unit(np.cross(a_up, rest_frame[:, 1]))
    angle = np.arccos(np.clip(np.sum(_unit(u) * _unit(v), axis=-1), -1.0, 1.0))
    elbow = hinge[None, :] * angle[:, None]
    from speech2video.body.rotations import axis_angle_to_matrix

    r_elbow = axis_angle_to_matrix(elbow)
    # Wrist: rest (hand along the forearm, palm down) → (h, p).
    hand_rest = _frame(a_fore, down, z)
    hand_world = _frame(h, p, np.broadcast_to(down, h.shape))
    r_parent = r_shoulder @ r_elbow
    r_wrist = np.swapaxes(r_parent, -1, -2) @ hand_world @ hand_rest.T
    out = [matrix_to_axis_angle(r).astype(np.float32) for r in (r_shoulder, r_elbow, r_wrist)]
    if single:
        return out[0][0], out[1][0], out[2][0]
    return out[0], out[1], out[2]


def set_arm(poses: np.ndarray, side: str, arm: ArmTarget) -> None:
    """Write an arm's shoulder, elbow and wrist rotations into ``poses`` (T, 106) in place."""
    s, e, w = arm_rotations(side, arm)
    poses[:, joint_columns(f"{side}_shoulder")] = s
    poses[:, joint_columns(f"{side}_elbow")] = e
    poses[:, joint_columns(f"{side}_wrist")] = w


# ---------------------------------------------------------------------------- hands

_FLEX = np.array([0.0, 0.0, -1.0])  # left-hand finger flexion axis (hand_basis convention)
_SPREAD = np.array([0.0, -1.0, 0.0])  # moves a left finger toward the thumb


def _thumb_axis(velocity: np.ndarray) -> np.ndarray:
    d = LEFT_THUMB_DIRECTION
    t = velocity - d * (velocity @ d)
    return _unit(np.cross(d, t))


@dataclass(frozen=True)
class HandShape:
    """Finger intent: curl per finger (0 straight, ~1.4 fist), spread, thumb fold (0..1.5)."""

    index: float = 0.3
    middle: float = 0.35
    ring: float = 0.4
    pinky: float = 0.45
    spread: float = 0.0
    thumb: float = 0.3

    def left_axis_angles(self) -> np.ndarray:
        """(45,) left-hand finger axis-angles."""
        out = np.zeros((15, 3))
        for finger in ("index", "middle", "ring", "pinky"):
            curl = getattr(self, finger)
            for j, w in zip(FINGER_JOINTS[finger], (0.8, 1.1, 0.7), strict=True):
                out[j] = curl * w * _FLEX
        for finger, w in (("index", 0.25), ("ring", -0.12), ("pinky", -0.3)):
            out[FINGER_JOINTS[finger][0]] += self.spread * w * _SPREAD
        t1, t2, t3 = FINGER_JOINTS["thumb"]
        out[t1] = self.thumb * 0.6 * _thumb_axis(np.array([0.0, -0.7, -0.7]))
        out[t2] = out[t3] = self.thumb * 0.5 * _thumb_axis(np.array([0.0, -1.0, -0.5]))
        return out.reshape(45)


def hand_coefficients(shape: HandShape) -> np.ndarray:
    """(12,) PCA coefficients (open hand basis) of a shape; the same numbers serve either hand,
    since the right basis is the left one mirrored."""
    basis = open_hand_basis()
    left = shape.left_axis_angles()[None]
    coef, _ = basis.to_pca(left, left * np.tile([1.0, -1.0, -1.0], 15))
    return coef[0].astype(np.float32)


RELAXED = HandShape()
OPEN = HandShape(0.05, 0.05, 0.08, 0.1, spread=1.0, thumb=0.0)
FLAT = HandShape(0.02, 0.02, 0.02, 0.02, spread=0.1, thumb=0.1)
POINT = HandShape(0.0, 1.45, 1.45, 1.45, spread=0.0, thumb=1.2)
PINCH = HandShape(0.8, 1.0, 1.1, 1.2, spread=0.0, thumb=1.0)


# ---------------------------------------------------------------------------- whole poses

#: The relaxed speaking stance: upper arms down, forearms forward, hands in front of the belly.
REST_ARM = target(
    upper=(0.10, -1.0, 0.16),
    fore=(-0.55, 0.12, 0.82),
    hand=(-0.1, 0.05, 1.0),
    palm=(-0.7, 0.5, 0.0),
)


def rest_pose() -> np.ndarray:
    """(106,) float32 — the speaking rest pose (zero spine and head, relaxed hands)."""
    pose = np.zeros((1, pl.POSE_DIM), np.float32)
    for side in SIDES:
        set_arm(pose, side, REST_ARM)
    relaxed = hand_coefficients(RELAXED)
    pose[0, pl.LEFT_HAND] = relaxed
    pose[0, pl.RIGHT_HAND] = relaxed
    return pose[0]
