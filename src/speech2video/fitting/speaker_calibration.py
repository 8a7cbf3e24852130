"""The speaker's fixed state, estimated once before the per-frame fit (paper §3.2).

- shape: the open skeleton's bone lengths from all frames' keypoints
  (:func:`~speech2video.body.bone_lengths.estimate_bone_lengths`, 2D proportions on the default
  adult size), plus the shoulder width, which no single bone of the tree observes;
- camera and global orientation: a front pinhole camera (focal length of the default framing)
  whose translation, with the skeleton's global orientation, is fitted to the first
  ``init_frames`` frames with a person, then fixed;
- face: a :class:`~speech2video.body.face_landmarks.LinearFaceModel` refitted to the speaker's
  landmarks (back-projected at the default face's depth into the head frame) when at least
  ``min_face_frames`` frames show the whole face; otherwise the default face.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from speech2video.body import pose_layout as pl
from speech2video.body.bone_lengths import estimate_bone_lengths
from speech2video.body.camera import FRONT_VIEW, PinholeCamera
from speech2video.body.face_landmarks import LinearFaceModel, to_head_local
from speech2video.body.joint_tree import HEAD, JOINT_INDEX, NUM_JOINTS, PARENTS
from speech2video.body.skeleton_model import OpenSkeletonModel, default_rest_joints
from speech2video.errors import InputError
from speech2video.fitting.fitter import (
    FitConfig,
    keypoint_weights,
    optimise,
    projector,
    residual_scale,
    torch_threads,
)
from speech2video.fitting.keypoint_set import Keypoints2D
from speech2video.fitting.pose_prior import mean_pose

if TYPE_CHECKING:
    import torch

_LS, _RS = JOINT_INDEX["left_shoulder"], JOINT_INDEX["right_shoulder"]
_LE, _RE = JOINT_INDEX["left_elbow"], JOINT_INDEX["right_elbow"]
#: Joints whose bone offsets carry the shoulder width (x components scaled together).
_SHOULDER_WIDTH_JOINTS = (JOINT_INDEX["left_collar"], JOINT_INDEX["right_collar"], _LS, _RS)


@dataclass(frozen=True)
class SpeakerCalibration:
    """model: the fitted skeleton (rest joints, global orientation, face); camera: fixed camera;
    face_refitted: whether the face model was fitted to the speaker (else the default)."""

    model: OpenSkeletonModel
    camera: PinholeCamera
    face_refitted: bool


def _stack(keypoints: Sequence[Keypoints2D]) -> tuple[np.ndarray, np.ndarray]:
    joints = np.concatenate([k.joints for k in keypoints])
    conf = np.concatenate([k.joint_conf for k in keypoints])
    return joints, conf


def _p90_distance(points: np.ndarray, conf: np.ndarray, a: int, b: int, min_conf: float) -> float:
    ok = (conf[:, a] >= min_conf) & (conf[:, b] >= min_conf)
    if not np.any(ok):
        return float("nan")
    return float(np.percentile(np.linalg.norm(points[ok, a] - points[ok, b], axis=-1), 90))


def estimate_rest_joints(keypoints: Sequence[Keypoints2D], min_conf: float = 0.3) -> np.ndarray:
    """(55, 3) float32 rest joints scaled to the keypoints' proportions."""
    joints, conf = _stack(keypoints)
    seen = (conf >= min_conf).sum(axis=0) >= 3
    ids = np.flatnonzero(seen)
    rest = default_rest_joints()
    if ids.size >= 2:
        rest = estimate_bone_lengths(joints[:, ids], ids, conf[:, ids], min_confidence=min_conf)
    shoulders = _p90_distance(joints, conf, _LS, _RS, min_conf)
    upper_arm = (
        np.nanmean(
            [
                _p90_distance(joints, conf, _LS, _LE, min_conf),
                _p90_distance(joints, conf, _RS, _RE, min_conf),
            ]
        )
        if seen[[_LS, _RS, _LE, _RE]].any()
        else float("nan")
    )
    if np.isfinite(shoulders) and np.isfinite(upper_arm) and upper_arm > 0:
        rest_arm = np.linalg.norm(rest[[_LE, _RE]] - rest[[_LS, _RS]], axis=1).mean()
        factor = rest_arm * shoulders / upper_arm / np.linalg.norm(rest[_LS] - rest[_RS])
        rest = _scale_shoulder_width(rest, float(np.clip(factor, 0.7, 1.4)))
    return rest


def _scale_shoulder_width(rest: np.ndarray, factor: float) -> np.ndarray:
    """Scale the x offsets of the collar and shoulder bones; descendants follow."""
    offsets = rest - rest[np.maximum(np.asarray(PARENTS), 0)]
    offsets[list(_SHOULDER_WIDTH_JOINTS), 0] *= factor
    out = np.empty_like(rest)
    out[0] = rest[0]
    for j in range(1, NUM_JOINTS):
        out[j] = out[PARENTS[j]] + offsets[j]
    return out.astype(np.float32)


def _initial_translation(
    model: OpenSkeletonModel, keypoints: Keypoints2D, f: float, cx: float, cy: float,
    min_conf: float,
) -> np.ndarray | None:  # fmt: skip
    """Camera translation placing the rest skeleton's shoulders (or eyes) on the observed ones."""
    rest = model.forward(mean_pose()[None]).joints[0]
    jc, jp = keypoints.joint_conf, keypoints.joints
    for a, b in ((_LS, _RS), (JOINT_INDEX["left_eye"], JOINT_INDEX["right_eye"])):
        ok = (jc[:, a] >= min_conf) & (jc[:, b] >= min_conf)
        if not np.any(ok):
            continue
        width_px = float(np.median(np.linalg.norm(jp[ok, a] - jp[ok, b], axis=-1)))
        if width_px < 1.0:
            continue
        mid = np.median((jp[ok, a] + jp[ok, b]) / 2, axis=0)
        z = f * float(np.linalg.norm(rest[a] - rest[b])) / width_px
        cam = np.array([(mid[0] - cx) * z / f, (mid[1] - cy) * z / f, z])
        return (cam - FRONT_VIEW @ ((rest[a] + rest[b]) / 2)).astype(np.float32)
    return None


def calibrate_camera(
    model: OpenSkeletonModel, keypoints: Keypoints2D, width: int, height: int, config: FitConfig
) -> tuple[OpenSkeletonModel, PinholeCamera]:
    """Global orientation and camera translation from the first ``init_frames`` frames with a
    person (jointly with their poses); returns the oriented model and the fixed camera."""
    import torch

    from speech2video.body.rotations import axis_angle_to_matrix_torch

    framing = PinholeCamera.framing(width, height, model.rest_joints)
    f, cx, cy = framing.fx, width / 2.0, height / 2.0
    frames = np.flatnonzero(keypoints.person_frames(config.min_confidence))[: config.init_frames]
    if frames.size == 0:
        raise InputError("no frame shows a person: cannot place the camera")
    kp = keypoints.select(frames)
    base = model.with_speaker(global_orient=np.zeros(3), translation=np.zeros(3))
    t0 = _initial_translation(base, kp, f, cx, cy, config.min_confidence)
    if t0 is None:
        t0 = framing.translation
    orient = torch.zeros(3, requires_grad=True)
    trans = torch.tensor(t0, dtype=torch.float32, requires_grad=True)
    rot_cam = torch.as_tensor(FRONT_VIEW)
    root = torch.as_tensor(base.rest_joints[0])

    def project(poses: torch.Tensor) -> torch.Tensor:
        out = base.forward_torch(poses)
        pts = torch.cat([out.joints, out.landmarks], dim=1) - root
        pts = pts @ axis_angle_to_matrix_torch(orient[None])[0].T + root
        cam = pts @ rot_cam.T + trans
        z = torch.clamp(cam[..., 2], min=1e-3)
        return torch.stack([f * cam[..., 0] / z + cx, f * cam[..., 1] / z + cy], dim=-1)

    camera0 = PinholeCamera(f, f, cx, cy, FRONT_VIEW, t0)
    scale = residual_scale(base, camera0)
    targets = np.concatenate([kp.joints, kp.landmarks], axis=1)
    with torch.enable_grad():
        optimise(
            project,
            np.tile(mean_pose(), (kp.num_frames, 1)),
            targets,
            keypoint_weights(kp, config),
            scale,
            config,
            config.init_iterations,
            extra=[(orient, 0.02), (trans, 0.02)],
            smooth=False,
        )
    g = orient.detach().numpy().astype(np.float32)
    t = trans.detach().numpy().astype(np.float32)
    return base.with_speaker(global_orient=g), PinholeCamera(f, f, cx, cy, FRONT_VIEW, t)


def refit_face(
    model: OpenSkeletonModel,
    camera: PinholeCamera,
    keypoints: Sequence[Keypoints2D],
    config: FitConfig,
) -> LinearFaceModel | None:
    """The speaker's face model, or None when fewer than ``min_face_frames`` show the face."""
    import torch

    lm = np.concatenate([k.landmarks for k in keypoints])
    full = (np.concatenate([k.landmark_conf for k in keypoints]) >= config.min_confidence).all(1)
    idx = np.flatnonzero(full)
    if idx.size < max(config.min_face_frames, 4):
        return None
    idx = idx[np.linspace(0, idx.size - 1, min(idx.size, config.face_model_frames)).astype(int)]
    all_kp = Keypoints2D(
        np.concatenate([k.joints for k in keypoints]),
        np.concatenate([k.joint_conf for k in keypoints]),
        lm,
        np.concatenate([k.landmark_conf for k in keypoints]),
    ).select(idx)
    with torch.enable_grad():
        poses = optimise(
            projector(model, camera),
            np.tile(mean_pose(), (idx.size, 1)),
            np.concatenate([all_kp.joints, all_kp.landmarks], axis=1),
            keypoint_weights(all_kp, config),
            residual_scale(model, camera),
            config,
            config.init_iterations,
            smooth=False,
        )
    frames = model.global_transforms(poses)
    predicted = model.forward(poses).landmarks
    z = camera.depth(predicted)  # (N, 51)
    uv = all_kp.landmarks
    cam = np.stack(
        [(uv[..., 0] - camera.cx) * z / camera.fx, (uv[..., 1] - camera.cy) * z / camera.fy, z],
        axis=-1,
    )
    world = (cam - camera.translation) @ camera.rotation
    local = to_head_local(world, frames.positions[:, HEAD], frames.rotations[:, HEAD])
    try:
        face = LinearFaceModel.fit(local, poses[:, pl.JAW], None)
    except (InputError, np.linalg.LinAlgError):
        return None
    jaw = face.jaw_basis.copy()
    jaw[1:] = model.face.jaw_basis[1:]  # no evidence for sideways/forward jaw: keep the default
    return LinearFaceModel(face.mean, jaw, face.expression_basis)


def calibrate_speaker(
    keypoints: Sequence[Keypoints2D], width: int, height: int, config: FitConfig
) -> SpeakerCalibration:
    """Shape, camera, global orientation and face model of a speaker from their recordings'
    keypoints (the first recording places the camera)."""
    if not keypoints:
        raise InputError("no keypoints to calibrate the speaker from")
    rest = estimate_rest_joints(keypoints, max(config.min_confidence, 0.3))
    with torch_threads(config.threads):
        model, camera = calibrate_camera(
            OpenSkeletonModel.default().with_rest_joints(rest), keypoints[0], width, height, config
        )
        face = refit_face(model, camera, keypoints, config)
    if face is not None:
        model = OpenSkeletonModel(
            model.rest_joints, face, model.hand_basis, model.global_orient, model.translation
        )
    return SpeakerCalibration(model, camera, face is not None)
