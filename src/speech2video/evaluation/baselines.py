"""Baselines the learned motion is shown beside (the issue's "side by side").

- **Mean pose**: the speaker's mean fitted pose over the *training* recordings, held still for
  the whole clip: what a model that ignores the audio would best do under an L2 loss.
- **Shuffled audio**: the model itself fed the clip's audio feature rows permuted in time
  (seeded): the same spectrum and loudness statistics without the timing. A model that beats it
  uses the timing of speech, not just the voice.
- **Other audio**: the model fed another recording of the same speaker (other words), cut or
  tiled to the clip's length: the same voice and speaking style, the wrong speech. A model that
  beats it follows what is said, not the speaker's average motion.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from speech2video.body import pose_layout as pl
from speech2video.errors import InputError


def mean_pose(training_poses: Sequence[np.ndarray]) -> np.ndarray:
    """Frame-weighted mean of pose sequences: [(T_i, 106)] → (106,) float32."""
    if not training_poses:
        raise InputError("the mean-pose baseline needs at least one training pose sequence")
    stacked = np.concatenate([pl.check_poses(p) for p in training_poses], axis=0)
    return stacked.astype(np.float64).mean(axis=0).astype(np.float32)


def mean_pose_sequence(pose: np.ndarray, num_frames: int) -> np.ndarray:
    """(106,) → (num_frames, 106) float32, the pose held still."""
    pose = np.asarray(pose, np.float32).reshape(1, -1)
    if pose.shape[1] != pl.POSE_DIM:
        raise InputError(f"mean pose must have {pl.POSE_DIM} values; got {pose.shape[1]}")
    return np.repeat(pose, int(num_frames), axis=0)


def shuffle_features(features: np.ndarray, seed: int = 0) -> np.ndarray:
    """Feature rows permuted in time within the clip.

    features: (T_in, D) → (T_in, D), the same rows in the order ``default_rng(seed).permutation``
    """
    feats = np.asarray(features)
    if feats.ndim != 2:
        raise InputError(f"features must be (T, D); got {feats.shape}")
    order = np.random.default_rng(seed).permutation(feats.shape[0])
    return feats[order].copy()


def other_features(features: np.ndarray, num_steps: int) -> np.ndarray:
    """Another recording's inputs fitted to ``num_steps`` rows: cut, or tiled when shorter.

    features: (T_other, D) → (num_steps, D)
    """
    feats = np.asarray(features)
    if feats.ndim != 2 or feats.shape[0] == 0:
        raise InputError(f"other-audio features must be non-empty (T, D); got {feats.shape}")
    reps = -(-int(num_steps) // feats.shape[0])
    return np.tile(feats, (reps, 1))[: int(num_steps)].copy()
