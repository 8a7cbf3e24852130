"""A recording's 2D keypoints: SMPL-X-ordered joints and face landmarks with confidences.

File format (``.npz``, no pickle)::

    joints         (T, 55, 2) float32  pixels (x right, y down), SMPL-X joint order
    joint_conf     (T, 55)    float32  0 = not observed
    landmarks      (T, 51, 2) float32  pixels, joint_tree.FACE_REGIONS order
    landmark_conf  (T, 51)    float32
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from speech2video.body.body_model import BodyModel
from speech2video.body.camera import PinholeCamera
from speech2video.body.joint_tree import (
    LEFT_HAND_JOINTS,
    LEFT_WRIST,
    NUM_FACE_LANDMARKS,
    NUM_JOINTS,
    RIGHT_HAND_JOINTS,
    RIGHT_WRIST,
)
from speech2video.errors import InputError, NotFoundError

#: Joints counted as "body" in statistics and errors: the 25 non-finger joints.
BODY_JOINTS: tuple[int, ...] = tuple(range(25))
HAND_JOINTS: tuple[int, ...] = LEFT_HAND_JOINTS + RIGHT_HAND_JOINTS
#: Joints an upper-body detection must have for the frame to count as showing the body.
CORE_BODY_JOINTS: tuple[int, ...] = (16, 17, 18, 19, 20, 21)
_KEYS = ("joints", "joint_conf", "landmarks", "landmark_conf")


@dataclass(frozen=True)
class Keypoints2D:
    """joints (T, 55, 2) px, joint_conf (T, 55), landmarks (T, 51, 2) px, landmark_conf (T, 51);
    all float32, confidence 0 where a point was not observed."""

    joints: np.ndarray
    joint_conf: np.ndarray
    landmarks: np.ndarray
    landmark_conf: np.ndarray

    def __post_init__(self) -> None:
        j = np.asarray(self.joints, np.float32)
        t = j.shape[0] if j.ndim == 3 else -1
        shapes = {
            "joints": (t, NUM_JOINTS, 2),
            "joint_conf": (t, NUM_JOINTS),
            "landmarks": (t, NUM_FACE_LANDMARKS, 2),
            "landmark_conf": (t, NUM_FACE_LANDMARKS),
        }
        for name, shape in shapes.items():
            arr = np.asarray(getattr(self, name), np.float32)
            if arr.shape != shape:
                raise InputError(f"keypoints {name} must have shape {shape}; got {arr.shape}")
            if not np.all(np.isfinite(arr)):
                raise InputError(f"keypoints {name} contain NaN or infinite values")
            object.__setattr__(self, name, arr)

    @property
    def num_frames(self) -> int:
        return int(self.joints.shape[0])

    def select(self, frames: np.ndarray | slice) -> Keypoints2D:
        """The keypoints of some frames (indices or a slice)."""
        return Keypoints2D(
            self.joints[frames],
            self.joint_conf[frames],
            self.landmarks[frames],
            self.landmark_conf[frames],
        )

    def person_frames(self, min_conf: float = 0.3) -> np.ndarray:
        """(T,) bool: frames where a person was seen (most shoulder/elbow/wrist joints, or a
        face)."""
        body = (self.joint_conf[:, list(CORE_BODY_JOINTS)] >= min_conf).sum(axis=1) >= 3
        face = self.landmark_conf.max(axis=1) >= min_conf
        return body | face

    def full_frames(self, min_conf: float = 0.3) -> np.ndarray:
        """(T,) bool: frames with the upper body, both hands (wrist + 15 fingers) and the face."""
        c = self.joint_conf >= min_conf
        body = c[:, list(CORE_BODY_JOINTS)].all(axis=1)
        hands = c[:, [*list(HAND_JOINTS), LEFT_WRIST, RIGHT_WRIST]].all(axis=1)
        face = (self.landmark_conf >= min_conf).all(axis=1)
        return body & hands & face


def save_keypoints(path: str | Path, keypoints: Keypoints2D) -> None:
    """Write ``keypoints`` as an uncompressed ``.npz``."""
    np.savez(Path(path), **{k: getattr(keypoints, k) for k in _KEYS})


def load_keypoints(path: str | Path) -> Keypoints2D:
    """Read a file written by :func:`save_keypoints`."""
    path = Path(path)
    if not path.is_file():
        raise NotFoundError(f"keypoints file not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = set(_KEYS) - set(npz.files)
            if missing:
                raise InputError(f"keypoints file {path} lacks {sorted(missing)}")
            data = {k: npz[k] for k in _KEYS}
    except (OSError, ValueError) as exc:
        raise InputError(f"keypoints file {path} is not a readable .npz: {exc}") from None
    return Keypoints2D(**data)


def project_keypoints(model: BodyModel, camera: PinholeCamera, poses: np.ndarray) -> Keypoints2D:
    """Exact keypoints of known poses: every joint and landmark projected, confidence 1.

    model: the speaker's body model; camera: its camera; poses: (T, 106)
    """
    out = model.forward(poses)
    joints = camera.project(out.joints)
    landmarks = camera.project(out.landmarks)
    t = joints.shape[0]
    return Keypoints2D(
        joints,
        np.ones((t, NUM_JOINTS), np.float32),
        landmarks,
        np.ones((t, NUM_FACE_LANDMARKS), np.float32),
    )
