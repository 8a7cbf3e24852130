"""The 106-float pose vector: the contract every stage shares (paper §3.2).

Per frame, in this order::

    [  0: 63]  body      21 body joints (SMPL-X joints 1..21) as axis-angle, 3 each
    [ 63: 66]  jaw       SMPL-X joint 22, axis-angle          ("mouth" in the loss)
    [ 66: 69]  left eye  SMPL-X joint 23, axis-angle
    [ 69: 72]  right eye SMPL-X joint 24, axis-angle
    [ 72: 84]  left hand  12 PCA coefficients
    [ 84: 96]  right hand 12 PCA coefficients
    [ 96:106]  expression 10 coefficients

Fixed per speaker (not in the vector): shape ``betas (10,)`` and ``global_orient (3,)``.

Loss groups (paper §3.4, weights body 1, hands 4, mouth 100, face 100): ``body`` is the 21 body
joints, ``hands`` both PCA blocks, ``mouth`` the jaw, ``face`` the eyes and the expression.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from speech2video.errors import InputError

POSE_DIM = 106
NUM_BETAS = 10
NUM_EXPRESSION = 10
NUM_HAND_PCA = 12
NUM_BODY_JOINTS = 21
#: Rotations carried as axis-angle in the vector: 21 body joints, jaw, left eye, right eye.
NUM_ROTATIONS = 24
#: AMASS/BEAT2 full pose width: 55 joints x 3 (global, 21 body, jaw, 2 eyes, 2 x 15 hand).
FULL_POSE_DIM = 165
NUM_HAND_JOINTS = 15

BODY = slice(0, 63)
JAW = slice(63, 66)
LEFT_EYE = slice(66, 69)
RIGHT_EYE = slice(69, 72)
EYES = slice(66, 72)
ROTATIONS = slice(0, 72)
LEFT_HAND = slice(72, 84)
RIGHT_HAND = slice(84, 96)
HANDS = slice(72, 96)
EXPRESSION = slice(96, 106)

#: Column groups used by the loss. ``face`` is not contiguous: eyes and expression.
LOSS_GROUPS: dict[str, tuple[slice, ...]] = {
    "body": (BODY,),
    "hands": (HANDS,),
    "mouth": (JAW,),
    "face": (EYES, EXPRESSION),
}
#: Paper §3.4 relative loss weights.
DEFAULT_LOSS_WEIGHTS: dict[str, float] = {"body": 1.0, "hands": 4.0, "mouth": 100.0, "face": 100.0}

# Full-pose (165) column ranges, SMPL-X joint order.
FULL_GLOBAL = slice(0, 3)
FULL_BODY = slice(3, 66)
FULL_JAW = slice(66, 69)
FULL_LEYE = slice(69, 72)
FULL_REYE = slice(72, 75)
FULL_LHAND = slice(75, 120)
FULL_RHAND = slice(120, 165)


def column_weights(weights: dict[str, float] | None = None) -> np.ndarray:
    """Per-column loss weights.

    returns: (106,) float32, each column carrying the weight of its loss group.
    """
    w = dict(DEFAULT_LOSS_WEIGHTS)
    if weights:
        unknown = set(weights) - set(w)
        if unknown:
            raise InputError(f"unknown loss group(s) {sorted(unknown)}; expected {sorted(w)}")
        w.update(weights)
    out = np.zeros(POSE_DIM, np.float32)
    for group, slices in LOSS_GROUPS.items():
        for s in slices:
            out[s] = w[group]
    return out


@dataclass(frozen=True)
class HandBasis:
    """Linear hand-pose space for both hands (MANO-style PCA).

    components_left/right: (12, 45) float32 — rows map PCA coefficients to 15 joint axis-angles
    mean_left/right: (45,) float32 — added after the linear map
    """

    components_left: np.ndarray
    components_right: np.ndarray
    mean_left: np.ndarray
    mean_right: np.ndarray

    def to_axis_angle(self, poses: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """poses: (T, 106) → left, right: (T, 45) finger axis-angles."""
        left = poses[:, LEFT_HAND] @ self.components_left + self.mean_left
        right = poses[:, RIGHT_HAND] @ self.components_right + self.mean_right
        return left.astype(np.float32), right.astype(np.float32)

    def to_pca(self, left: np.ndarray, right: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """left, right: (T, 45) → (T, 12) each, least-squares projection onto the basis."""
        pl = np.linalg.lstsq(self.components_left.T, (left - self.mean_left).T, rcond=None)[0]
        pr = np.linalg.lstsq(self.components_right.T, (right - self.mean_right).T, rcond=None)[0]
        return pl.T.astype(np.float32), pr.T.astype(np.float32)


def check_poses(poses: np.ndarray, name: str = "poses") -> np.ndarray:
    """Validate and return ``poses`` as (T, 106) float32; raise ValueError naming ``name``."""
    arr = np.asarray(poses)
    if arr.ndim != 2 or arr.shape[1] != POSE_DIM:
        raise InputError(f"{name} must have shape (T, {POSE_DIM}); got {arr.shape}")
    if not np.issubdtype(arr.dtype, np.floating):
        raise InputError(f"{name} must be floating point; got {arr.dtype}")
    if not np.all(np.isfinite(arr)):
        raise InputError(f"{name} contains NaN or infinite values")
    return arr.astype(np.float32, copy=False)


def to_smplx_kwargs(
    poses: np.ndarray,
    betas: np.ndarray | None = None,
    global_orient: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Split pose vectors into the keyword arguments of ``smplx.SMPLX.forward``.

    poses: (T, 106); betas: (10,); global_orient: (3,)
    returns: dict of float32 arrays — global_orient (T,3), body_pose (T,63), jaw_pose (T,3),
    leye_pose (T,3), reye_pose (T,3), left_hand_pose (T,12), right_hand_pose (T,12),
    expression (T,10), betas (T,10). Hands stay in PCA space (``use_pca=True``, 12 comps).
    """
    poses = check_poses(poses)
    t = poses.shape[0]
    betas = np.zeros(NUM_BETAS, np.float32) if betas is None else np.asarray(betas, np.float32)
    orient = np.zeros(3, np.float32) if global_orient is None else np.asarray(global_orient)
    if betas.shape != (NUM_BETAS,):
        raise InputError(f"betas must have shape ({NUM_BETAS},); got {betas.shape}")
    if orient.shape != (3,):
        raise InputError(f"global_orient must have shape (3,); got {orient.shape}")
    return {
        "global_orient": np.tile(orient.astype(np.float32), (t, 1)),
        "body_pose": poses[:, BODY].copy(),
        "jaw_pose": poses[:, JAW].copy(),
        "leye_pose": poses[:, LEFT_EYE].copy(),
        "reye_pose": poses[:, RIGHT_EYE].copy(),
        "left_hand_pose": poses[:, LEFT_HAND].copy(),
        "right_hand_pose": poses[:, RIGHT_HAND].copy(),
        "expression": poses[:, EXPRESSION].copy(),
        "betas": np.tile(betas, (t, 1)),
    }


def from_smplx_kwargs(kwargs: dict[str, np.ndarray]) -> np.ndarray:
    """Inverse of :func:`to_smplx_kwargs` for the per-frame parts.

    kwargs: body_pose (T,63), jaw_pose, leye_pose, reye_pose (T,3), left/right_hand_pose (T,12),
    expression (T,10); missing eye/jaw/expression entries are taken as zeros.
    returns: (T, 106) float32
    """
    if "body_pose" not in kwargs:
        raise InputError("smplx kwargs need 'body_pose'")
    body = np.asarray(kwargs["body_pose"], np.float32).reshape(-1, 63)
    t = body.shape[0]
    out = np.zeros((t, POSE_DIM), np.float32)
    out[:, BODY] = body
    sizes = {
        "jaw_pose": (JAW, 3),
        "leye_pose": (LEFT_EYE, 3),
        "reye_pose": (RIGHT_EYE, 3),
        "left_hand_pose": (LEFT_HAND, NUM_HAND_PCA),
        "right_hand_pose": (RIGHT_HAND, NUM_HAND_PCA),
        "expression": (EXPRESSION, NUM_EXPRESSION),
    }
    for key, (sl, width) in sizes.items():
        if key in kwargs:
            out[:, sl] = np.asarray(kwargs[key], np.float32).reshape(t, width)
    return out


def to_full_pose(
    poses: np.ndarray, hand_basis: HandBasis, global_orient: np.ndarray | None = None
) -> np.ndarray:
    """Expand pose vectors to the 165-wide SMPL-X full pose (55 joints x axis-angle).

    poses: (T, 106); global_orient: (3,) or None for zeros
    returns: (T, 165) float32 in SMPL-X joint order: global, 21 body, jaw, eyes, 15+15 fingers
    """
    poses = check_poses(poses)
    t = poses.shape[0]
    full = np.zeros((t, FULL_POSE_DIM), np.float32)
    if global_orient is not None:
        full[:, FULL_GLOBAL] = np.asarray(global_orient, np.float32).reshape(1, 3)
    full[:, FULL_BODY] = poses[:, BODY]
    full[:, FULL_JAW] = poses[:, JAW]
    full[:, FULL_LEYE] = poses[:, LEFT_EYE]
    full[:, FULL_REYE] = poses[:, RIGHT_EYE]
    left, right = hand_basis.to_axis_angle(poses)
    full[:, FULL_LHAND] = left
    full[:, FULL_RHAND] = right
    return full


def from_full_pose(full: np.ndarray, hand_basis: HandBasis) -> tuple[np.ndarray, np.ndarray]:
    """Compress a 165-wide full pose to pose vectors (hands projected onto the PCA basis).

    full: (T, 165) → (poses (T, 106) with zero expression, global_orient (T, 3))
    """
    full = np.asarray(full, np.float32)
    if full.ndim != 2 or full.shape[1] != FULL_POSE_DIM:
        raise InputError(f"full pose must have shape (T, {FULL_POSE_DIM}); got {full.shape}")
    poses = np.zeros((full.shape[0], POSE_DIM), np.float32)
    poses[:, BODY] = full[:, FULL_BODY]
    poses[:, JAW] = full[:, FULL_JAW]
    poses[:, LEFT_EYE] = full[:, FULL_LEYE]
    poses[:, RIGHT_EYE] = full[:, FULL_REYE]
    poses[:, LEFT_HAND], poses[:, RIGHT_HAND] = hand_basis.to_pca(
        full[:, FULL_LHAND], full[:, FULL_RHAND]
    )
    return poses, full[:, FULL_GLOBAL].copy()
