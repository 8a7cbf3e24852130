"""Motion → BVH (Biovision hierarchy) of the open skeleton, and a small BVH reader.

The hierarchy is the SMPL-X tree (55 joints, :mod:`speech2video.body.joint_tree`) with each
joint's OFFSET its rest position minus its parent's (the speaker's body model rest pose), in
centimetres. The root (pelvis) has six channels ``Xposition Yposition Zposition Zrotation
Xrotation Yrotation``, every other joint three rotation channels, in degrees, order ZXY
(``R = Rz · Rx · Ry``) from the SMPL-X axis-angle rotations (global orientation at the root;
hand PCA expanded with the given hand basis). Leaves end with an ``End Site`` of zero length.
``Frame Time`` is ``1 / fps``. Pure numpy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from speech2video.body import pose_layout as pl
from speech2video.body.joint_tree import JOINT_NAMES, NUM_JOINTS, PARENTS
from speech2video.body.motion_file import Motion
from speech2video.body.rotations import axis_angle_to_matrix, matrix_to_axis_angle
from speech2video.errors import InputError

#: Metres → BVH units (centimetres).
SCALE = 100.0
ROOT_CHANNELS = ("Xposition", "Yposition", "Zposition", "Zrotation", "Xrotation", "Yrotation")
JOINT_CHANNELS = ("Zrotation", "Xrotation", "Yrotation")


def matrix_to_zxy(r: np.ndarray) -> np.ndarray:
    """Rotation matrices (..., 3, 3) → ZXY Euler angles (..., 3) in radians as (z, x, y)."""
    r = np.asarray(r, np.float64)
    x = np.arcsin(np.clip(r[..., 2, 1], -1.0, 1.0))
    y = np.arctan2(-r[..., 2, 0], r[..., 2, 2])
    z = np.arctan2(-r[..., 0, 1], r[..., 1, 1])
    return np.stack((z, x, y), -1)


def zxy_to_matrix(zxy: np.ndarray) -> np.ndarray:
    """ZXY Euler angles (..., 3) in radians, as (z, x, y) → rotation matrices (..., 3, 3)."""
    zxy = np.asarray(zxy, np.float64)
    z, x, y = zxy[..., 0], zxy[..., 1], zxy[..., 2]
    zero, one = np.zeros_like(z), np.ones_like(z)

    def mat(*rows: tuple[np.ndarray, ...]) -> np.ndarray:
        return np.stack([np.stack(row, -1) for row in rows], -2)

    rz = mat((np.cos(z), -np.sin(z), zero), (np.sin(z), np.cos(z), zero), (zero, zero, one))
    rx = mat((one, zero, zero), (zero, np.cos(x), -np.sin(x)), (zero, np.sin(x), np.cos(x)))
    ry = mat((np.cos(y), zero, np.sin(y)), (zero, one, zero), (-np.sin(y), zero, np.cos(y)))
    return rz @ rx @ ry


def motion_to_bvh(
    motion: Motion,
    rest_joints: np.ndarray,
    hand_basis: pl.HandBasis,
    trans: np.ndarray | None = None,
) -> str:
    """The BVH text of a motion.

    rest_joints: (55, 3) rest positions in metres (the speaker's body model);
    trans: (T, 3) root translation in metres added to the rest pelvis (zeros when None)
    """
    rest = np.asarray(rest_joints, np.float64)
    if rest.shape != (NUM_JOINTS, 3) or not np.all(np.isfinite(rest)):
        raise InputError(f"rest_joints must be finite with shape (55, 3); got {rest.shape}")
    t = motion.num_frames
    trans = np.zeros((t, 3)) if trans is None else np.asarray(trans, np.float64)
    if trans.shape != (t, 3):
        raise InputError(f"trans must have shape ({t}, 3); got {trans.shape}")
    full = pl.to_full_pose(motion.poses, hand_basis, motion.global_orient).reshape(t, NUM_JOINTS, 3)
    euler = np.degrees(matrix_to_zxy(axis_angle_to_matrix(full.astype(np.float64))))
    lines = ["HIERARCHY"]
    order: list[int] = []  # joints in file (depth-first) order
    children: dict[int, list[int]] = {j: [] for j in range(NUM_JOINTS)}
    for j, p in enumerate(PARENTS):
        if p >= 0:
            children[p].append(j)

    def write(j: int, depth: int) -> None:
        pad = "  " * depth
        offset = rest[j] - rest[PARENTS[j]] if PARENTS[j] >= 0 else np.zeros(3)
        channels = ROOT_CHANNELS if PARENTS[j] < 0 else JOINT_CHANNELS
        order.append(j)
        lines.append(f"{pad}{'ROOT' if PARENTS[j] < 0 else 'JOINT'} {JOINT_NAMES[j]}")
        lines.append(f"{pad}{{")
        lines.append(f"{pad}  OFFSET {' '.join(f'{v:.6f}' for v in offset * SCALE)}")
        lines.append(f"{pad}  CHANNELS {len(channels)} {' '.join(channels)}")
        for c in children[j]:
            write(c, depth + 1)
        if not children[j]:
            lines.extend([f"{pad}  End Site", f"{pad}  {{", f"{pad}    OFFSET 0 0 0", f"{pad}  }}"])
        lines.append(f"{pad}}}")

    write(0, 0)
    root = (rest[0] + trans) * SCALE
    values = np.concatenate((root, euler[:, order].reshape(t, -1)), 1)
    lines += ["MOTION", f"Frames: {t}", f"Frame Time: {1.0 / motion.fps:.8f}"]
    lines += [" ".join(f"{v:.6f}" for v in row) for row in values]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Bvh:
    """A parsed BVH: joints in file order, their parents (-1: root), offsets, channel names,
    the frame time and the channel values (frames, channels)."""

    names: list[str]
    parents: list[int]
    offsets: np.ndarray
    channels: list[tuple[str, ...]]
    frame_time: float
    values: np.ndarray

    def rotations(self) -> np.ndarray:
        """(frames, joints, 3) axis-angle of each joint's ZXY channels."""
        out = []
        col = 0
        for chans in self.channels:
            idx = {c: col + i for i, c in enumerate(chans)}
            zxy = self.values[:, [idx["Zrotation"], idx["Xrotation"], idx["Yrotation"]]]
            out.append(matrix_to_axis_angle(zxy_to_matrix(np.radians(zxy))))
            col += len(chans)
        return np.stack(out, 1)


def read_bvh(text: str) -> Bvh:
    """Parse BVH text (the subset :func:`motion_to_bvh` writes); InputError when malformed."""
    tokens = text.split()
    try:
        head, motion_at = tokens.index("HIERARCHY"), tokens.index("MOTION")
    except ValueError:
        raise InputError("not a BVH file: HIERARCHY or MOTION missing") from None
    names: list[str] = []
    parents: list[int] = []
    offsets: list[list[float]] = []
    channels: list[tuple[str, ...]] = []
    stack: list[int] = []
    pending = -1
    i = head + 1
    try:
        while i < motion_at:
            tok = tokens[i]
            if tok in ("ROOT", "JOINT"):
                names.append(tokens[i + 1])
                parents.append(stack[-1] if stack else -1)
                pending = len(names) - 1
                i += 2
            elif tok == "End":
                pending = -2
                i += 2
            elif tok == "{":
                stack.append(pending)
                i += 1
            elif tok == "}":
                stack.pop()
                i += 1
            elif tok == "OFFSET":
                if stack[-1] >= 0:
                    offsets.append([float(v) for v in tokens[i + 1 : i + 4]])
                i += 4
            elif tok == "CHANNELS":
                n = int(tokens[i + 1])
                channels.append(tuple(tokens[i + 2 : i + 2 + n]))
                i += 2 + n
            else:
                raise InputError(f"unexpected BVH token {tok!r}")
        stack = [s for s in stack if s >= 0]
        frames = int(tokens[motion_at + 2])
        frame_time = float(tokens[motion_at + 5])
        flat = np.asarray(tokens[motion_at + 6 :], np.float64)
    except (IndexError, ValueError) as exc:
        raise InputError(f"malformed BVH ({exc})") from None
    width = sum(len(c) for c in channels)
    if flat.size != frames * width or len(offsets) != len(names) != len(channels):
        raise InputError(f"BVH motion has {flat.size} values; expected {frames} x {width}")
    return Bvh(names, parents, np.asarray(offsets), channels, frame_time, flat.reshape(frames, -1))
