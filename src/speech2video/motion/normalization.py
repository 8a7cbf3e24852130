"""Input normalisation statistics for the sequence-to-pose LSTM (paper §3.4).

The LSTM input is normalised by its mean and standard deviation over the training data; the
output (SMPL-X parameters) is not, so the loss weights keep their meaning.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from speech2video.errors import InputError

#: A column whose spread is below this is left unscaled (std taken as 1).
MIN_STD = 1e-6


@dataclass(frozen=True)
class FeatureStats:
    """Per-column statistics of the input features.

    mean: (D,) float32; std: (D,) float32, every entry >= MIN_STD
    """

    mean: np.ndarray
    std: np.ndarray

    @property
    def dim(self) -> int:
        return int(self.mean.shape[0])

    def normalize(self, features: np.ndarray) -> np.ndarray:
        """features: (T, D) → (T, D) float32, zero mean and unit spread per column."""
        return ((np.asarray(features, np.float32) - self.mean) / self.std).astype(np.float32)

    @classmethod
    def identity(cls, dim: int) -> FeatureStats:
        """Mean 0, std 1: normalisation that changes nothing."""
        return cls(np.zeros(dim, np.float32), np.ones(dim, np.float32))


def feature_stats(sequences: Sequence[np.ndarray]) -> FeatureStats:
    """Mean and standard deviation over all rows of all sequences.

    sequences: each (T_k, D) float — e.g. the training utterances' audio features
    """
    arrays = [np.asarray(s, np.float64) for s in sequences]
    if not arrays or sum(a.shape[0] for a in arrays) == 0:
        raise InputError("feature statistics need at least one row of features")
    dims = {a.shape[1] if a.ndim == 2 else -1 for a in arrays}
    if len(dims) != 1 or -1 in dims:
        raise InputError(f"feature sequences must all be (T, D) with one D; got widths {dims}")
    rows = np.concatenate(arrays, axis=0)
    mean = rows.mean(axis=0)
    std = rows.std(axis=0)
    std = np.where(std < MIN_STD, 1.0, std)
    return FeatureStats(mean.astype(np.float32), std.astype(np.float32))
