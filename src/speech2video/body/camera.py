"""Pinhole camera: world points (y up, metres) → pixels (x right, y down).

``camera = rotation @ world + translation`` (OpenCV camera frame: x right, y down, z forward),
then ``u = fx * x / z + cx``, ``v = fy * y / z + cy``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from speech2video.body.joint_tree import HEAD, JOINT_INDEX, NUM_JOINTS
from speech2video.errors import InputError

if TYPE_CHECKING:
    import torch

#: World → camera rotation for a camera in front of a body that faces +z (y up).
FRONT_VIEW = np.diag([1.0, -1.0, -1.0]).astype(np.float32)
#: Distance from the framed body to the default camera, metres.
DEFAULT_DISTANCE = 3.0
_MIN_DEPTH = 1e-6


@dataclass(frozen=True)
class PinholeCamera:
    """Intrinsics and pose of a pinhole camera.

    fx, fy: focal lengths in pixels; cx, cy: principal point in pixels
    rotation: (3, 3) float32 — world → camera rotation
    translation: (3,) float32 — world → camera translation, metres
    """

    fx: float
    fy: float
    cx: float
    cy: float
    rotation: np.ndarray
    translation: np.ndarray

    def __post_init__(self) -> None:
        for name in ("fx", "fy", "cx", "cy"):
            value = float(getattr(self, name))
            if not np.isfinite(value):
                raise InputError(f"camera {name} must be finite; got {value}")
            object.__setattr__(self, name, value)
        if self.fx <= 0 or self.fy <= 0:
            raise InputError(f"camera focal lengths must be positive; got {self.fx}, {self.fy}")
        rot = np.asarray(self.rotation, np.float32)
        trans = np.asarray(self.translation, np.float32)
        if rot.shape != (3, 3) or not np.allclose(rot @ rot.T, np.eye(3), atol=1e-4):
            raise InputError(
                f"camera rotation must be a (3, 3) rotation matrix; got {rot.tolist()}"
            )
        if trans.shape != (3,) or not np.all(np.isfinite(trans)):
            raise InputError(f"camera translation must be 3 finite numbers; got {trans.tolist()}")
        object.__setattr__(self, "rotation", rot)
        object.__setattr__(self, "translation", trans)

    @property
    def intrinsics(self) -> np.ndarray:
        """(3, 3) float32 calibration matrix K."""
        return np.array([[self.fx, 0, self.cx], [0, self.fy, self.cy], [0, 0, 1]], np.float32)

    def to_camera(self, points: np.ndarray) -> np.ndarray:
        """points: (..., 3) world → (..., 3) camera-frame coordinates."""
        pts = np.asarray(points, np.float32)
        if pts.ndim < 1 or pts.shape[-1] != 3:
            raise InputError(f"points must have shape (..., 3); got {pts.shape}")
        return pts @ self.rotation.T + self.translation

    def depth(self, points: np.ndarray) -> np.ndarray:
        """points: (..., 3) world → (...) distance along the optical axis (≤ 0: behind)."""
        return self.to_camera(points)[..., 2]

    def project(self, points: np.ndarray) -> np.ndarray:
        """points: (..., 3) world, metres → (..., 2) float32 pixels (x right, y down).

        Points at or behind the camera plane are projected as if just in front of it.
        """
        cam = self.to_camera(points)
        z = np.maximum(cam[..., 2], _MIN_DEPTH)
        u = self.fx * cam[..., 0] / z + self.cx
        v = self.fy * cam[..., 1] / z + self.cy
        return np.stack([u, v], axis=-1).astype(np.float32)

    def project_torch(self, points: torch.Tensor) -> torch.Tensor:
        """Differentiable :meth:`project`: (..., 3) tensor → (..., 2) tensor, same dtype."""
        import torch

        rot = torch.as_tensor(self.rotation, dtype=points.dtype, device=points.device)
        trans = torch.as_tensor(self.translation, dtype=points.dtype, device=points.device)
        cam = points @ rot.T + trans
        z = torch.clamp(cam[..., 2], min=_MIN_DEPTH)
        return torch.stack(
            [self.fx * cam[..., 0] / z + self.cx, self.fy * cam[..., 1] / z + self.cy], dim=-1
        )

    @classmethod
    def framing(
        cls,
        width: int,
        height: int,
        joints: np.ndarray | None = None,
        margin: float = 0.06,
        distance: float = DEFAULT_DISTANCE,
    ) -> PinholeCamera:
        """A front camera whose image the upper body fills.

        width, height: image size in pixels
        joints: (55, 3) rest-pose joints (y up, facing +z), or None for the default skeleton
        margin: fraction of each image side left free around the framed box
        distance: camera distance from the body, metres (focal length follows)

        The framed box spans the head top down to the hips and the hands hanging at rest, and
        sideways the reach of hands raised beside the head: the talking-speaker shot.
        """
        if width <= 0 or height <= 0:
            raise InputError(f"image size must be positive; got {width}x{height}")
        if not 0 <= margin < 0.5:
            raise InputError(f"margin must be in [0, 0.5); got {margin}")
        if joints is None:
            from speech2video.body.skeleton_model import default_rest_joints

            joints = default_rest_joints()
        joints = np.asarray(joints, np.float64)
        if joints.shape != (NUM_JOINTS, 3) or not np.all(np.isfinite(joints)):
            raise InputError(
                f"joints must be finite with shape ({NUM_JOINTS}, 3); got {joints.shape}"
            )
        box_min, box_max = upper_body_box(joints)
        box_w, box_h = box_max[0] - box_min[0], box_max[1] - box_min[1]
        usable = 1.0 - 2.0 * margin
        f = distance * min(width * usable / box_w, height * usable / box_h)
        centre = np.array([(box_min[0] + box_max[0]) / 2, (box_min[1] + box_max[1]) / 2, 0.0])
        centre[2] = joints[JOINT_INDEX["spine3"], 2] + distance
        translation = -FRONT_VIEW @ centre
        return cls(f, f, width / 2.0, height / 2.0, FRONT_VIEW, translation)

    def to_dict(self) -> dict[str, Any]:
        """Plain numbers and lists for JSON."""
        return {
            "fx": self.fx,
            "fy": self.fy,
            "cx": self.cx,
            "cy": self.cy,
            "rotation": self.rotation.tolist(),
            "translation": self.translation.tolist(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PinholeCamera:
        missing = {"fx", "fy", "cx", "cy", "rotation", "translation"} - set(data)
        if missing:
            raise InputError(f"camera is missing key(s) {sorted(missing)}")
        return cls(
            data["fx"], data["fy"], data["cx"], data["cy"], data["rotation"], data["translation"]
        )


def upper_body_box(joints: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """World-space box (x, y) of the talking-speaker shot of a rest-pose skeleton.

    joints: (55, 3) rest joints (T-pose, y up, facing +z)
    returns: box_min (2,), box_max (2,) in metres
    """
    j = JOINT_INDEX
    ls, rs = joints[j["left_shoulder"]], joints[j["right_shoulder"]]
    arm = float(
        np.linalg.norm(joints[j["left_elbow"]] - ls)
        + np.linalg.norm(joints[j["left_wrist"]] - joints[j["left_elbow"]])
        + np.linalg.norm(joints[j["left_middle3"]] - joints[j["left_wrist"]])
    )
    shoulder_y = (ls[1] + rs[1]) / 2
    head = joints[HEAD]
    neck_to_head = float(np.linalg.norm(head - joints[j["neck"]]))
    head_top = head[1] + 1.6 * neck_to_head  # crown above the head joint
    hips_y = min(joints[j["left_hip"], 1], joints[j["right_hip"], 1])
    bottom = min(hips_y, shoulder_y - arm)  # hands hanging at rest
    top = max(head_top, shoulder_y + 0.55 * arm)  # hands raised beside the head
    reach = 0.5 * arm  # elbows out, hands raised sideways
    left = max(ls[0], rs[0]) + reach
    right = min(ls[0], rs[0]) - reach
    return np.array([right, bottom]), np.array([left, top])
