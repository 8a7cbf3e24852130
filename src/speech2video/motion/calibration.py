"""Shrinking each part's predicted motion toward the training mean, fitted on held-out data.

From minutes of speech some parts are barely predictable from audio (on real mocap: hands and
much of the face), and a model that moves them where the speaker did not pays for every wrong
guess, while a still mean pose pays for none. Per loss part ``g`` (``pose_layout.LOSS_GROUPS``)
with the training mean pose ``m``, the calibrated output is::

    pose'[t, c] = m[c] + alpha_g * (pose[t, c] - m[c])
    alpha_g     = clip(Σ (p - m)·(y - m) / Σ (p - m)², ALPHA_MIN, 1)    over held-out frames

the least-squares factor on the validation windows (never on data scored later). ``alpha`` = 1
keeps the model's motion, a small one falls back to the mean pose for that part. It is folded
into the model's output scale (``SequenceToPoseLSTM.set_output_normalization``), so a saved
model carries it and streaming gives the same poses.
"""

from __future__ import annotations

import numpy as np

from speech2video.body.pose_layout import LOSS_GROUPS, POSE_DIM
from speech2video.errors import InputError
from speech2video.motion.lstm import SequenceToPoseLSTM
from speech2video.motion.pose_dataset import PoseSequenceDataset

#: Smallest factor kept (the output scale must stay > 0): effectively the mean pose.
ALPHA_MIN = 1e-3


def part_shrinkage(
    model: SequenceToPoseLSTM, held_out: PoseSequenceDataset, mean: np.ndarray
) -> dict[str, float]:
    """The factor ``alpha`` per loss part (formula: module doc) on ``held_out`` utterances.

    mean: (106,) the training mean pose
    """
    mean = np.asarray(mean, np.float64).reshape(-1)
    if mean.shape != (POSE_DIM,):
        raise InputError(f"mean pose must have {POSE_DIM} values; got {mean.shape}")
    num = np.zeros(POSE_DIM)
    den = np.zeros(POSE_DIM)
    for u in held_out.utterances:
        n = u.usable_frames(held_out.input_rate)
        if n == 0:
            continue
        pred = model.predict(u.features, u.fps)[:n].astype(np.float64) - mean
        true = u.poses[:n].astype(np.float64) - mean
        num += (pred * true).sum(axis=0)
        den += (pred * pred).sum(axis=0)
    alphas = {}
    for name, slices in LOSS_GROUPS.items():
        cols = np.concatenate([np.arange(POSE_DIM)[s] for s in slices])
        d = float(den[cols].sum())
        alphas[name] = float(np.clip(num[cols].sum() / d, ALPHA_MIN, 1.0)) if d > 0 else 1.0
    return alphas


def apply_shrinkage(model: SequenceToPoseLSTM, alphas: dict[str, float], mean: np.ndarray) -> None:
    """Fold per-part ``alphas`` toward ``mean`` (106,) into the model's output scale, in place."""
    scale = np.ones(POSE_DIM, np.float32)
    for name, slices in LOSS_GROUPS.items():
        for s in slices:
            scale[s] = float(alphas.get(name, 1.0))
    mean = np.asarray(mean, np.float32).reshape(-1)
    out_mean = model.output_mean.detach().cpu().numpy()
    out_std = model.output_std.detach().cpu().numpy()
    model.set_output_normalization(scale * out_mean + (1.0 - scale) * mean, scale * out_std)
