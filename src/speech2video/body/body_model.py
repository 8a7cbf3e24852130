"""The one body-model interface: pose vectors → 3D joints and face landmarks.

Two implementations satisfy :class:`BodyModel`:

- ``"skeleton"`` — :class:`~speech2video.body.skeleton_model.OpenSkeletonModel`, the default,
  needing no licensed file (SMPL-X joint tree, per-speaker bone lengths, linear face model);
- ``"smplx"`` — :class:`~speech2video.body.smplx_model.SmplxBodyModel`, the real ``smplx`` code on
  the operator's SMPL-X model file.

The speaker's fixed state (shape, global orientation, translation) belongs to the model object;
``forward`` takes only the per-frame 106-float pose vectors (layout in ``body/pose_layout.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from speech2video.body.joint_tree import NUM_FACE_LANDMARKS, NUM_JOINTS
from speech2video.body.pose_layout import HandBasis
from speech2video.errors import InputError

if TYPE_CHECKING:
    import torch

BODY_MODEL_KINDS = ("skeleton", "smplx")


@dataclass(frozen=True)
class BodyJoints:
    """Posed 3D points of a sequence.

    joints: (T, 55, 3) float32 — SMPL-X joint positions in metres (SMPL-X joint order)
    landmarks: (T, 51, 3) float32 — face landmarks in metres (order: joint_tree.FACE_REGIONS)
    """

    joints: np.ndarray
    landmarks: np.ndarray

    def __post_init__(self) -> None:
        joints = np.asarray(self.joints, np.float32)
        landmarks = np.asarray(self.landmarks, np.float32)
        if joints.ndim != 3 or joints.shape[1:] != (NUM_JOINTS, 3):
            raise InputError(f"joints must have shape (T, {NUM_JOINTS}, 3); got {joints.shape}")
        if landmarks.shape != (joints.shape[0], NUM_FACE_LANDMARKS, 3):
            raise InputError(
                f"landmarks must have shape ({joints.shape[0]}, {NUM_FACE_LANDMARKS}, 3); "
                f"got {landmarks.shape}"
            )
        object.__setattr__(self, "joints", joints)
        object.__setattr__(self, "landmarks", landmarks)

    @property
    def num_frames(self) -> int:
        return int(self.joints.shape[0])

    def frame(self, index: int) -> BodyJoints:
        """One frame as a length-1 sequence."""
        return BodyJoints(self.joints[index : index + 1], self.landmarks[index : index + 1])


@dataclass(frozen=True)
class BodyJointsTensor:
    """Differentiable posed points (the fitting stage optimises through these).

    joints: (T, 55, 3) tensor — SMPL-X joint positions in metres
    landmarks: (T, 51, 3) tensor — face landmarks in metres
    """

    joints: torch.Tensor
    landmarks: torch.Tensor

    def detach(self) -> BodyJoints:
        """The same points as numpy arrays."""
        return BodyJoints(self.joints.detach().cpu().numpy(), self.landmarks.detach().cpu().numpy())


@runtime_checkable
class BodyModel(Protocol):
    """Pose vectors → 3D joints and face landmarks, for one speaker.

    hand_basis: the 12-D per-hand linear space the pose vector's hand coefficients live in
    """

    hand_basis: HandBasis

    def forward(self, poses: np.ndarray) -> BodyJoints:
        """poses: (T, 106) float32 pose vectors → BodyJoints with T frames."""
        ...


def load_body_model(
    kind: str = "skeleton", model_dir: Path | str | None = None, **speaker: Any
) -> BodyModel:
    """Build a body model.

    kind: ``"skeleton"`` (default, no licensed file) or ``"smplx"``.
    model_dir: for ``"skeleton"``, a saved skeleton (``.npz``/``.json`` file, or a directory
    holding ``skeleton.npz``) or None for the default adult skeleton; for ``"smplx"``, the
    directory (or file) of the licensed ``SMPLX_<GENDER>.npz``.
    speaker: the speaker's fixed state — ``global_orient (3,)``, ``translation (3,)``, and for
    ``"smplx"`` also ``betas (10,)`` and ``gender``.
    """
    if kind == "skeleton":
        from speech2video.body.skeleton_model import OpenSkeletonModel

        if model_dir is None:
            return OpenSkeletonModel.default().with_speaker(**speaker)
        path = Path(model_dir)
        if path.is_dir():
            path = path / "skeleton.npz"
        model = OpenSkeletonModel.load(path)
        return model.with_speaker(**speaker) if speaker else model
    if kind == "smplx":
        from speech2video.body.smplx_model import SmplxBodyModel

        if model_dir is None:
            raise InputError("body model kind 'smplx' needs model_dir (the SMPL-X model files)")
        return SmplxBodyModel(Path(model_dir), **speaker)
    raise InputError(f"unknown body model kind {kind!r}; expected one of {list(BODY_MODEL_KINDS)}")
