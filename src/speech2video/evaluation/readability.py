"""Do generated frames read as a person? Face, hands and mouth checked by a keypoint detector.

No downloaded network is needed: the project's own detector (mediapipe's pose, hand and face
landmarkers, ``fitting.keypoint_detector``) looks at generated and real frames alike.

- **Detection rates**: the share of frames in which the face is found, and both hands. The
  generated frames' rate over the real frames' rate says how much of the person the renderer
  keeps readable (a renderer that smears hands into blobs scores low).
- **Mouth agreement** (a lip-sync check): the inner-lip opening the face landmarker measures on
  each generated frame (``|upper − lower inner-lip midpoint| / outer-eye-corner distance``,
  free of the face's size) correlated over time with the jaw opening the driving pose asks for
  (its jaw x rotation). The same correlation on the real frames, against the poses fitted to
  them, is the ceiling the measurement itself allows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from speech2video.body import pose_layout as pl
from speech2video.body.joint_tree import LEFT_HAND_JOINTS, RIGHT_HAND_JOINTS
from speech2video.errors import InputError

#: Landmark indices (of the 51) of the inner-lip midpoints and the outer eye corners.
INNER_UPPER, INNER_LOWER = 45, 49
EYE_OUTER_RIGHT, EYE_OUTER_LEFT = 19, 28
JAW_OPENING_COLUMN = pl.JAW.start


@dataclass(frozen=True)
class FrameParts:
    """Per frame: face found, both hands found, mouth opening (NaN without a face)."""

    face: np.ndarray  # (N,) bool
    hands: np.ndarray  # (N,) bool
    mouth: np.ndarray  # (N,) float

    @property
    def face_rate(self) -> float:
        return float(self.face.mean()) if self.face.size else 0.0

    @property
    def hands_rate(self) -> float:
        return float(self.hands.mean()) if self.hands.size else 0.0


def detect_parts(frames: Sequence[np.ndarray], fps: float) -> FrameParts:
    """Run the keypoint detector over consecutive frames (H, W, 3) uint8 RGB at ``fps``."""
    from speech2video.fitting.keypoint_detector import KeypointDetector

    if not frames:
        raise InputError("no frames to detect parts in")
    with KeypointDetector() as detector:
        kp = detector.detect_frames(frames, fps)
    face = kp.landmark_conf.max(axis=1) > 0
    left = kp.joint_conf[:, list(LEFT_HAND_JOINTS)].max(axis=1) > 0
    right = kp.joint_conf[:, list(RIGHT_HAND_JOINTS)].max(axis=1) > 0
    lm = kp.landmarks.astype(np.float64)
    gap = np.linalg.norm(lm[:, INNER_UPPER] - lm[:, INNER_LOWER], axis=-1)
    eyes = np.linalg.norm(lm[:, EYE_OUTER_RIGHT] - lm[:, EYE_OUTER_LEFT], axis=-1)
    mouth = np.where(face & (eyes > 1e-6), gap / np.maximum(eyes, 1e-6), np.nan)
    return FrameParts(face, left & right, mouth)


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation over the frames where both are finite (0 when either is constant
    there, NaN with fewer than 3 such frames)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3:
        return float("nan")
    a, b = a[ok] - a[ok].mean(), b[ok] - b[ok].mean()
    denom = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / denom) if denom > 1e-12 else 0.0


def readability(
    generated: Sequence[np.ndarray],
    real: Sequence[np.ndarray],
    driving_poses: np.ndarray,
    fps: float,
) -> dict[str, float]:
    """Detection rates on generated and real frames and mouth agreement (module doc).

    generated, real: N frames each, (H, W, 3) uint8 RGB, in time order; driving_poses: (N, 106)
    the poses the generated frames were rendered from (for held-out frames: fitted to the real).
    """
    poses = np.asarray(driving_poses, np.float64)
    if not (len(generated) == len(real) == poses.shape[0]) or poses.shape[1:] != (pl.POSE_DIM,):
        raise InputError(
            f"need as many generated frames, real frames and (N, {pl.POSE_DIM}) poses; got "
            f"{len(generated)}, {len(real)}, {poses.shape}"
        )
    gen, ref = detect_parts(generated, fps), detect_parts(real, fps)
    jaw = poses[:, JAW_OPENING_COLUMN]
    both = lambda p: p.face & p.hands  # noqa: E731
    real_rate = float(both(ref).mean())
    gen_rate = float(both(gen).mean())
    return {
        "detect_face_generated": gen.face_rate,
        "detect_face_real": ref.face_rate,
        "detect_hands_generated": gen.hands_rate,
        "detect_hands_real": ref.hands_rate,
        "detect_all_generated": gen_rate,
        "detect_all_real": real_rate,
        "detect_all_ratio": gen_rate / real_rate if real_rate > 0 else float("nan"),
        "mouth_pose_corr": correlation(gen.mouth, jaw),
        "mouth_pose_corr_real": correlation(ref.mouth, jaw),
    }
