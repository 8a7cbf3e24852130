"""The open kinematic skeleton: the default body model, needing no licensed file.

SMPL-X joint tree and parameterisation (joints only, no mesh): per-speaker rest-pose joint
positions (hence bone lengths), forward kinematics of the 106-float pose vector under a fixed
global orientation and translation, fingers through a 12-D hand basis, and face landmarks from a
:class:`~speech2video.body.face_landmarks.LinearFaceModel` carried by the head joint.

World frame: y up, metres, the body facing +z, its left toward +x, pelvis at the origin (plus
``translation``). Rotations are SMPL-X's: each joint's axis-angle is expressed in the rest frame
and composes along the tree from the pelvis.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from speech2video.body import pose_layout as pl
from speech2video.body.body_model import BodyJoints, BodyJointsTensor
from speech2video.body.bone_lengths import bone_lengths
from speech2video.body.face_landmarks import DEFAULT_JAW_OFFSET, LinearFaceModel
from speech2video.body.hand_basis import open_hand_basis
from speech2video.body.joint_tree import HEAD, NUM_JOINTS, PARENTS
from speech2video.body.rotations import axis_angle_to_matrix_torch, rodrigues_components
from speech2video.errors import InputError, NotFoundError

if TYPE_CHECKING:
    import torch

FORMAT = "s2v-skeleton/1"
_KEYS = (
    "rest_joints",
    "global_orient",
    "translation",
    "hand_components_left",
    "hand_components_right",
    "hand_mean_left",
    "hand_mean_right",
    "face_mean",
    "face_jaw_basis",
    "face_expression_basis",
)
_PARENTS = np.asarray(PARENTS)


@functools.cache
def _depth_levels() -> list[np.ndarray]:
    """Joints grouped by depth in the tree (level d's parents are all in level d - 1)."""
    depth = np.zeros(NUM_JOINTS, int)
    for j in range(1, NUM_JOINTS):
        depth[j] = depth[PARENTS[j]] + 1
    return [np.flatnonzero(depth == d) for d in range(1, depth.max() + 1)]


# Left-hand finger joints relative to the left wrist (rest: along +x, palm down, thumb to +z).
_LEFT_FINGERS = {
    "index": [(0.088, 0.006, 0.027), (0.036, -0.002, 0.003), (0.024, -0.003, 0.0)],
    "middle": [(0.094, 0.004, 0.004), (0.040, -0.002, 0.0), (0.027, -0.003, 0.0)],
    "pinky": [(0.076, -0.004, -0.040), (0.027, -0.003, -0.006), (0.019, -0.002, -0.003)],
    "ring": [(0.088, 0.0, -0.018), (0.036, -0.002, -0.003), (0.025, -0.003, -0.001)],
    # thumb1 → thumb2 runs along hand_basis.LEFT_THUMB_DIRECTION.
    "thumb": [(0.024, -0.012, 0.028), (0.028, -0.008, 0.022), (0.025, -0.005, 0.013)],
}
_BODY = [
    (0.0, 0.0, 0.0),  # pelvis
    (0.070, -0.090, -0.005),  # left_hip
    (-0.070, -0.090, -0.005),  # right_hip
    (0.0, 0.110, -0.015),  # spine1
    (0.105, -0.470, -0.010),  # left_knee
    (-0.105, -0.470, -0.010),  # right_knee
    (0.0, 0.245, -0.020),  # spine2
    (0.090, -0.860, -0.055),  # left_ankle
    (-0.090, -0.860, -0.055),  # right_ankle
    (0.0, 0.300, 0.005),  # spine3
    (0.120, -0.910, 0.070),  # left_foot
    (-0.120, -0.910, 0.070),  # right_foot
    (0.0, 0.515, -0.035),  # neck
    (0.080, 0.425, -0.040),  # left_collar
    (-0.080, 0.425, -0.040),  # right_collar
    (0.0, 0.600, 0.015),  # head
    (0.170, 0.450, -0.045),  # left_shoulder
    (-0.170, 0.450, -0.045),  # right_shoulder
    (0.430, 0.435, -0.065),  # left_elbow
    (-0.430, 0.435, -0.065),  # right_elbow
    (0.680, 0.445, -0.065),  # left_wrist
    (-0.680, 0.445, -0.065),  # right_wrist
]


def default_rest_joints() -> np.ndarray:
    """Plausible adult rest pose (roughly the SMPL-X neutral template), pelvis at the origin.

    returns: (55, 3) float32 joint positions in metres, SMPL-X order, T-pose facing +z.
    """
    joints = np.zeros((NUM_JOINTS, 3))
    joints[:22] = _BODY
    head = joints[HEAD]
    joints[22] = head + DEFAULT_JAW_OFFSET
    joints[23] = head + np.array([0.030, 0.045, 0.075])
    joints[24] = head + np.array([-0.030, 0.045, 0.075])
    for wrist, first, sign in ((20, 25, 1.0), (21, 40, -1.0)):
        j = first
        for finger in ("index", "middle", "pinky", "ring", "thumb"):
            pos = joints[wrist].copy()
            for step in _LEFT_FINGERS[finger]:
                pos = pos + np.array(step) * (sign, 1.0, 1.0)
                joints[j] = pos
                j += 1
    return joints.astype(np.float32)


def _check_array(value: Any, shape: tuple[int, ...], name: str) -> np.ndarray:
    arr = np.asarray(value, np.float32)
    if arr.shape != shape:
        raise InputError(f"{name} must have shape {shape}; got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise InputError(f"{name} contains NaN or infinite values")
    return arr


@dataclass(frozen=True)
class JointFrames:
    """Global joint frames of a posed sequence.

    rotations: (T, 55, 3, 3) float32 — each joint's rotation from the rest frame to the world
    positions: (T, 55, 3) float32 — joint positions in metres
    """

    rotations: np.ndarray
    positions: np.ndarray


class OpenSkeletonModel:
    """SMPL-X-parameterised kinematic skeleton of one speaker (satisfies ``BodyModel``).

    rest_joints: (55, 3) float32 — rest-pose joint positions in metres (settable)
    face: LinearFaceModel — head-local face landmarks
    hand_basis: HandBasis — the hands' 12-D spaces
    global_orient: (3,) float32 — fixed root axis-angle; translation: (3,) float32 metres
    """

    def __init__(
        self,
        rest_joints: np.ndarray,
        face: LinearFaceModel | None = None,
        hand_basis: pl.HandBasis | None = None,
        global_orient: np.ndarray | None = None,
        translation: np.ndarray | None = None,
    ) -> None:
        self.rest_joints = rest_joints
        self.face = face if face is not None else LinearFaceModel.default()
        self.hand_basis = hand_basis if hand_basis is not None else open_hand_basis()
        zero = np.zeros(3, np.float32)
        self.global_orient = _check_array(
            zero if global_orient is None else global_orient, (3,), "global_orient"
        )
        self.translation = _check_array(
            zero if translation is None else translation, (3,), "translation"
        )

    @classmethod
    def default(
        cls,
        global_orient: np.ndarray | None = None,
        translation: np.ndarray | None = None,
        betas: np.ndarray | None = None,
    ) -> OpenSkeletonModel:
        """Default adult proportions, hand-designed face and open hand basis.

        betas: accepted for parity with SMPL-X and ignored — the skeleton's proportions are its
        ``rest_joints`` (see :func:`estimate_bone_lengths`).
        """
        del betas
        return cls(default_rest_joints(), global_orient=global_orient, translation=translation)

    def with_speaker(self, **speaker: Any) -> OpenSkeletonModel:
        """A copy with other fixed state: ``global_orient``, ``translation`` (``betas`` ignored)."""
        unknown = set(speaker) - {"global_orient", "translation", "betas"}
        if unknown:
            raise InputError(f"unknown speaker setting(s) {sorted(unknown)} for the skeleton model")
        return OpenSkeletonModel(
            self.rest_joints,
            self.face,
            self.hand_basis,
            speaker.get("global_orient", self.global_orient),
            speaker.get("translation", self.translation),
        )

    def with_rest_joints(self, rest_joints: np.ndarray) -> OpenSkeletonModel:
        """A copy with other rest-pose joint positions (55, 3)."""
        return OpenSkeletonModel(
            rest_joints, self.face, self.hand_basis, self.global_orient, self.translation
        )

    @property
    def rest_joints(self) -> np.ndarray:
        return self._rest

    @rest_joints.setter
    def rest_joints(self, value: np.ndarray) -> None:
        rest = _check_array(value, (NUM_JOINTS, 3), "rest_joints")
        self._rest = rest
        offsets = rest - rest[np.maximum(_PARENTS, 0)]
        offsets[0] = rest[0]
        self._offsets = offsets.astype(np.float32)

    def bone_lengths(self) -> np.ndarray:
        """(54,) float32 rest bone lengths, in ``joint_tree.BONES`` order."""
        return bone_lengths(self._rest[None])[0]

    # ------------------------------------------------------------------ forward kinematics

    def _rotations(self, poses: np.ndarray) -> np.ndarray:
        """(T, 106) → (T, 55, 3) full axis-angle pose, SMPL-X joint order."""
        t = poses.shape[0]
        full = np.empty((t, NUM_JOINTS, 3), np.float32)
        full[:, 0] = self.global_orient
        full[:, 1:25] = poses[:, pl.ROTATIONS].reshape(t, 24, 3)
        left, right = self.hand_basis.to_axis_angle(poses)
        full[:, 25:40] = left.reshape(t, 15, 3)
        full[:, 40:55] = right.reshape(t, 15, 3)
        return full

    def _kinematics(self, poses: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Forward kinematics in component-major layout (fast: entry-wise over frames).

        poses: (T, 106) checked → rot (3, 3, 55, T) global rotations, pos (3, 55, T) positions
        """
        t = poses.shape[0]
        aa = self._rotations(poses).transpose(2, 1, 0)  # (3, 55, T)
        local = np.asarray(rodrigues_components(aa[0], aa[1], aa[2]), np.float32)
        rot = np.empty_like(local)
        pos = np.empty((3, NUM_JOINTS, t), np.float32)
        rot[:, :, 0] = local[:, :, 0]
        pos[:, 0] = (self._offsets[0] + self.translation)[:, None]
        off = self._offsets
        for level in _depth_levels():
            par = _PARENTS[level]
            prot = rot[:, :, par]  # (3, 3, k, T)
            loc = local[:, :, level]
            for a in range(3):
                for c in range(3):
                    rot[a, c, level] = (
                        prot[a, 0] * loc[0, c] + prot[a, 1] * loc[1, c] + prot[a, 2] * loc[2, c]
                    )
                pos[a, level] = (
                    pos[a, par]
                    + prot[a, 0] * off[level, 0, None]
                    + prot[a, 1] * off[level, 1, None]
                    + prot[a, 2] * off[level, 2, None]
                )
        return rot, pos

    def global_transforms(self, poses: np.ndarray) -> JointFrames:
        """Posed joint frames: poses (T, 106) → JointFrames (global rotations and positions)."""
        rot, pos = self._kinematics(pl.check_poses(poses))
        return JointFrames(
            rotations=np.ascontiguousarray(rot.transpose(3, 2, 0, 1)),
            positions=np.ascontiguousarray(pos.transpose(2, 1, 0)),
        )

    def forward(self, poses: np.ndarray) -> BodyJoints:
        """poses: (T, 106) float32 → BodyJoints: joints (T, 55, 3), landmarks (T, 51, 3)."""
        poses = pl.check_poses(poses)
        rot, pos = self._kinematics(poses)
        local = self.face.landmarks(poses[:, pl.JAW], poses[:, pl.EXPRESSION])
        hr = rot[:, :, HEAD, :, None]  # (3, 3, T, 1)
        lx, ly, lz = local[..., 0], local[..., 1], local[..., 2]  # (T, 51) each
        landmarks = np.empty_like(local)
        for a in range(3):
            landmarks[..., a] = (
                pos[a, HEAD, :, None] + hr[a, 0] * lx + hr[a, 1] * ly + hr[a, 2] * lz
            )
        return BodyJoints(pos.transpose(2, 1, 0), landmarks)

    def forward_torch(self, poses: torch.Tensor) -> BodyJointsTensor:
        """Differentiable forward kinematics.

        poses: (T, 106) tensor → BodyJointsTensor: joints (T, 55, 3), landmarks (T, 51, 3),
        same dtype and device as ``poses``.
        """
        import torch

        if poses.ndim != 2 or poses.shape[1] != pl.POSE_DIM:
            raise InputError(f"poses must have shape (T, {pl.POSE_DIM}); got {tuple(poses.shape)}")
        t = poses.shape[0]

        def const(a: np.ndarray) -> torch.Tensor:
            return torch.as_tensor(a, dtype=poses.dtype, device=poses.device)

        hb = self.hand_basis
        left = poses[:, pl.LEFT_HAND] @ const(hb.components_left) + const(hb.mean_left)
        right = poses[:, pl.RIGHT_HAND] @ const(hb.components_right) + const(hb.mean_right)
        full = torch.cat(
            [
                const(self.global_orient).expand(t, 3),
                poses[:, pl.ROTATIONS],
                left,
                right,
            ],
            dim=1,
        ).reshape(t, NUM_JOINTS, 3)
        local = axis_angle_to_matrix_torch(full)
        offsets = const(self._offsets)
        rots: list[torch.Tensor] = [local[:, 0]]
        posl: list[torch.Tensor] = [(offsets[0] + const(self.translation)).expand(t, 3)]
        for j in range(1, NUM_JOINTS):
            p = PARENTS[j]
            rots.append(rots[p] @ local[:, j])
            posl.append(posl[p] + rots[p] @ offsets[j])
        joints = torch.stack(posl, dim=1)
        face = self.face
        flat = (
            const(face.mean).reshape(1, -1)
            + poses[:, pl.JAW] @ const(face.jaw_basis).reshape(3, -1)
            + poses[:, pl.EXPRESSION] @ const(face.expression_basis).reshape(pl.NUM_EXPRESSION, -1)
        ).reshape(t, -1, 3)
        landmarks = joints[:, HEAD, None, :] + torch.einsum("tab,tlb->tla", rots[HEAD], flat)
        return BodyJointsTensor(joints, landmarks)

    # ------------------------------------------------------------------ persistence

    def _arrays(self) -> dict[str, np.ndarray]:
        hb = self.hand_basis
        return {
            "rest_joints": self._rest,
            "global_orient": self.global_orient,
            "translation": self.translation,
            "hand_components_left": hb.components_left,
            "hand_components_right": hb.components_right,
            "hand_mean_left": hb.mean_left,
            "hand_mean_right": hb.mean_right,
            "face_mean": self.face.mean,
            "face_jaw_basis": self.face.jaw_basis,
            "face_expression_basis": self.face.expression_basis,
        }

    def save(self, path: Path | str) -> Path:
        """Write ``.npz`` (no pickle) or ``.json`` by the file's suffix; returns the path."""
        path = Path(path)
        arrays = self._arrays()
        if path.suffix == ".json":
            data = {"format": FORMAT} | {k: v.tolist() for k, v in arrays.items()}
            path.write_text(json.dumps(data))
        else:
            if path.suffix != ".npz":
                raise InputError(f"skeleton file must end in .npz or .json; got {path.name}")
            np.savez(path, format=np.asarray(FORMAT), **arrays)
        return path

    @classmethod
    def load(cls, path: Path | str) -> OpenSkeletonModel:
        """Read a file written by :meth:`save`."""
        path = Path(path)
        if not path.is_file():
            raise NotFoundError(f"skeleton model file not found: {path}")
        if path.suffix == ".json":
            try:
                data = json.loads(path.read_text())
            except json.JSONDecodeError as exc:
                raise InputError(f"skeleton file {path} is not valid JSON: {exc}") from exc
        else:
            try:
                with np.load(path, allow_pickle=False) as npz:
                    data = {k: npz[k] for k in npz.files}
            except (OSError, ValueError) as exc:
                raise InputError(f"skeleton file {path} is not a readable .npz: {exc}") from exc
        missing = set(_KEYS) - set(data)
        if missing:
            raise InputError(f"skeleton file {path} is missing key(s) {sorted(missing)}")
        f32 = {k: np.asarray(data[k], np.float32) for k in _KEYS}
        return cls(
            rest_joints=f32["rest_joints"],
            face=LinearFaceModel(
                f32["face_mean"], f32["face_jaw_basis"], f32["face_expression_basis"]
            ),
            hand_basis=pl.HandBasis(
                f32["hand_components_left"],
                f32["hand_components_right"],
                f32["hand_mean_left"],
                f32["hand_mean_right"],
            ),
            global_orient=f32["global_orient"],
            translation=f32["translation"],
        )
