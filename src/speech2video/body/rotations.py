"""Rotations: axis-angle, rotation matrices and unit quaternions, in numpy and torch.

Conventions: axis-angle vectors ``(..., 3)`` whose norm is the angle in radians; rotation
matrices ``(..., 3, 3)`` acting on column vectors; unit quaternions ``(..., 4)`` ordered
``(w, x, y, z)``. Every function is batched over the leading dimensions, vectorised, and safe at
angle 0 and near pi. The torch versions are differentiable (the fitting stage optimises through
them), including at angle 0.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from speech2video.errors import InputError

if TYPE_CHECKING:
    import torch

_SMALL_ANGLE = 1e-4


def _check_last(arr: np.ndarray, size: int, name: str) -> np.ndarray:
    arr = np.asarray(arr)
    if arr.ndim < 1 or arr.shape[-1] != size:
        raise InputError(f"{name} must have shape (..., {size}); got {arr.shape}")
    return arr


def skew(v: np.ndarray) -> np.ndarray:
    """Cross-product matrices.

    v: (..., 3) → (..., 3, 3) with ``skew(v) @ u == cross(v, u)``.
    """
    v = _check_last(v, 3, "v")
    x, y, z = v[..., 0], v[..., 1], v[..., 2]
    o = np.zeros_like(x)
    return np.stack([o, -z, y, z, o, -x, -y, x, o], axis=-1).reshape(*v.shape[:-1], 3, 3)


def rodrigues_components(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> list[list[np.ndarray]]:
    """Rodrigues' formula on separate axis-angle components (any equal shapes).

    x, y, z: (...) components → 3 x 3 nested lists of (...) arrays, ``r[a][b]`` the matrix entry.
    Entry-wise arithmetic only, so it is fast for large batches in any memory layout.
    """
    theta2 = x * x + y * y + z * z
    small = theta2 < _SMALL_ANGLE**2
    theta = np.sqrt(np.where(small, 1.0, theta2))
    a = np.where(small, 1.0 - theta2 / 6.0, np.sin(theta) / theta)  # sin θ / θ
    b = np.where(small, 0.5 - theta2 / 24.0, (1.0 - np.cos(theta)) / (theta * theta))
    bxy, bxz, byz = b * x * y, b * x * z, b * y * z
    ax, ay, az = a * x, a * y, a * z
    return [
        [1.0 - b * (y * y + z * z), bxy - az, bxz + ay],
        [bxy + az, 1.0 - b * (x * x + z * z), byz - ax],
        [bxz - ay, byz + ax, 1.0 - b * (x * x + y * y)],
    ]


def axis_angle_to_matrix(aa: np.ndarray) -> np.ndarray:
    """Rodrigues' formula.

    aa: (..., 3) axis-angle → (..., 3, 3) rotation matrices (dtype follows the input, float64
    for integer input).
    """
    aa = _check_last(aa, 3, "axis-angle")
    if not np.issubdtype(aa.dtype, np.floating):
        aa = aa.astype(np.float64)
    r = rodrigues_components(aa[..., 0], aa[..., 1], aa[..., 2])
    out = np.empty((*aa.shape, 3), aa.dtype)
    for i in range(3):
        for j in range(3):
            out[..., i, j] = r[i][j]
    return out


def axis_angle_to_quaternion(aa: np.ndarray) -> np.ndarray:
    """aa: (..., 3) → (..., 4) unit quaternions (w, x, y, z) with w ≥ 0 for angles ≤ π."""
    aa = _check_last(aa, 3, "axis-angle")
    if not np.issubdtype(aa.dtype, np.floating):
        aa = aa.astype(np.float64)
    half = 0.5 * np.linalg.norm(aa, axis=-1, keepdims=True)
    scale = 0.5 * np.sinc(half / np.pi)  # sin(θ/2) / θ
    return np.concatenate([np.cos(half), aa * scale], axis=-1)


def quaternion_to_axis_angle(q: np.ndarray) -> np.ndarray:
    """q: (..., 4) quaternions (w, x, y, z), normalised here → (..., 3) axis-angle, angle ≤ π."""
    q = _check_last(q, 4, "quaternion")
    if not np.issubdtype(q.dtype, np.floating):
        q = q.astype(np.float64)
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    q = np.where(q[..., :1] < 0, -q, q)  # the shorter way round
    w, xyz = q[..., :1], q[..., 1:]
    s = np.linalg.norm(xyz, axis=-1, keepdims=True)
    angle = 2.0 * np.arctan2(s, w)
    small = s < 1e-8
    factor = np.where(small, 2.0 / np.maximum(w, 1e-12), angle / np.where(small, 1.0, s))
    return (xyz * factor).astype(q.dtype, copy=False)


def quaternion_multiply(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product: a, b (..., 4) → (..., 4), the rotation ``b`` followed by ``a``."""
    a = _check_last(a, 4, "quaternion a")
    b = _check_last(b, 4, "quaternion b")
    aw, ax, ay, az = np.moveaxis(a, -1, 0)
    bw, bx, by, bz = np.moveaxis(b, -1, 0)
    return np.stack(
        [
            aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
        ],
        axis=-1,
    )


def quaternion_to_matrix(q: np.ndarray) -> np.ndarray:
    """q: (..., 4) (w, x, y, z), normalised here → (..., 3, 3) rotation matrices."""
    q = _check_last(q, 4, "quaternion")
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    w, x, y, z = np.moveaxis(q, -1, 0)
    m = [
        1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
        2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
        2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
    ]  # fmt: skip
    return np.stack(m, axis=-1).reshape(*q.shape[:-1], 3, 3)


def matrix_to_quaternion(r: np.ndarray) -> np.ndarray:
    """r: (..., 3, 3) rotation matrices → (..., 4) unit quaternions (w ≥ 0).

    Chooses, per matrix, the best-conditioned of the four closed forms (Shepperd), so it is exact
    near angle π where the trace form breaks down.
    """
    r = np.asarray(r)
    if r.ndim < 2 or r.shape[-2:] != (3, 3):
        raise InputError(f"rotation matrices must have shape (..., 3, 3); got {r.shape}")
    if not np.issubdtype(r.dtype, np.floating):
        r = r.astype(np.float64)
    m00, m01, m02 = r[..., 0, 0], r[..., 0, 1], r[..., 0, 2]
    m10, m11, m12 = r[..., 1, 0], r[..., 1, 1], r[..., 1, 2]
    m20, m21, m22 = r[..., 2, 0], r[..., 2, 1], r[..., 2, 2]
    # 4 * each squared component, one per candidate.
    sq = np.stack(
        [1 + m00 + m11 + m22, 1 + m00 - m11 - m22, 1 - m00 + m11 - m22, 1 - m00 - m11 + m22],
        axis=-1,
    )
    big = np.sqrt(np.maximum(sq, 0.0))  # 2|w|, 2|x|, 2|y|, 2|z|
    cands = np.stack(
        [
            np.stack([big[..., 0] ** 2, m21 - m12, m02 - m20, m10 - m01], axis=-1),
            np.stack([m21 - m12, big[..., 1] ** 2, m10 + m01, m02 + m20], axis=-1),
            np.stack([m02 - m20, m10 + m01, big[..., 2] ** 2, m12 + m21], axis=-1),
            np.stack([m10 - m01, m20 + m02, m21 + m12, big[..., 3] ** 2], axis=-1),
        ],
        axis=-2,
    )  # (..., 4 candidates, 4)
    cands = cands / (2.0 * np.maximum(big, 0.1))[..., None]
    best = np.argmax(sq, axis=-1)
    q = np.take_along_axis(cands, best[..., None, None], axis=-2)[..., 0, :]
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    return np.where(q[..., :1] < 0, -q, q)


def matrix_to_axis_angle(r: np.ndarray) -> np.ndarray:
    """r: (..., 3, 3) rotation matrices → (..., 3) axis-angle with angle in [0, π]."""
    return quaternion_to_axis_angle(matrix_to_quaternion(r))


def quaternion_slerp(a: np.ndarray, b: np.ndarray, w: np.ndarray | float) -> np.ndarray:
    """Spherical linear interpolation along the shorter arc.

    a, b: (..., 4) unit quaternions; w: (...) weights (0 gives a, 1 gives b), broadcast.
    returns: (..., 4) unit quaternions.
    """
    a = _check_last(a, 4, "quaternion a")
    b = _check_last(b, 4, "quaternion b")
    w = np.asarray(w, dtype=np.result_type(a.dtype, b.dtype, np.float32))[..., None]
    dot = np.sum(a * b, axis=-1, keepdims=True)
    b = np.where(dot < 0, -b, b)
    dot = np.clip(np.abs(dot), 0.0, 1.0)
    omega = np.arccos(dot)
    sin_omega = np.sin(omega)
    near = sin_omega < 1e-6
    safe = np.where(near, 1.0, sin_omega)
    wa = np.where(near, 1.0 - w, np.sin((1.0 - w) * omega) / safe)
    wb = np.where(near, w, np.sin(w * omega) / safe)
    q = wa * a + wb * b
    return q / np.linalg.norm(q, axis=-1, keepdims=True)


def slerp_axis_angle(a: np.ndarray, b: np.ndarray, w: np.ndarray | float) -> np.ndarray:
    """Per-joint rotation-aware interpolation of axis-angle rotations.

    a, b: (..., 3) axis-angle (e.g. (T, 24, 3) joints of two pose sequences)
    w: (...) weights, broadcast against the leading dims of a and b; 0 gives a, 1 gives b
    returns: (..., 3) axis-angle of the rotation ``w`` of the way along the shortest arc from a
    to b, with angle in [0, π] (so ``w = 0`` returns a itself only up to that canonical form).
    float32 in, float32 out.
    """
    a = _check_last(a, 3, "a")
    b = _check_last(b, 3, "b")
    dtype = np.result_type(a.dtype, b.dtype, np.float32)
    qa = axis_angle_to_quaternion(a.astype(np.float64))
    qb = axis_angle_to_quaternion(b.astype(np.float64))
    q = quaternion_slerp(qa, qb, np.asarray(w, np.float64))
    return quaternion_to_axis_angle(q).astype(dtype, copy=False)


def rotation_angle_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Geodesic angle between axis-angle rotations: a, b (..., 3) → (...) radians in [0, π]."""
    qa = axis_angle_to_quaternion(_check_last(a, 3, "a"))
    qb = axis_angle_to_quaternion(_check_last(b, 3, "b"))
    dot = np.clip(np.abs(np.sum(qa * qb, axis=-1)), 0.0, 1.0)
    return 2.0 * np.arccos(dot)


# ----------------------------------------------------------------------------- torch


def axis_angle_to_matrix_torch(aa: torch.Tensor) -> torch.Tensor:
    """Differentiable Rodrigues' formula (finite gradients at angle 0).

    aa: (..., 3) axis-angle tensor → (..., 3, 3) rotation matrices, same dtype and device.
    """
    import torch

    if aa.shape[-1] != 3:
        raise InputError(f"axis-angle must have shape (..., 3); got {tuple(aa.shape)}")
    theta2 = (aa * aa).sum(-1, keepdim=True)
    small = theta2 < _SMALL_ANGLE**2
    theta = torch.sqrt(torch.where(small, torch.ones_like(theta2), theta2))
    a = torch.where(small, 1.0 - theta2 / 6.0 + theta2 * theta2 / 120.0, torch.sin(theta) / theta)
    b = torch.where(
        small,
        0.5 - theta2 / 24.0 + theta2 * theta2 / 720.0,
        (1.0 - torch.cos(theta)) / torch.where(small, torch.ones_like(theta2), theta2),
    )
    x, y, z = aa.unbind(-1)
    o = torch.zeros_like(x)
    k = torch.stack([o, -z, y, z, o, -x, -y, x, o], dim=-1).reshape(*aa.shape[:-1], 3, 3)
    eye = torch.eye(3, dtype=aa.dtype, device=aa.device)
    return eye + a[..., None] * k + b[..., None] * (k @ k)


def matrix_to_axis_angle_torch(r: torch.Tensor) -> torch.Tensor:
    """r: (..., 3, 3) rotation matrices tensor → (..., 3) axis-angle (angle in [0, π]).

    Differentiable away from angle π; computed through the numpy-equivalent Shepperd method.
    """
    import torch

    if r.shape[-2:] != (3, 3):
        raise InputError(f"rotation matrices must have shape (..., 3, 3); got {tuple(r.shape)}")
    m = r.reshape(*r.shape[:-2], 9)
    m00, m01, m02, m10, m11, m12, m20, m21, m22 = m.unbind(-1)
    sq = torch.stack(
        [1 + m00 + m11 + m22, 1 + m00 - m11 - m22, 1 - m00 + m11 - m22, 1 - m00 - m11 + m22],
        dim=-1,
    )
    big = torch.sqrt(torch.clamp(sq, min=1e-12))
    cands = (
        torch.stack(
            [
                torch.stack([big[..., 0] ** 2, m21 - m12, m02 - m20, m10 - m01], dim=-1),
                torch.stack([m21 - m12, big[..., 1] ** 2, m10 + m01, m02 + m20], dim=-1),
                torch.stack([m02 - m20, m10 + m01, big[..., 2] ** 2, m12 + m21], dim=-1),
                torch.stack([m10 - m01, m20 + m02, m21 + m12, big[..., 3] ** 2], dim=-1),
            ],
            dim=-2,
        )
        / (2.0 * torch.clamp(big, min=0.1))[..., None]
    )
    best = sq.argmax(-1)
    idx = best[..., None, None].expand(*best.shape, 1, 4)
    q = torch.gather(cands, -2, idx)[..., 0, :]
    q = q / q.norm(dim=-1, keepdim=True)
    q = torch.where(q[..., :1] < 0, -q, q)
    w, xyz = q[..., :1], q[..., 1:]
    s2 = (xyz * xyz).sum(-1, keepdim=True)
    small = s2 < 1e-12
    s = torch.sqrt(torch.where(small, torch.ones_like(s2), s2))
    factor = torch.where(small, 2.0 / torch.clamp(w, min=1e-6), 2.0 * torch.atan2(s, w) / s)
    return xyz * factor
