"""Scoring a pose model on held-out clips, beside its baselines and the fitted reference.

Systems scored on every clip (metric-name suffix in brackets):

- the model, fed the clip's inputs (no suffix);
- the speaker's mean pose held still (``_mean_pose``), the model fed shuffled inputs
  (``_shuffled``) and, when other recordings' inputs are given, the model fed another
  recording's audio of the same speaker (``_other_audio``): the baselines
  (``evaluation/baselines.py``);
- the fitted poses themselves (``_fitted``): the floor of the mouth error (the fitting's own
  reprojection error) and the reference diversity and beat consistency.

Clip metrics are combined over clips weighted by frames (the mouth error by detection confidence).
Names are flat, e.g. ``mouth_px``, ``mouth_px_shuffled``, ``pose_mae_hands_mean_pose``,
``diversity_body_fitted``, ``beat_consistency``; ``mouth_px_gain`` is
``1 - mouth_px / min(mouth_px_mean_pose, mouth_px_shuffled)``; ``mouth_shape_px`` (and its
``_gain``) is the same after aligning the mouth centroids: the mouth's shape without where head
and body motion put it. The speaker acceptance target (learned mouth motion beats both baselines
by 40 %) is ``mouth_shape_px_gain >= 0.4``. Per part, ``pose_mae_<part>_gain`` is
``1 - pose_mae_<part> / min(its baselines)`` (mean pose, other audio when scored, else shuffled);
``jaw_opening_corr`` is the correlation of the predicted with the true jaw opening.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from speech2video.errors import InputError
from speech2video.evaluation import baselines
from speech2video.evaluation import motion_metrics as mm

MODEL = "model"
MEAN_POSE = "mean_pose"
SHUFFLED = "shuffled"
OTHER_AUDIO = "other_audio"
FITTED = "fitted"
SUFFIX = {
    MODEL: "",
    MEAN_POSE: "_mean_pose",
    SHUFFLED: "_shuffled",
    OTHER_AUDIO: "_other_audio",
    FITTED: "_fitted",
}


@dataclass(frozen=True)
class HeldOutClip:
    """One held-out recording.

    inputs: {"audio": (T_in, 28), "text": (T_in, 128)} model inputs at 100 Hz (text optional)
    fitted: (T, 106) fitted poses at ``fps``
    mouth_detected: (T, 20, 2) detected mouth landmarks in pixels (MOUTH_LANDMARKS order), or None
    mouth_confidence: (T, 20) their confidences, or None
    words: timed words of the clip (key-pose timing), possibly empty
    """

    name: str
    inputs: dict[str, np.ndarray]
    fitted: np.ndarray
    fps: float
    mouth_detected: np.ndarray | None = None
    mouth_confidence: np.ndarray | None = None
    words: tuple = ()

    @property
    def num_frames(self) -> int:
        return int(self.fitted.shape[0])


@dataclass(frozen=True)
class MotionEvaluation:
    """metrics: flat name → value; predictions: clip name → the model's (T, 106) poses;
    mouth_opening: first clip with detections, system → (T,) inner-lip opening in pixels
    (plus "detected"); part_errors: system → part → MAE (the bar chart); jaw_opening: first
    clip, system → (T,) jaw opening in radians ("fitted" is the truth)."""

    metrics: dict[str, float]
    predictions: dict[str, np.ndarray]
    mouth_opening: dict[str, np.ndarray] = field(default_factory=dict)
    part_errors: dict[str, dict[str, float]] = field(default_factory=dict)
    jaw_opening: dict[str, np.ndarray] = field(default_factory=dict)


class _Accumulator:
    """Frame-weighted sums of per-clip values."""

    def __init__(self) -> None:
        self.sums: dict[str, float] = {}
        self.weights: dict[str, float] = {}

    def add(self, name: str, value: float, weight: float) -> None:
        if not np.isfinite(value) or weight <= 0:
            return
        self.sums[name] = self.sums.get(name, 0.0) + value * weight
        self.weights[name] = self.weights.get(name, 0.0) + weight

    def means(self) -> dict[str, float]:
        return {k: self.sums[k] / self.weights[k] for k in self.sums}


def _predict(model: object, features: np.ndarray, fps: float, num_frames: int) -> np.ndarray:
    poses = model.predict(features, fps)  # type: ignore[attr-defined]
    return mm.match_length(poses, num_frames)


def evaluate_motion(
    clips: Sequence[HeldOutClip],
    model: object,
    body_model: object,
    camera: object,
    mean_pose: np.ndarray | None,
    source: str = "audio",
    seed: int = 0,
    sigma_s: float = 0.1,
    prefix: str = "",
    other_inputs: Sequence[np.ndarray] = (),
) -> MotionEvaluation:
    """Score ``model`` (a ``SequenceToPoseLSTM``: ``predict(features, fps) -> (T, 106)``) on
    ``clips`` fed their ``inputs[source]``.

    mean_pose: (106,) the mean-pose baseline, or None to score no baselines (shuffled included)
    prefix: prepended to every metric name (e.g. ``"text_"``)
    other_inputs: (T_k, D) inputs of other recordings of the speaker (never the clip's own);
    clip ``i`` is scored fed ``other_inputs[i % K]`` cut (or tiled) to its own length
    """
    usable = [c for c in clips if source in c.inputs]
    if not usable:
        raise InputError(f"no held-out clip has {source} inputs")
    acc = _Accumulator()
    predictions: dict[str, np.ndarray] = {}
    opening: dict[str, np.ndarray] = {}
    systems = [MODEL, FITTED] + ([MEAN_POSE, SHUFFLED] if mean_pose is not None else [])
    if mean_pose is not None and other_inputs:
        systems.append(OTHER_AUDIO)
    jaw: dict[str, np.ndarray] = {}
    shown = next((c for c in usable if c.mouth_detected is not None), None)
    for i, clip in enumerate(usable):
        t = clip.num_frames
        poses = {MODEL: _predict(model, clip.inputs[source], clip.fps, t), FITTED: clip.fitted}
        if mean_pose is not None:
            poses[MEAN_POSE] = baselines.mean_pose_sequence(mean_pose, t)
            shuffled = baselines.shuffle_features(clip.inputs[source], seed + i)
            poses[SHUFFLED] = _predict(model, shuffled, clip.fps, t)
            if OTHER_AUDIO in systems:
                other = baselines.other_features(
                    other_inputs[i % len(other_inputs)], clip.inputs[source].shape[0]
                )
                poses[OTHER_AUDIO] = _predict(model, other, clip.fps, t)
        predictions[clip.name] = poses[MODEL]
        truth = mm.jaw_opening(clip.fitted)
        if i == 0:
            jaw = {system: mm.jaw_opening(poses[system]) for system in systems}
        onsets = mm.audio_onsets(clip.inputs["audio"]) if "audio" in clip.inputs else None
        for system in systems:
            sfx = SUFFIX[system]
            if system != FITTED:
                for part, err in mm.part_errors(poses[system], clip.fitted).items():
                    acc.add(f"{prefix}pose_mae_{part}{sfx}", err, t)
                corr = mm.correlation(mm.jaw_opening(poses[system]), truth)
                acc.add(f"{prefix}jaw_opening_corr{sfx}", corr, t)
            for part, div in mm.motion_diversity(poses[system]).items():
                acc.add(f"{prefix}diversity_{part}{sfx}", div, t)
            if onsets is not None:
                beats = mm.motion_beats(poses[system], clip.fps)
                acc.add(
                    f"{prefix}beat_consistency{sfx}", mm.beat_consistency(onsets, beats, sigma_s), t
                )
            if clip.mouth_detected is None:
                continue
            detected = clip.mouth_detected[:t]
            n = detected.shape[0]
            conf = (
                np.ones(detected.shape[:2])
                if clip.mouth_confidence is None
                else (clip.mouth_confidence[:n])
            )
            mouth = mm.project_mouth(poses[system][:n], body_model, camera)
            weight = float(np.clip(conf, 0, None).sum())
            acc.add(f"{prefix}mouth_px{sfx}", mm.mouth_pixel_error(mouth, detected, conf), weight)
            acc.add(
                f"{prefix}mouth_shape_px{sfx}", mm.mouth_shape_error(mouth, detected, conf), weight
            )
            if clip is shown:
                opening[system] = mm.mouth_opening(mouth)
                opening["detected"] = mm.mouth_opening(detected)
    metrics = acc.means()
    for name in ("mouth_px", "mouth_shape_px"):
        base = [metrics.get(f"{prefix}{name}{SUFFIX[s]}") for s in (MEAN_POSE, SHUFFLED)]
        base_f = [b for b in base if b is not None and b > 0]
        if f"{prefix}{name}" in metrics and base_f:
            metrics[f"{prefix}{name}_gain"] = 1.0 - metrics[f"{prefix}{name}"] / min(base_f)
    for part in mm.PARTS:
        name = f"{prefix}pose_mae_{part}"
        rivals = (MEAN_POSE, OTHER_AUDIO) if OTHER_AUDIO in systems else (MEAN_POSE, SHUFFLED)
        base = [metrics.get(f"{name}{SUFFIX[s]}") for s in rivals]
        base_f = [b for b in base if b is not None and b > 0]
        if name in metrics and base_f:
            metrics[f"{name}_gain"] = 1.0 - metrics[name] / min(base_f)
    metrics[f"{prefix}num_clips"] = float(len(usable))
    metrics[f"{prefix}num_frames"] = float(sum(c.num_frames for c in usable))
    part_errors = {
        system: {
            part: metrics[f"{prefix}pose_mae_{part}{SUFFIX[system]}"]
            for part in mm.PARTS
            if f"{prefix}pose_mae_{part}{SUFFIX[system]}" in metrics
        }
        for system in systems
        if system != FITTED
    }
    return MotionEvaluation(metrics, predictions, opening, part_errors, jaw)
