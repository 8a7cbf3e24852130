"""SMPL-X body model through the real ``smplx`` code, for operators with the licensed files.

Only ``.npz`` model files are supported (the old ``.pkl`` files need chumpy, which does not
install on Python 3.11). Hands use the model file's own PCA (first 12 components), so the pose
vector's hand coefficients mean what they meant when the speaker was fitted with this file.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from speech2video.body import pose_layout as pl
from speech2video.body.body_model import BodyJoints, BodyJointsTensor
from speech2video.body.joint_tree import NUM_FACE_LANDMARKS, NUM_JOINTS
from speech2video.errors import InputError

if TYPE_CHECKING:
    import torch

GENDERS = ("neutral", "male", "female")
#: Frames per ``smplx`` call in :meth:`SmplxBodyModel.forward` (bounds the vertex memory).
CHUNK_FRAMES = 256


def smplx_model_file(model_dir: Path | str, gender: str = "neutral") -> Path:
    """The ``SMPLX_<GENDER>.npz`` file for a directory (or the file itself).

    Looks in ``model_dir`` and ``model_dir/smplx`` (the layout ``smplx.create`` expects).
    Raises InputError naming the expected file when it is missing.
    """
    if gender not in GENDERS:
        raise InputError(f"gender must be one of {list(GENDERS)}; got {gender!r}")
    path = Path(model_dir)
    if path.is_file():
        if path.suffix != ".npz":
            raise InputError(f"SMPL-X model file must be .npz (pkl needs chumpy); got {path}")
        return path
    name = f"SMPLX_{gender.upper()}.npz"
    for candidate in (path / name, path / "smplx" / name):
        if candidate.is_file():
            return candidate
    raise InputError(f"SMPL-X model file not found: {path / name}")


class SmplxBodyModel:
    """The speaker's SMPL-X model (satisfies ``BodyModel``).

    model_dir: directory holding ``SMPLX_<GENDER>.npz`` (or the file itself)
    betas: (10,) shape; global_orient: (3,) root axis-angle; translation: (3,) metres
    gender: ``"neutral"``, ``"male"`` or ``"female"``
    """

    def __init__(
        self,
        model_dir: Path | str,
        betas: np.ndarray | None = None,
        global_orient: np.ndarray | None = None,
        gender: str = "neutral",
        translation: np.ndarray | None = None,
    ) -> None:
        self.model_file = smplx_model_file(model_dir, gender)
        self.gender = gender
        self.betas = _vector(betas, pl.NUM_BETAS, "betas")
        self.global_orient = _vector(global_orient, 3, "global_orient")
        self.translation = _vector(translation, 3, "translation")

        import smplx
        import torch

        # smplx prints a warning for files with fewer than 300 shape coefficients; keep it out of
        # service logs (it is about the file, and says nothing actionable here).
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                self._model = smplx.create(
                    str(self.model_file),
                    model_type="smplx",
                    ext="npz",
                    gender=gender,
                    use_pca=True,
                    num_pca_comps=pl.NUM_HAND_PCA,
                    flat_hand_mean=False,
                    num_betas=pl.NUM_BETAS,
                    num_expression_coeffs=pl.NUM_EXPRESSION,
                )
        except (KeyError, ValueError, OSError, RuntimeError) as exc:
            raise InputError(f"SMPL-X model file {self.model_file} is unusable: {exc}") from exc
        self._model.eval()
        self._torch = torch
        m = self._model
        self.hand_basis = pl.HandBasis(
            components_left=m.left_hand_components.detach().cpu().numpy().astype(np.float32),
            components_right=m.right_hand_components.detach().cpu().numpy().astype(np.float32),
            mean_left=m.left_hand_mean.detach().cpu().numpy().astype(np.float32),
            mean_right=m.right_hand_mean.detach().cpu().numpy().astype(np.float32),
        )

    def forward_torch(self, poses: torch.Tensor) -> BodyJointsTensor:
        """Differentiable forward pass through ``smplx``.

        poses: (T, 106) float32 tensor → BodyJointsTensor: joints (T, 55, 3) = smplx output
        joints 0..54, landmarks (T, 51, 3) = its last 51 joints
        """
        torch = self._torch
        if poses.ndim != 2 or poses.shape[1] != pl.POSE_DIM:
            raise InputError(f"poses must have shape (T, {pl.POSE_DIM}); got {tuple(poses.shape)}")
        t = poses.shape[0]
        dtype = self._model.shapedirs.dtype
        poses = poses.to(dtype)

        def fixed(a: np.ndarray) -> torch.Tensor:
            return torch.as_tensor(a, dtype=dtype).expand(t, a.shape[0])

        out = self._model(
            betas=fixed(self.betas),
            global_orient=fixed(self.global_orient),
            transl=fixed(self.translation),
            body_pose=poses[:, pl.BODY],
            jaw_pose=poses[:, pl.JAW],
            leye_pose=poses[:, pl.LEFT_EYE],
            reye_pose=poses[:, pl.RIGHT_EYE],
            left_hand_pose=poses[:, pl.LEFT_HAND],
            right_hand_pose=poses[:, pl.RIGHT_HAND],
            expression=poses[:, pl.EXPRESSION],
            return_verts=False,
            return_shaped=False,
        )
        joints = out.joints
        return BodyJointsTensor(joints[:, :NUM_JOINTS], joints[:, -NUM_FACE_LANDMARKS:])

    def forward(self, poses: np.ndarray) -> BodyJoints:
        """poses: (T, 106) float32 → BodyJoints: joints (T, 55, 3), landmarks (T, 51, 3)."""
        poses = pl.check_poses(poses)
        torch = self._torch
        joints, landmarks = [], []
        with torch.no_grad():
            for start in range(0, poses.shape[0], CHUNK_FRAMES):
                chunk = torch.from_numpy(np.ascontiguousarray(poses[start : start + CHUNK_FRAMES]))
                out = self.forward_torch(chunk)
                joints.append(out.joints.cpu().numpy())
                landmarks.append(out.landmarks.cpu().numpy())
        if not joints:
            empty = np.zeros((0, NUM_JOINTS, 3), np.float32)
            return BodyJoints(empty, np.zeros((0, NUM_FACE_LANDMARKS, 3), np.float32))
        return BodyJoints(np.concatenate(joints), np.concatenate(landmarks))


def _vector(value: np.ndarray | None, size: int, name: str) -> np.ndarray:
    if value is None:
        return np.zeros(size, np.float32)
    arr = np.asarray(value, np.float32)
    if arr.shape != (size,) or not np.all(np.isfinite(arr)):
        raise InputError(f"{name} must be {size} finite numbers; got shape {arr.shape}")
    return arr
