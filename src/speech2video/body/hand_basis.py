"""Hand-pose spaces: a licence-free hand-designed 12-D basis, and PCA fitted from data.

The pose vector carries 12 coefficients per hand (``pose_layout.LEFT_HAND``/``RIGHT_HAND``);
a :class:`~speech2video.body.pose_layout.HandBasis` maps them to the 15 finger joints' axis-angles
(45 numbers, SMPL-X finger order: index, middle, pinky, ring, thumb; 3 joints each).

Geometry assumed by the open basis (the SMPL-X rest pose, as in ``skeleton_model``): left hand
along +x, palm down (-y), thumb toward +z. Rotations are in that rest frame, as in SMPL-X, so the
right hand is the mirror image: axis-angle ``(x, y, z) → (x, -y, -z)`` per joint.
"""

from __future__ import annotations

import functools

import numpy as np

from speech2video.body.pose_layout import NUM_HAND_JOINTS, NUM_HAND_PCA, HandBasis
from speech2video.errors import InputError

HAND_DIM = NUM_HAND_JOINTS * 3
#: Finger name → the 3 joint rows (within a hand's 15) it owns, SMPL-X order.
FINGER_JOINTS: dict[str, tuple[int, int, int]] = {
    "index": (0, 1, 2),
    "middle": (3, 4, 5),
    "pinky": (6, 7, 8),
    "ring": (9, 10, 11),
    "thumb": (12, 13, 14),
}
#: Names of the open basis rows, in order.
OPEN_COMPONENT_NAMES: tuple[str, ...] = (
    "fist",
    "index_curl",
    "middle_curl",
    "ring_curl",
    "pinky_curl",
    "spread",
    "thumb_flex",
    "thumb_opposition",
    "thumb_abduction",
    "knuckle_vs_tips",
    "outer_spread",
    "thumb_roll",
)
#: Per-joint reflection through the body's mid-plane for axis-angles (left ↔ right hand).
MIRROR = np.tile(np.array([1.0, -1.0, -1.0], np.float32), NUM_HAND_JOINTS)

#: Left thumb's rest direction (thumb1 → thumb2) in the rest frame; skeleton_model agrees.
LEFT_THUMB_DIRECTION = np.array([0.028, -0.008, 0.022]) / np.linalg.norm([0.028, -0.008, 0.022])

_FLEX = np.array([0.0, 0.0, -1.0])  # left-hand finger flexion axis: curls +x toward -y (palm)
_ABDUCT_THUMBWARD = np.array([0.0, -1.0, 0.0])  # moves a +x finger toward +z (the thumb)


def _thumb_axis(velocity: np.ndarray) -> np.ndarray:
    """Rotation axis that moves the thumb's tip along ``velocity`` (made perpendicular)."""
    d = LEFT_THUMB_DIRECTION
    t = velocity - d * (velocity @ d)
    u = np.cross(d, t)
    return u / np.linalg.norm(u)


def _synergies() -> np.ndarray:
    """The 12 hand-designed left-hand synergies before orthonormalisation: (12, 15, 3)."""
    rows = np.zeros((NUM_HAND_PCA, NUM_HAND_JOINTS, 3))
    fingers = ("index", "middle", "ring", "pinky")
    thumb_flex = _thumb_axis(np.array([0.0, -1.0, -0.5]))
    opposition = _thumb_axis(np.array([0.0, -0.7, -0.7]))
    abduction = _thumb_axis(np.array([-0.5, 0.0, 1.0]))
    t1, t2, t3 = FINGER_JOINTS["thumb"]
    # 0 fist: every finger curls, middle joints most; thumb folds over.
    for f in fingers:
        for j, w in zip(FINGER_JOINTS[f], (1.0, 1.2, 0.8), strict=True):
            rows[0, j] = w * _FLEX
    rows[0, t1] = 0.5 * opposition
    rows[0, t2] = rows[0, t3] = 0.5 * thumb_flex
    # 1-4 each finger's own curl.
    for k, f in enumerate(fingers, start=1):
        for j in FINGER_JOINTS[f]:
            rows[k, j] = _FLEX
    # 5 spread: index toward the thumb, ring and pinky away.
    for f, w in (("index", 1.0), ("middle", 0.2), ("ring", -0.5), ("pinky", -1.0)):
        rows[5, FINGER_JOINTS[f][0]] = w * _ABDUCT_THUMBWARD
    # 6 thumb flexion at its two distal joints.
    rows[6, t2] = rows[6, t3] = thumb_flex
    # 7 opposition: thumb swings under the palm toward the pinky.
    rows[7, t1] = opposition
    rows[7, t2] = 0.3 * thumb_flex
    # 8 radial abduction: thumb away from the index in the palm plane.
    rows[8, t1] = abduction
    # 9 knuckles bent, tips straight (flat "duck" hand) versus claw.
    for f in fingers:
        for j, w in zip(FINGER_JOINTS[f], (1.0, -0.6, -0.6), strict=True):
            rows[9, j] = w * _FLEX
    # 10 outer spread: ring and pinky fan out alone.
    rows[10, FINGER_JOINTS["ring"][0]] = -0.5 * _ABDUCT_THUMBWARD
    rows[10, FINGER_JOINTS["pinky"][0]] = -1.0 * _ABDUCT_THUMBWARD
    # 11 thumb roll about its own length.
    rows[11, t1] = LEFT_THUMB_DIRECTION
    return rows


def _relaxed_left_hand() -> np.ndarray:
    """Mean pose: a relaxed, slightly curled left hand. (45,)"""
    mean = np.zeros((NUM_HAND_JOINTS, 3))
    for k, f in enumerate(("index", "middle", "ring", "pinky")):
        extra = 0.05 * k  # the outer fingers rest a little more curled
        for j, w in zip(FINGER_JOINTS[f], (0.2, 0.3, 0.15), strict=True):
            mean[j] = (w + extra) * _FLEX
    t1, t2, t3 = FINGER_JOINTS["thumb"]
    mean[t1] = 0.2 * _thumb_axis(np.array([0.0, -0.7, -0.7]))
    mean[t2] = mean[t3] = 0.15 * _thumb_axis(np.array([0.0, -1.0, -0.5]))
    return mean.reshape(HAND_DIM)


@functools.cache
def _open_basis_arrays() -> tuple[np.ndarray, np.ndarray]:
    rows = _synergies().reshape(NUM_HAND_PCA, HAND_DIM)
    # Modified Gram-Schmidt in the designed order: row k keeps what rows < k do not explain.
    basis = np.zeros_like(rows)
    for k in range(NUM_HAND_PCA):
        v = rows[k].copy()
        for i in range(k):
            v -= (v @ basis[i]) * basis[i]
        norm = np.linalg.norm(v)
        if norm < 1e-6:  # pragma: no cover - a design error, not a runtime condition
            raise RuntimeError(f"hand synergy {OPEN_COMPONENT_NAMES[k]} is not independent")
        basis[k] = v / norm
    return basis.astype(np.float32), _relaxed_left_hand().astype(np.float32)


def open_hand_basis() -> HandBasis:
    """The licence-free 12-D hand space (rows in :data:`OPEN_COMPONENT_NAMES` order).

    returns: HandBasis — components (12, 45) with orthonormal rows, right = left mirrored;
    mean (45,) a relaxed, slightly curled hand. Deterministic.
    """
    comps, mean = _open_basis_arrays()
    return HandBasis(
        components_left=comps.copy(),
        components_right=(comps * MIRROR).astype(np.float32),
        mean_left=mean.copy(),
        mean_right=(mean * MIRROR).astype(np.float32),
    )


def mirror_hand(pose: np.ndarray) -> np.ndarray:
    """Left ↔ right hand axis-angles: (..., 45) → (..., 45) mirrored through the mid-plane."""
    pose = np.asarray(pose)
    if pose.shape[-1] != HAND_DIM:
        raise InputError(f"hand pose must have shape (..., {HAND_DIM}); got {pose.shape}")
    return (pose * MIRROR).astype(pose.dtype, copy=False)


def _pca(samples: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    mean = samples.mean(axis=0)
    _, _, vt = np.linalg.svd(samples - mean, full_matrices=True)
    comps = vt[:n]
    # Deterministic sign: the largest-magnitude entry of each row is positive.
    signs = np.sign(comps[np.arange(n), np.argmax(np.abs(comps), axis=1)])
    return comps * signs[:, None], mean


def fit_hand_basis(
    left: np.ndarray, right: np.ndarray, num_components: int = NUM_HAND_PCA
) -> HandBasis:
    """PCA hand spaces from observed finger poses (MANO-style).

    left, right: (N, 45) finger axis-angles of each hand, N ≥ 2
    num_components: rows kept (12 for the pose vector)
    returns: HandBasis with orthonormal (num_components, 45) rows and the sample means. With fewer
    samples than components, the rows past the data's rank complete an orthonormal basis.
    """
    if not 1 <= num_components <= HAND_DIM:
        raise InputError(f"num_components must be in 1..{HAND_DIM}; got {num_components}")
    out = []
    for name, arr in (("left", left), ("right", right)):
        arr = np.asarray(arr, np.float64)
        if arr.ndim != 2 or arr.shape[1] != HAND_DIM:
            raise InputError(f"{name} hand poses must have shape (N, {HAND_DIM}); got {arr.shape}")
        if arr.shape[0] < 2:
            raise InputError(f"{name} hand poses need at least 2 samples; got {arr.shape[0]}")
        if not np.all(np.isfinite(arr)):
            raise InputError(f"{name} hand poses contain NaN or infinite values")
        out.append(_pca(arr, num_components))
    (cl, ml), (cr, mr) = out
    return HandBasis(
        components_left=cl.astype(np.float32),
        components_right=cr.astype(np.float32),
        mean_left=ml.astype(np.float32),
        mean_right=mr.astype(np.float32),
    )
