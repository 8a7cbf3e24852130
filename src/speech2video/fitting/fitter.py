"""Per-frame pose fitting: the 106 parameters of every frame from its 2D keypoints (paper §3.2).

With the speaker's skeleton, global orientation and camera fixed (``speaker_calibration``), each
frame's pose vector minimises

    Σ_k w_part(k) · c_k · |π(X_k(θ)) − x_k|² / s²      confidence-weighted reprojection error
  + pose priors (``pose_prior``: mean pose, joint limits, hands, jaw, expression)
  + smoothness · Σ_t |θ_t − θ_{t−1}|²                 temporal smoothness

over the 55 joints and 51 face landmarks, where ``s`` is the image size of 10 cm at the body's
depth, so weights do not depend on the resolution. Frames are fitted in batches of
``batch_frames`` with L-BFGS (or Adam); each batch starts from the last pose of the previous
one (warm start) and is tied to it by the smoothness term. Eye rotations have no 2D
evidence and stay 0.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

import numpy as np

from speech2video.body import pose_layout as pl
from speech2video.body.camera import PinholeCamera
from speech2video.body.joint_tree import JOINT_INDEX, NUM_JOINTS
from speech2video.body.skeleton_model import OpenSkeletonModel
from speech2video.errors import InputError
from speech2video.fitting.keypoint_set import BODY_JOINTS, HAND_JOINTS, Keypoints2D
from speech2video.fitting.pose_prior import limit_bounds, mean_pose, prior_loss

if TYPE_CHECKING:
    import torch

#: Metres whose image size normalises the reprojection residuals.
RESIDUAL_UNIT = 0.1


@dataclass(frozen=True)
class FitConfig:
    """Fitting settings (the ``fit`` section of params.yaml, minus ``use_ground_truth``)."""

    iterations: int = 300
    lr: float = 0.05
    smoothness: float = 0.05
    batch_frames: int = 128
    init_frames: int = 10
    init_iterations: int = 150
    min_confidence: float = 0.2
    body_weight: float = 1.0
    hand_weight: float = 1.0
    face_weight: float = 1.0
    pose_prior: float = 2e-4
    limit_weight: float = 1.0
    hand_prior: float = 2e-4
    jaw_prior: float = 1e-4
    expression_prior: float = 2e-4
    face_model_frames: int = 120
    min_face_frames: int = 30
    seed: int = 0
    optimizer: str = "lbfgs"
    threads: int = 1

    def __post_init__(self) -> None:
        if self.optimizer not in ("adam", "lbfgs"):
            raise InputError(f"fit optimizer must be 'adam' or 'lbfgs'; got {self.optimizer!r}")
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, str):
                continue
            if not np.isfinite(value) or value < 0:
                raise InputError(f"fit setting {f.name} must be a number >= 0; got {value}")
        if self.iterations < 1 or self.batch_frames < 1 or self.init_frames < 1:
            raise InputError("fit iterations, batch_frames and init_frames must be >= 1")

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> FitConfig:
        """Build from a params dict; unknown keys are an error (``use_ground_truth`` ignored)."""
        known = {f.name: f.type for f in fields(cls)}
        values = {k: v for k, v in params.items() if k != "use_ground_truth"}
        unknown = set(values) - set(known)
        if unknown:
            raise InputError(f"unknown fit setting(s) {sorted(unknown)}; known: {sorted(known)}")
        defaults = cls()
        return cls(**{k: type(getattr(defaults, k))(v) for k, v in values.items()})

    def prior_weights(self) -> dict[str, float]:
        return {
            "body": self.pose_prior,
            "limits": self.limit_weight,
            "hands": self.hand_prior,
            "jaw": self.jaw_prior,
            "expression": self.expression_prior,
        }


@dataclass(frozen=True)
class PoseFit:
    """poses: (T, 106) float32 fitted pose vectors; errors: mean reprojection error in pixels
    per part (body, hands, face; None where nothing was observed)."""

    poses: np.ndarray
    errors: dict[str, float | None]


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run torch with ``n`` intra-op threads (0: leave as is), restoring the setting after."""
    import torch

    before = torch.get_num_threads()
    if n > 0:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def keypoint_weights(keypoints: Keypoints2D, config: FitConfig) -> np.ndarray:
    """(T, 106) float32 per-point weights: part weight × confidence (0 below min_confidence);
    columns are the 55 joints then the 51 landmarks."""
    part = np.zeros(NUM_JOINTS, np.float32)
    part[list(BODY_JOINTS)] = config.body_weight
    part[list(HAND_JOINTS)] = config.hand_weight
    part[JOINT_INDEX["jaw"]] = 0.0
    jc = np.where(keypoints.joint_conf >= config.min_confidence, keypoints.joint_conf, 0.0)
    lc = np.where(keypoints.landmark_conf >= config.min_confidence, keypoints.landmark_conf, 0.0)
    return np.concatenate([jc * part, lc * config.face_weight], axis=1).astype(np.float32)


def residual_scale(model: OpenSkeletonModel, camera: PinholeCamera) -> float:
    """Pixels spanned by :data:`RESIDUAL_UNIT` metres at the depth of the speaker's chest."""
    chest = model.forward(mean_pose()[None]).joints[0, JOINT_INDEX["spine3"]]
    depth = float(camera.depth(chest))
    if depth <= 0:
        raise InputError("the speaker is behind the camera; cannot fit")
    return camera.fx * RESIDUAL_UNIT / depth


def optimise(
    project: Callable[[torch.Tensor], torch.Tensor],
    init: np.ndarray,
    targets: np.ndarray,
    weights: np.ndarray,
    scale: float,
    config: FitConfig,
    iterations: int,
    anchor: np.ndarray | None = None,
    extra: Sequence[tuple[torch.Tensor, float]] = (),
    smooth: bool = True,
) -> np.ndarray:
    """Adam on pose vectors (and ``extra`` (tensor, lr) parameters ``project`` closes over).

    project: (T, 106) poses → (T, 106, 2) pixels (55 joints then 51 landmarks)
    init: (T, 106); targets: (T, 106, 2) px; weights: (T, 106); anchor: (106,) pose before
    frame 0 for the smoothness term, or None
    returns: (T, 106) float32 poses (eye columns 0)
    """
    import torch

    t = init.shape[0]
    params = torch.tensor(init, dtype=torch.float32, requires_grad=True)
    mask = torch.ones(pl.POSE_DIM)
    mask[pl.EYES] = 0.0
    target = torch.as_tensor(targets, dtype=torch.float32)
    w = torch.as_tensor(weights, dtype=torch.float32)
    mean = torch.as_tensor(mean_pose())
    lo, hi = (torch.as_tensor(a) for a in limit_bounds())
    prior_w = config.prior_weights()
    anchor_t = None if anchor is None else torch.as_tensor(anchor, dtype=torch.float32)[None]

    def objective() -> torch.Tensor:
        opt.zero_grad()
        poses = params * mask
        err = ((project(poses) - target) / scale).pow(2).sum(dim=-1)
        loss = (w * err).sum() + prior_loss(poses, mean, lo, hi, prior_w)
        if smooth and config.smoothness > 0:
            seq = poses if anchor_t is None else torch.cat([anchor_t, poses])
            loss = loss + config.smoothness * (seq[1:] - seq[:-1]).pow(2).sum()
        loss = loss / t
        loss.backward()
        return loss

    if config.optimizer == "lbfgs":
        opt: torch.optim.Optimizer = torch.optim.LBFGS(
            [params, *(p for p, _ in extra)],
            lr=1.0,
            max_iter=iterations,
            history_size=20,
            tolerance_grad=1e-9,
            tolerance_change=1e-12,
            line_search_fn="strong_wolfe",
        )
        opt.step(objective)
    else:
        groups = [{"params": [params], "lr": config.lr}]
        groups += [{"params": [p], "lr": lr} for p, lr in extra]
        opt = torch.optim.Adam(groups)
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda i: 1.0 - 0.9 * i / max(iterations - 1, 1)
        )
        for _ in range(iterations):
            objective()
            opt.step()
            sched.step()
    return (params.detach() * mask).numpy().astype(np.float32)


def projector(
    model: OpenSkeletonModel, camera: PinholeCamera
) -> Callable[[torch.Tensor], torch.Tensor]:
    """poses (T, 106) tensor → (T, 106, 2) pixels of the 55 joints then the 51 landmarks."""
    import torch

    def project(poses: torch.Tensor) -> torch.Tensor:
        out = model.forward_torch(poses)
        return camera.project_torch(torch.cat([out.joints, out.landmarks], dim=1))

    return project


def fit_poses(
    model: OpenSkeletonModel,
    camera: PinholeCamera,
    keypoints: Keypoints2D,
    config: FitConfig,
    init: np.ndarray | None = None,
) -> PoseFit:
    """Fit every frame's pose vector to its keypoints with the speaker state fixed.

    init: (106,) starting pose of the first batch, default :func:`pose_prior.mean_pose`
    returns: PoseFit with poses (T, 106)
    """
    import torch

    torch.manual_seed(config.seed)
    targets = np.concatenate([keypoints.joints, keypoints.landmarks], axis=1)
    weights = keypoint_weights(keypoints, config)
    scale = residual_scale(model, camera)
    project = projector(model, camera)
    start = mean_pose() if init is None else np.asarray(init, np.float32)
    anchor: np.ndarray | None = None
    out = []
    with torch.enable_grad(), torch_threads(config.threads):
        for a in range(0, keypoints.num_frames, config.batch_frames):
            b = min(a + config.batch_frames, keypoints.num_frames)
            batch = optimise(
                project,
                np.tile(start, (b - a, 1)),
                targets[a:b],
                weights[a:b],
                scale,
                config,
                config.iterations,
                anchor=anchor,
            )
            out.append(batch)
            start = anchor = batch[-1]
    poses = np.concatenate(out)
    return PoseFit(poses, reprojection_errors(model, camera, poses, keypoints, config))


def reprojection_errors(
    model: OpenSkeletonModel,
    camera: PinholeCamera,
    poses: np.ndarray,
    keypoints: Keypoints2D,
    config: FitConfig | None = None,
) -> dict[str, float | None]:
    """Mean pixel distance between projected and observed points, per part.

    body: joints 0-24 (jaw excluded); hands: the 30 finger joints; face: the 51 landmarks;
    only points with confidence ≥ ``config.min_confidence``.
    """
    min_conf = (config or FitConfig()).min_confidence
    out = model.forward(poses)
    joints = camera.project(out.joints)
    landmarks = camera.project(out.landmarks)
    jd = np.linalg.norm(joints - keypoints.joints, axis=-1)
    ld = np.linalg.norm(landmarks - keypoints.landmarks, axis=-1)
    body = [j for j in BODY_JOINTS if j != JOINT_INDEX["jaw"]]

    def mean(d: np.ndarray, conf: np.ndarray) -> float | None:
        ok = conf >= min_conf
        return float(d[ok].mean()) if np.any(ok) else None

    return {
        "body": mean(jd[:, body], keypoints.joint_conf[:, body]),
        "hands": mean(jd[:, list(HAND_JOINTS)], keypoints.joint_conf[:, list(HAND_JOINTS)]),
        "face": mean(ld, keypoints.landmark_conf),
    }
