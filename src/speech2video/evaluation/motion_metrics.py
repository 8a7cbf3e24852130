"""Motion metrics: mouth keypoint pixel error, per-part pose error, diversity, beat consistency.

Definitions (all per clip; the evaluate stage averages clips weighted by frames):

- **Mouth keypoint pixel error** (paper Table 3): the 20 mouth landmarks
  (``joint_tree.MOUTH_LANDMARKS``) of the predicted poses, posed by the speaker's body model and
  projected by the speaker's camera, against the 2D mouth landmarks detected in the held-out
  frames; the Euclidean pixel distance averaged with the detection confidences as weights.
- **Per-part pose error**: mean absolute difference in the 106-float pose space against the
  fitted poses, per part: ``body`` (21 joints, axis-angle), ``hands`` (2 x 12 PCA), ``jaw``
  (axis-angle) and ``face`` (eyes + 10 expression coefficients).
- **Motion diversity** (L1 variance): the mean over frames of the L1 distance (sum over the
  part's columns) of each frame to the sequence's mean frame, per part. Zero for a still pose.
- **Jaw opening**: the jaw's rotation about its x axis (pose column 63, radians; SMPL-X opens the
  mouth by rotating the jaw about x). **Jaw-opening correlation**: Pearson's r between the
  predicted and the true jaw opening over a clip (0 when either is constant, e.g. a still pose):
  does the mouth open and close when the speaker's does, whatever the offset and scale.
- **Beat consistency**: how well body-motion beats line up with audio onsets.
  *Audio onsets*: the log mean volume (feature column 13) smoothed over 3 steps; its rise
  ``max(0, e[t] - e[t-1])`` is the onset strength; onsets are its peaks above
  ``mean + std`` of the strength, at least ``min_gap_s`` apart.
  *Motion beats*: body speed ``|body[t+1] - body[t]|_2`` (the 63 body columns, time
  ``(t + 0.5) / fps``); beats are its local minima (a gesture's stroke ending) with prominence of
  at least 10 % of the speed's range, ignoring minima in stretches slower than 5 % of the peak
  speed (stillness).
  *Score*: ``0.5 * (mean over onsets of g(distance to the nearest beat) + mean over beats of
  g(distance to the nearest onset))`` with ``g(d) = exp(-d^2 / (2 sigma^2))`` (sigma 0.1 s by
  default). 1 = every onset has a beat on it and every beat an onset; 0 when there are no beats
  (a still pose) or no onsets. Symmetric, so neither many beats nor many onsets saturate it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import find_peaks

from speech2video.body import pose_layout as pl
from speech2video.body.joint_tree import MOUTH_LANDMARKS
from speech2video.errors import InputError

#: Parts of the 106-float pose vector the per-part metrics report.
PARTS: dict[str, tuple[slice, ...]] = {
    "body": (pl.BODY,),
    "hands": (pl.HANDS,),
    "jaw": (pl.JAW,),
    "face": (pl.EYES, pl.EXPRESSION),
}
#: Pose column of the jaw's x rotation: the mouth's opening.
JAW_OPENING_COLUMN = pl.JAW.start
#: Feature column holding the log mean volume (audio/features.py).
LOG_VOLUME_COLUMN = 13
#: Positions of the inner-lip top and bottom midpoints within MOUTH_LANDMARKS (43-50 → 12-19).
INNER_UPPER_MID = MOUTH_LANDMARKS.index(45)
INNER_LOWER_MID = MOUTH_LANDMARKS.index(49)


def _part(poses: np.ndarray, part: str) -> np.ndarray:
    if part not in PARTS:
        raise InputError(f"unknown part {part!r}; expected one of {list(PARTS)}")
    return np.concatenate([poses[:, s] for s in PARTS[part]], axis=1)


def match_length(poses: np.ndarray, num_frames: int) -> np.ndarray:
    """Cut or extend (repeating the last frame) a (T, D) sequence to (num_frames, D)."""
    poses = np.asarray(poses, np.float32)
    if poses.shape[0] >= num_frames:
        return poses[:num_frames]
    if poses.shape[0] == 0:
        raise InputError("cannot extend an empty pose sequence")
    pad = np.repeat(poses[-1:], num_frames - poses.shape[0], axis=0)
    return np.concatenate([poses, pad], axis=0)


def part_errors(predicted: np.ndarray, target: np.ndarray) -> dict[str, float]:
    """Mean absolute error per part.

    predicted, target: (T, 106) pose vectors, the same T
    returns: {"body", "hands", "jaw", "face"} → float
    """
    predicted, target = pl.check_poses(predicted, "predicted"), pl.check_poses(target, "target")
    if predicted.shape != target.shape:
        raise InputError(f"predicted {predicted.shape} and target {target.shape} differ in shape")
    diff = np.abs(predicted - target)
    return {part: float(_part(diff, part).mean()) for part in PARTS}


def jaw_opening(poses: np.ndarray) -> np.ndarray:
    """(T, 106) pose vectors → (T,) float32 jaw opening, radians (module doc)."""
    return pl.check_poses(poses)[:, JAW_OPENING_COLUMN].copy()


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson's r of two (T,) series; 0.0 when either is constant or T < 2."""
    a, b = np.asarray(a, np.float64).reshape(-1), np.asarray(b, np.float64).reshape(-1)
    if a.shape != b.shape:
        raise InputError(f"correlation needs series of one length; got {a.shape} and {b.shape}")
    if a.size < 2:
        return 0.0
    da, db = a - a.mean(), b - b.mean()
    denom = float(np.sqrt((da * da).sum() * (db * db).sum()))
    return float((da * db).sum() / denom) if denom > 1e-12 else 0.0


def motion_diversity(poses: np.ndarray) -> dict[str, float]:
    """L1 variance per part: mean over frames of sum |frame - mean frame| over the part's columns.

    poses: (T, 106) → {"body", "hands", "jaw", "face"} → float
    """
    poses = pl.check_poses(poses)
    dev = np.abs(poses - poses.mean(axis=0, keepdims=True))
    return {part: float(_part(dev, part).sum(axis=1).mean()) for part in PARTS}


def project_mouth(poses: np.ndarray, body_model: object, camera: object) -> np.ndarray:
    """Mouth landmarks of pose vectors in pixels.

    poses: (T, 106); body_model: a ``BodyModel``; camera: anything with ``project((..., 3))``
    returns: (T, 20, 2) float32 — MOUTH_LANDMARKS order, pixels (x right, y down)
    """
    body = body_model.forward(pl.check_poses(poses))  # type: ignore[attr-defined]
    mouth = body.landmarks[:, list(MOUTH_LANDMARKS)]
    return np.asarray(camera.project(mouth), np.float32)  # type: ignore[attr-defined]


def mouth_pixel_error(
    predicted: np.ndarray, detected: np.ndarray, confidence: np.ndarray | None = None
) -> float:
    """Confidence-weighted mean Euclidean distance in pixels.

    predicted, detected: (T, M, 2) pixels; confidence: (T, M) weights >= 0 (None: all 1)
    returns: float; NaN when every weight is zero
    """
    predicted = np.asarray(predicted, np.float64)
    detected = np.asarray(detected, np.float64)
    if predicted.shape != detected.shape or predicted.ndim != 3 or predicted.shape[-1] != 2:
        raise InputError(
            f"predicted {predicted.shape} and detected {detected.shape} must both be (T, M, 2)"
        )
    w = np.ones(predicted.shape[:2]) if confidence is None else np.asarray(confidence, np.float64)
    if w.shape != predicted.shape[:2]:
        raise InputError(f"confidence must have shape {predicted.shape[:2]}; got {w.shape}")
    w = np.where(np.isfinite(w) & np.all(np.isfinite(detected), axis=-1), np.clip(w, 0, None), 0)
    dist = np.linalg.norm(np.nan_to_num(predicted - detected), axis=-1)
    total = float(w.sum())
    return float((w * dist).sum() / total) if total > 0 else float("nan")


def mouth_shape_error(
    predicted: np.ndarray, detected: np.ndarray, confidence: np.ndarray | None = None
) -> float:
    """:func:`mouth_pixel_error` after moving each frame's predicted mouth so its centroid
    lies on the detected mouth's centroid: the error of the mouth's shape (opening, width, lip
    rounding), without where the head puts the mouth.

    predicted, detected: (T, M, 2) pixels; confidence: (T, M) weights >= 0 (None: all 1)
    """
    predicted = np.asarray(predicted, np.float64)
    detected = np.asarray(detected, np.float64)
    if predicted.shape != detected.shape or predicted.ndim != 3:
        raise InputError(
            f"predicted {predicted.shape} and detected {detected.shape} must both be (T, M, 2)"
        )
    w = np.ones(predicted.shape[:2]) if confidence is None else np.asarray(confidence, np.float64)
    ok = np.isfinite(w) & np.all(np.isfinite(detected), axis=-1)
    w = np.where(ok, np.clip(w, 0, None), 0.0)
    total = w.sum(axis=1, keepdims=True)
    safe = np.where(total > 0, total, 1.0)[..., None]
    weights = w[..., None]
    centre_pred = (weights * predicted).sum(axis=1, keepdims=True) / safe
    centre_det = (weights * np.nan_to_num(detected)).sum(axis=1, keepdims=True) / safe
    return mouth_pixel_error(predicted - centre_pred + centre_det, detected, w)


def mouth_opening(mouth_px: np.ndarray) -> np.ndarray:
    """Inner-lip opening per frame: (T, 20, 2) mouth landmarks → (T,) pixels."""
    mouth = np.asarray(mouth_px, np.float32)
    return np.linalg.norm(mouth[:, INNER_UPPER_MID] - mouth[:, INNER_LOWER_MID], axis=-1)


def audio_onsets(features: np.ndarray, rate: float = 100.0, min_gap_s: float = 0.1) -> np.ndarray:
    """Onset times (seconds) from the features' log mean volume (definition: module doc).

    features: (T_in, 28) raw audio features at ``rate`` rows per second
    returns: (K,) float64 seconds, increasing
    """
    feats = np.asarray(features, np.float64)
    if feats.ndim != 2 or feats.shape[1] <= LOG_VOLUME_COLUMN:
        raise InputError(f"features must be (T, 28); got {feats.shape}")
    if feats.shape[0] < 3:
        return np.zeros(0)
    energy = np.convolve(feats[:, LOG_VOLUME_COLUMN], np.ones(3) / 3, mode="same")
    strength = np.maximum(0.0, np.diff(energy, prepend=energy[0]))
    threshold = strength.mean() + strength.std()
    if threshold <= 0:
        return np.zeros(0)
    peaks, _ = find_peaks(strength, height=threshold, distance=max(1, round(min_gap_s * rate)))
    return peaks / float(rate)


def motion_beats(poses: np.ndarray, fps: float) -> np.ndarray:
    """Beat times (seconds): local minima of body speed (definition: module doc).

    poses: (T, 106) at ``fps`` → (K,) float64 seconds
    """
    poses = pl.check_poses(poses)
    if poses.shape[0] < 3:
        return np.zeros(0)
    speed = np.linalg.norm(np.diff(poses[:, pl.BODY].astype(np.float64), axis=0), axis=1)
    peak = float(speed.max())
    if peak <= 1e-8:
        return np.zeros(0)
    minima, _ = find_peaks(-speed, prominence=0.1 * (peak - float(speed.min())))
    moving = np.array(
        [speed[max(0, i - 2) : i + 3].max() > 0.05 * peak for i in minima], dtype=bool
    )
    return (minima[moving] + 0.5) / float(fps)


def _nearest_score(times: np.ndarray, others: np.ndarray, sigma: float) -> float:
    if times.size == 0:
        return 0.0
    if others.size == 0:
        return 0.0
    d = np.abs(times[:, None] - others[None, :]).min(axis=1)
    return float(np.exp(-(d**2) / (2 * sigma**2)).mean())


def beat_consistency(onsets: np.ndarray, beats: np.ndarray, sigma_s: float = 0.1) -> float:
    """Symmetric Gaussian beat-alignment score in [0, 1] (definition: module doc).

    onsets, beats: (K1,), (K2,) seconds
    """
    if sigma_s <= 0:
        raise InputError(f"sigma_s must be > 0; got {sigma_s}")
    onsets, beats = np.asarray(onsets, np.float64), np.asarray(beats, np.float64)
    if onsets.size == 0 or beats.size == 0:
        return 0.0
    return 0.5 * (_nearest_score(onsets, beats, sigma_s) + _nearest_score(beats, onsets, sigma_s))


@dataclass(frozen=True)
class MotionScores:
    """Metrics of one pose sequence against a held-out clip.

    mouth_px: pixel error (NaN without detections); parts: per-part MAE vs the fitted poses;
    diversity: per-part L1 variance; beats: beat consistency with the clip's audio
    """

    mouth_px: float
    parts: dict[str, float]
    diversity: dict[str, float]
    beats: float


def score_motion(
    poses: np.ndarray,
    fitted: np.ndarray,
    mouth_detected: np.ndarray,
    mouth_confidence: np.ndarray,
    onsets: np.ndarray,
    fps: float,
    body_model: object,
    camera: object,
    sigma_s: float = 0.1,
) -> tuple[MotionScores, np.ndarray]:
    """All motion metrics of ``poses`` (T, 106) against a clip's fitted poses (T, 106), detected
    mouth landmarks (T, 20, 2) with confidences (T, 20) and audio onsets (seconds).

    returns: the scores and the projected mouth landmarks (T, 20, 2)
    """
    mouth = project_mouth(poses, body_model, camera)
    scores = MotionScores(
        mouth_px=mouth_pixel_error(mouth, mouth_detected, mouth_confidence),
        parts=part_errors(poses, fitted),
        diversity=motion_diversity(poses),
        beats=beat_consistency(onsets, motion_beats(poses, fps), sigma_s),
    )
    return scores, mouth
