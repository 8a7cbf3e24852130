"""A speaker's aligned (features, poses) utterances for the sequence-to-pose LSTM, and splits.

Validation data is cut in time, never drawn from random frames: neighbouring frames are nearly
equal, so a frame-level split would measure memory, not generalisation. ``split`` holds out the
last part of a single utterance, or whole utterances; ``split_blocks`` holds out every k-th block
of ``block_s`` seconds of each utterance (spread over the recording, one gap-free block each).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from numbers import Real

import numpy as np

from speech2video.body.pose_layout import check_poses
from speech2video.errors import InputError
from speech2video.motion.lstm import num_output_frames
from speech2video.motion.normalization import FeatureStats, feature_stats


@dataclass(frozen=True)
class Utterance:
    """One aligned recording.

    features: (T_in, D) float32 at the model's input rate; poses: (T_out, 106) float32 at ``fps``
    """

    features: np.ndarray
    poses: np.ndarray
    fps: float
    name: str = ""

    def __post_init__(self) -> None:
        label = self.name or "utterance"
        feats = np.asarray(self.features)
        if feats.ndim != 2 or not np.issubdtype(feats.dtype, np.number):
            raise InputError(f"{label}: features must be a numeric (T, D) array; got {feats.shape}")
        if not np.all(np.isfinite(feats)):
            raise InputError(f"{label}: features contain NaN or infinite values")
        fps_ok = isinstance(self.fps, Real) and not isinstance(self.fps, bool)
        if not fps_ok or not math.isfinite(self.fps) or self.fps <= 0:
            raise InputError(f"{label}: fps must be a positive number; got {self.fps!r}")
        object.__setattr__(self, "features", feats.astype(np.float32, copy=False))
        object.__setattr__(self, "poses", check_poses(self.poses, f"{label}: poses"))
        object.__setattr__(self, "fps", float(self.fps))

    def usable_frames(self, input_rate: float) -> int:
        """Frames that both the poses and the audio cover."""
        covered = num_output_frames(self.features.shape[0], self.fps, input_rate)
        return min(self.poses.shape[0], covered)


class PoseSequenceDataset:
    """Aligned (features, poses, fps) utterances of one speaker."""

    def __init__(
        self,
        utterances: Sequence[Utterance | tuple[np.ndarray, np.ndarray, float]],
        input_rate: float = 100.0,
    ) -> None:
        items = [u if isinstance(u, Utterance) else Utterance(*u) for u in utterances]
        if not items:
            raise InputError("the dataset needs at least one utterance")
        dims = sorted({u.features.shape[1] for u in items})
        if len(dims) != 1:
            raise InputError(f"all utterances need one feature width; got widths {dims}")
        self.utterances: list[Utterance] = items
        self.input_rate = float(input_rate)

    def __len__(self) -> int:
        return len(self.utterances)

    def __getitem__(self, index: int) -> Utterance:
        return self.utterances[index]

    @property
    def input_dim(self) -> int:
        return int(self.utterances[0].features.shape[1])

    @property
    def num_frames(self) -> int:
        """Usable frames over all utterances."""
        return sum(u.usable_frames(self.input_rate) for u in self.utterances)

    def stats(self) -> FeatureStats:
        """Input mean and std over every feature row (for the model's normalisation)."""
        return feature_stats([u.features for u in self.utterances])

    def split(self, val_fraction: float, seed: int = 0) -> DatasetSplit:
        """Hold out about ``val_fraction`` of the data for validation.

        With several utterances whole utterances are held out (chosen by ``seed``); a single
        utterance is cut in time, its last ``val_fraction`` of frames held out.
        """
        if not 0.0 <= val_fraction < 1.0:
            raise InputError(f"val_fraction must be in [0, 1); got {val_fraction}")
        if val_fraction == 0.0:
            return DatasetSplit(self, None)
        if len(self.utterances) >= 2:
            order = np.random.default_rng(seed).permutation(len(self.utterances))
            n_val = min(len(order) - 1, max(1, round(val_fraction * len(order))))
            val = [self.utterances[i] for i in sorted(order[:n_val])]
            train = [self.utterances[i] for i in sorted(order[n_val:])]
            return DatasetSplit(
                PoseSequenceDataset(train, self.input_rate),
                PoseSequenceDataset(val, self.input_rate),
            )
        u = self.utterances[0]
        frames = u.usable_frames(self.input_rate)
        cut = math.floor(frames * (1.0 - val_fraction))
        if cut < 2 or frames - cut < 2:
            raise InputError(f"{u.name or 'utterance'} is too short ({frames} frames) to split")
        step = math.floor(cut * self.input_rate / u.fps + 0.5)
        first = Utterance(u.features[:step], u.poses[:cut], u.fps, f"{u.name}[train]")
        second = Utterance(u.features[step:], u.poses[cut:frames], u.fps, f"{u.name}[val]")
        return DatasetSplit(
            PoseSequenceDataset([first], self.input_rate),
            PoseSequenceDataset([second], self.input_rate),
        )

    def split_blocks(self, val_fraction: float, block_s: float, seed: int = 0) -> DatasetSplit:
        """Hold out every k-th block of ``block_s`` seconds, counting blocks over all utterances.

        ``k = round(1 / val_fraction)``; the first held-out block is chosen by ``seed``. Each
        utterance is cut into blocks (the last one may be shorter); training keeps the stretches
        between held-out blocks as utterances of their own, so no training window spans one.
        """
        if not 0.0 < val_fraction < 1.0:
            raise InputError(f"block split: val_fraction must be in (0, 1); got {val_fraction}")
        if not block_s > 0:
            raise InputError(f"block_s must be > 0 seconds; got {block_s}")
        every = max(2, round(1.0 / val_fraction))
        offset = int(np.random.default_rng(seed).integers(0, every))
        blocks = []  # (utterance, first frame, end frame)
        for u in self.utterances:
            frames = u.usable_frames(self.input_rate)
            size = max(2, round(block_s * u.fps))
            blocks += [(u, f0, min(frames, f0 + size)) for f0 in range(0, frames, size)]
        if len(blocks) < 2:
            raise InputError(
                f"the data ({len(blocks)} block) is shorter than two blocks of {block_s:g} s"
            )
        held = [(k % every) == (offset % min(every, len(blocks))) for k in range(len(blocks))]
        train: list[Utterance] = []
        val: list[Utterance] = []
        run: tuple[Utterance, int, int] | None = None
        for (u, f0, f1), out in zip(blocks, held, strict=True):
            if run is not None and (out or run[0] is not u):
                train.append(_cut(run[0], run[1], run[2], self.input_rate, "train"))
                run = None
            if out:
                val.append(_cut(u, f0, f1, self.input_rate, "val"))
            else:
                run = (u, run[1] if run is not None else f0, f1)
        if run is not None:
            train.append(_cut(run[0], run[1], run[2], self.input_rate, "train"))
        train = [t for t in train if t.poses.shape[0] >= 2]
        val = [v for v in val if v.poses.shape[0] >= 2]
        if not train or not val:
            raise InputError("the block split left no training or no validation frames")
        return DatasetSplit(
            PoseSequenceDataset(train, self.input_rate), PoseSequenceDataset(val, self.input_rate)
        )


def _cut(u: Utterance, f0: int, f1: int, rate: float, tag: str) -> Utterance:
    """Frames ``f0 .. f1`` of ``u`` with the input steps they start at (alignment: lstm.py).

    The features run on to the utterance's end (the 200 ms look-ahead reads past ``f1``)."""
    s0 = math.floor(f0 * rate / u.fps + 0.5)
    s1 = min(u.features.shape[0], math.floor(f1 * rate / u.fps + 0.5) + math.ceil(rate))
    return Utterance(u.features[s0:s1], u.poses[f0:f1], u.fps, f"{u.name}[{tag}{f0}:{f1}]")


@dataclass(frozen=True)
class DatasetSplit:
    """train: what is fitted; val: what picks the best epoch (None: no validation)."""

    train: PoseSequenceDataset
    val: PoseSequenceDataset | None
