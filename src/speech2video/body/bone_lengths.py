"""Bone lengths: measuring them on joint sets, and estimating a speaker's from observations.

The fitting stage calls :func:`estimate_bone_lengths` with keypoints detected in a speaker's
frames to scale the open skeleton to that speaker.
"""

from __future__ import annotations

import numpy as np

from speech2video.body.joint_tree import BONES, NUM_JOINTS, PARENTS
from speech2video.errors import InputError


def bone_lengths(joints: np.ndarray) -> np.ndarray:
    """joints: (..., 55, D) → (..., 54) bone lengths in ``joint_tree.BONES`` order."""
    joints = np.asarray(joints)
    par = np.array([p for p, _ in BONES])
    child = np.array([c for _, c in BONES])
    return np.linalg.norm(joints[..., child, :] - joints[..., par, :], axis=-1)


def estimate_bone_lengths(
    points: np.ndarray,
    joint_ids: list[int] | tuple[int, ...] | np.ndarray,
    confidence: np.ndarray | None = None,
    base: np.ndarray | None = None,
    min_confidence: float = 0.3,
    scale_limits: tuple[float, float] = (0.5, 2.0),
) -> np.ndarray:
    """Rest joints whose bones match observed bone lengths.

    points: (N, K, D) observed keypoints, D = 3 (metres) or D = 2 (any image unit)
    joint_ids: (K,) the SMPL-X joint each keypoint observes (distinct)
    confidence: (N, K) detection scores, or None for all 1; below ``min_confidence`` is ignored
    base: (55, 3) skeleton to rescale, default :func:`default_rest_joints`
    returns: (55, 3) float32 rest joints: base's bone directions, lengths rescaled

    Each observed joint is linked to its nearest observed ancestor; the ratio of the observed
    distance (median over frames in 3D; 90th percentile in 2D, the least foreshortened) to the
    base distance scales every bone on that path, clipped to ``scale_limits``. Bones without
    observations take the median ratio. In 2D, ratios are divided by their median: proportions
    are fitted and the base's overall size is kept, since pixels carry no metric scale.
    """
    from speech2video.body.skeleton_model import default_rest_joints

    if base is None:
        base = default_rest_joints()
    base = np.asarray(base, np.float64)
    if base.shape != (NUM_JOINTS, 3):
        raise InputError(f"base must have shape ({NUM_JOINTS}, 3); got {base.shape}")
    pts = np.asarray(points, np.float64)
    if pts.ndim != 3 or pts.shape[2] not in (2, 3):
        raise InputError(f"points must have shape (N, K, 2|3); got {pts.shape}")
    ids = np.asarray(joint_ids, int).reshape(-1)
    if ids.shape[0] != pts.shape[1]:
        raise InputError(f"joint_ids has {ids.shape[0]} entries for {pts.shape[1]} keypoints")
    if np.any((ids < 0) | (ids >= NUM_JOINTS)) or len(set(ids.tolist())) != len(ids):
        raise InputError(f"joint_ids must be distinct SMPL-X joint indices 0..54; got {ids}")
    conf = np.ones(pts.shape[:2]) if confidence is None else np.asarray(confidence, np.float64)
    if conf.shape != pts.shape[:2]:
        raise InputError(f"confidence must have shape {pts.shape[:2]}; got {conf.shape}")
    valid = (conf >= min_confidence) & np.all(np.isfinite(pts), axis=-1)
    column = {int(j): k for k, j in enumerate(ids)}

    scale = np.full(NUM_JOINTS, np.nan)  # per child joint: its bone's scale
    for j, k in column.items():
        a = PARENTS[j]
        path = [j]
        while a >= 0 and a not in column:
            path.append(a)
            a = PARENTS[a]
        if a < 0:
            continue
        both = valid[:, k] & valid[:, column[a]]
        if not np.any(both):
            continue
        seen = np.linalg.norm(pts[both, k] - pts[both, column[a]], axis=-1)
        stat = np.median(seen) if pts.shape[2] == 3 else np.percentile(seen, 90)
        rest = float(np.linalg.norm(base[j] - base[a]))
        if rest > 1e-9 and stat > 0:
            scale[path] = stat / rest
    found = np.isfinite(scale)
    typical = float(np.median(scale[found])) if np.any(found) else 1.0
    if pts.shape[2] == 2:
        scale = scale / typical
        typical = 1.0
    scale = np.where(found, scale, typical)
    scale = np.clip(scale, *scale_limits)
    out = np.empty_like(base, dtype=np.float64)
    out[0] = base[0]
    for j in range(1, NUM_JOINTS):
        p = PARENTS[j]
        out[j] = out[p] + scale[j] * (base[j] - base[p])
    return out.astype(np.float32)
