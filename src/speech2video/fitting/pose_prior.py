"""Pose priors for monocular fitting: a relaxed mean pose and joint-angle limits.

Depth is ambiguous in 2D (an arm toward or away from the camera projects alike), so the fit
adds: an L2 pull toward :func:`mean_pose` (arms hanging, everything else at rest), squared
penalties on axis-angle components outside :data:`JOINT_LIMITS` (elbows and knees bend one way,
spine and neck bend a little), and L2 on hand, jaw and expression coefficients.

Axis-angle components are in the open skeleton's rest frame (``skeleton_model``: y up, facing
+z, the left arm along +x): the left elbow flexes about -y, the right about +y, knees about +x,
the jaw opens about +x.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from speech2video.body import pose_layout as pl
from speech2video.body.joint_tree import JOINT_INDEX

if TYPE_CHECKING:
    import torch

#: Arm-down angle of the mean pose's shoulders, radians.
SHOULDER_DOWN = 1.1
#: Forward flexion of the mean pose's elbows, radians: away from the straight arm, where the
#: projected wrist does not move to first order when the elbow bends (a saddle for the fit).
ELBOW_BENT = 0.5
_ANY = (-2.8, 2.8)

#: Joint → ((lo, hi) for x, y, z) of its axis-angle, radians.
JOINT_LIMITS: dict[str, tuple[tuple[float, float], ...]] = {
    "left_elbow": ((-1.2, 1.2), (-2.7, 0.05), (-0.3, 0.3)),
    "right_elbow": ((-1.2, 1.2), (-0.05, 2.7), (-0.3, 0.3)),
    "left_knee": ((-0.05, 2.6), (-0.2, 0.2), (-0.2, 0.2)),
    "right_knee": ((-0.05, 2.6), (-0.2, 0.2), (-0.2, 0.2)),
    "spine1": ((-0.5, 0.6), (-0.5, 0.5), (-0.4, 0.4)),
    "spine2": ((-0.4, 0.4), (-0.4, 0.4), (-0.3, 0.3)),
    "spine3": ((-0.4, 0.4), (-0.4, 0.4), (-0.3, 0.3)),
    "neck": ((-0.6, 0.6), (-0.8, 0.8), (-0.4, 0.4)),
    "head": ((-0.6, 0.6), (-0.8, 0.8), (-0.4, 0.4)),
    "left_collar": ((-0.4, 0.4), (-0.4, 0.4), (-0.4, 0.4)),
    "right_collar": ((-0.4, 0.4), (-0.4, 0.4), (-0.4, 0.4)),
    "left_wrist": ((-1.6, 1.6), (-1.4, 1.4), (-1.4, 1.4)),
    "right_wrist": ((-1.6, 1.6), (-1.4, 1.4), (-1.4, 1.4)),
    "jaw": ((-0.05, 0.5), (-0.1, 0.1), (-0.1, 0.1)),
}


def joint_columns(name: str) -> slice:
    """The 3 pose-vector columns of a rotation joint (SMPL-X joints 1-24)."""
    j = JOINT_INDEX[name]
    if not 1 <= j <= pl.NUM_ROTATIONS:
        raise KeyError(f"{name} is not a joint of the pose vector's rotations")
    return slice(3 * (j - 1), 3 * j)


def mean_pose() -> np.ndarray:
    """(106,) float32: rest pose, arms hanging down and out, elbows a little bent forward."""
    p = np.zeros(pl.POSE_DIM, np.float32)
    p[joint_columns("left_shoulder").start + 2] = -SHOULDER_DOWN
    p[joint_columns("right_shoulder").start + 2] = SHOULDER_DOWN
    p[joint_columns("left_elbow").start + 1] = -ELBOW_BENT
    p[joint_columns("right_elbow").start + 1] = ELBOW_BENT
    return p


def limit_bounds() -> tuple[np.ndarray, np.ndarray]:
    """lo, hi: (72,) float32 bounds of every rotation column (±2.8 rad where unlisted)."""
    lo = np.full(pl.ROTATIONS.stop, _ANY[0], np.float32)
    hi = np.full(pl.ROTATIONS.stop, _ANY[1], np.float32)
    for name, axes in JOINT_LIMITS.items():
        cols = joint_columns(name)
        for k, (a, b) in enumerate(axes):
            lo[cols.start + k], hi[cols.start + k] = a, b
    return lo, hi


def prior_loss(
    poses: torch.Tensor,
    mean: torch.Tensor,
    lo: torch.Tensor,
    hi: torch.Tensor,
    weights: dict[str, float],
) -> torch.Tensor:
    """Sum over frames of the prior terms.

    poses: (T, 106); mean: (106,); lo, hi: (72,); weights: body, limits, hands, jaw, expression
    returns: () tensor
    """
    import torch

    rot = poses[:, pl.ROTATIONS]
    over = torch.relu(rot - hi) + torch.relu(lo - rot)
    jaw = poses[:, pl.JAW]
    return (
        weights["body"] * ((poses[:, pl.BODY] - mean[pl.BODY]) ** 2).sum()
        + weights["limits"] * (over**2).sum()
        + weights["hands"] * (poses[:, pl.HANDS] ** 2).sum()
        + weights["jaw"] * (jaw[:, 0] ** 2 + 10.0 * (jaw[:, 1:] ** 2).sum(dim=1)).sum()
        + weights["expression"] * (poses[:, pl.EXPRESSION] ** 2).sum()
        + torch.zeros((), dtype=poses.dtype)
    )
