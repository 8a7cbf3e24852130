"""A linear readout of the mouth and face from a pretrained speech embedding (issue 11).

The paper's LSTM learns every part from 28 MFCC features; from minutes of a real speaker it
learns the body's rhythm but little of which sounds open the jaw. A model whose config names a
speech ``embedding`` (``audio/speech_embedding.py``) takes the embedding's columns after the
audio features; its LSTM still reads only the audio features, and a ridge regression from a
window of [audio features | embedding] rows around each frame predicts the ``readout_parts``
(``pose_layout.LOSS_GROUPS`` names; default the mouth and the face), replacing the LSTM's output
there in ``SequenceToPoseLSTM.predict``.

Frame ``i``'s window: the rows ``n(i) + o`` for the offsets ``o`` (steps) from
``-readout_context_s`` to ``+readout_context_s`` every ``readout_stride_s`` (``n(i)`` the frame's
input step, as in ``lstm.py``); rows before the start or past the end are the training mean (zero
after normalisation), as the LSTM pads. So the readout looks as far ahead as the LSTM's output
delay (200 ms) — but each embedding row has seen its whole encoder window, so it is for whole
utterances: a live stream (``pose_stream.py``) uses the LSTM's own mouth.

Fitting (:func:`fit_readout`, closed form): inputs standardised by the training rows; the ridge
strength is chosen from :data:`RIDGE_GRID` by the error on the validation windows (each part's
MAE in units of its spread); a part keeps the readout only where it beats the LSTM's output
there (else ``use`` is 0 and the LSTM's part stands); then the chosen strength is refitted on
training and validation data together. Without validation windows (``val_fraction: 0``) the
strength is ``RIDGE_GRID[2]`` and every part uses the readout.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from speech2video.body.pose_layout import LOSS_GROUPS, POSE_DIM
from speech2video.errors import InputError

if TYPE_CHECKING:
    from speech2video.motion.lstm import SequenceToPoseLSTM
    from speech2video.motion.pose_dataset import DatasetSplit, PoseSequenceDataset

#: Ridge strengths tried, per 1000 training frames (the penalty grows with the data).
RIDGE_GRID = (30.0, 100.0, 300.0, 1000.0, 3000.0, 10000.0)


def part_columns(parts: tuple[str, ...]) -> np.ndarray:
    """Pose columns (sorted) of the named loss parts; an unknown name is refused.

    returns: (P,) int64
    """
    cols: list[int] = []
    for name in parts:
        if name not in LOSS_GROUPS:
            raise InputError(f"unknown readout part {name!r}; expected some of {list(LOSS_GROUPS)}")
        for s in LOSS_GROUPS[name]:
            cols.extend(range(POSE_DIM)[s])
    return np.array(sorted(set(cols)), np.int64)


class SpeechReadout(nn.Module):
    """Buffers of the fitted readout; ``ready`` is 0 until :func:`fit_readout` has run.

    in_mean, in_std: (C,) standardisation of the C = audio + embedding input columns
    weight: (K * C, P) for K offsets and P pose columns; bias: (P,); use: (P,) 1 where the
    readout replaces the LSTM's output
    """

    def __init__(self, in_columns: int, offsets: np.ndarray, columns: np.ndarray) -> None:
        super().__init__()
        self.offsets = np.asarray(offsets, np.int64)
        self.columns = np.asarray(columns, np.int64)
        k, p = len(self.offsets), len(self.columns)
        self.register_buffer("in_mean", torch.zeros(in_columns))
        self.register_buffer("in_std", torch.ones(in_columns))
        self.register_buffer("weight", torch.zeros(k * in_columns, p))
        self.register_buffer("bias", torch.zeros(p))
        self.register_buffer("use", torch.zeros(p))
        self.register_buffer("ready", torch.zeros(1))

    @property
    def is_ready(self) -> bool:
        return bool(self.ready.item() > 0)

    def design(self, rows: np.ndarray, centers: np.ndarray) -> np.ndarray:
        """Standardised windows of input rows around each frame.

        rows: (T, C) raw audio + embedding columns; centers: (F,) input step of each frame
        returns: (F, K * C) float64 (zero where a window leaves the rows)
        """
        mean = self.in_mean.numpy().astype(np.float64)
        std = self.in_std.numpy().astype(np.float64)
        z = np.vstack([(rows - mean) / std, np.zeros((1, rows.shape[1]))])
        index = centers[:, None] + self.offsets[None, :]
        index = np.where((index < 0) | (index >= rows.shape[0]), rows.shape[0], index)
        return z[index].reshape(len(centers), -1)

    def apply(self, poses: np.ndarray, rows: np.ndarray, centers: np.ndarray) -> np.ndarray:
        """Replace the used columns of ``poses`` (F, 106) in place by the readout; return it."""
        if not self.is_ready or len(centers) == 0:
            return poses
        pred = self.design(rows, centers) @ self.weight.numpy() + self.bias.numpy()
        used = self.use.numpy() > 0
        poses[:, self.columns[used]] = pred[:, used]
        return poses


@dataclass(frozen=True)
class ReadoutFit:
    """ridge: the chosen strength (per 1000 frames); val_error / lstm_error: per part, the
    validation MAE in units of the part's spread (readout / the LSTM's); used: parts kept;
    curve: (strength, validation error summed over the parts) for each strength tried."""

    ridge: float
    val_error: dict[str, float]
    lstm_error: dict[str, float]
    used: tuple[str, ...]
    curve: tuple[tuple[float, float], ...] = ()


def _frames(model: SequenceToPoseLSTM, data: PoseSequenceDataset
            ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """(X (F, K*C) design, Y (F, P) targets) over the usable frames of ``data``."""
    from speech2video.motion.lstm import frame_steps

    cfg, readout = model.config, model.readout
    xs, ys = [], []
    for u in data.utterances:
        n = u.usable_frames(data.input_rate)
        if n == 0:
            continue
        centers = frame_steps(n, u.fps, cfg) - cfg.delay_steps
        xs.append(readout.design(u.features[:, cfg.readout_input], centers))
        ys.append(u.poses[:n, readout.columns].astype(np.float64))
    if not xs:
        raise InputError("the readout's data holds no usable frames")
    return np.concatenate(xs), np.concatenate(ys)


def _lstm_frames(model: SequenceToPoseLSTM, data: PoseSequenceDataset) -> np.ndarray:
    """(F, P) the LSTM's (readout not yet fitted) output on the frames :func:`_frames` uses."""
    cols = model.readout.columns
    return np.concatenate([
        model.predict(u.features, u.fps)[: u.usable_frames(data.input_rate), cols]
        for u in data.utterances
    ]).astype(np.float64)  # fmt: skip


def _ridge_path(x: np.ndarray, y: np.ndarray, strengths: list[float]) -> list[np.ndarray]:
    """Ridge weights (D, P) of centred ``x`` (F, D), ``y`` (F, P) for each strength."""
    if x.shape[0] >= x.shape[1]:
        evals, vecs = np.linalg.eigh(x.T @ x)
        proj = vecs.T @ (x.T @ y)
        return [vecs @ (proj / (evals + lam)[:, None]) for lam in strengths]
    evals, vecs = np.linalg.eigh(x @ x.T)  # fewer frames than columns: the dual form
    proj = vecs.T @ y
    return [x.T @ (vecs @ (proj / (evals + lam)[:, None])) for lam in strengths]


def _part_errors(pred: np.ndarray, true: np.ndarray, columns: np.ndarray,
                 scale: np.ndarray, parts: tuple[str, ...]) -> dict[str, float]:  # fmt: skip
    """Per part, the MAE over its columns divided by its spread."""
    out = {}
    for name in parts:
        mask = np.isin(columns, part_columns((name,)))
        out[name] = float(np.mean(np.abs(pred[:, mask] - true[:, mask]) / scale[mask]))
    return out


def fit_readout(model: SequenceToPoseLSTM, split: DatasetSplit) -> ReadoutFit:
    """Fit ``model.readout`` in place (procedure: module doc) after its LSTM is trained."""
    from speech2video.motion.normalization import feature_stats
    from speech2video.motion.training import group_scales

    cfg, readout = model.config, model.readout
    stats = feature_stats([u.features[:, cfg.readout_input] for u in split.train.utterances])
    with torch.no_grad():
        readout.in_mean.copy_(torch.from_numpy(stats.mean))
        readout.in_std.copy_(torch.from_numpy(stats.std))
    x, y = _frames(model, split.train)
    scale = group_scales(np.concatenate([u.poses for u in split.train.utterances]))
    scale = scale[readout.columns].astype(np.float64)
    parts = cfg.readout_parts
    chosen, val_err, lstm_err, used = RIDGE_GRID[2], {}, {}, parts
    curve: tuple[tuple[float, float], ...] = ()
    if split.val is not None:
        xv, yv = _frames(model, split.val)
        per_frame = x.shape[0] / 1000.0
        weights = _ridge_path(x - x.mean(0), y - y.mean(0), [g * per_frame for g in RIDGE_GRID])
        scores = []
        for w in weights:
            pred = (xv - x.mean(0)) @ w + y.mean(0)
            scores.append(_part_errors(pred, yv, readout.columns, scale, parts))
        curve = tuple((g, sum(s.values())) for g, s in zip(RIDGE_GRID, scores, strict=True))
        best = int(np.argmin([err for _, err in curve]))
        chosen, val_err = RIDGE_GRID[best], scores[best]
        lstm_err = _part_errors(_lstm_frames(model, split.val), yv, readout.columns, scale, parts)
        used = tuple(p for p in parts if val_err[p] < lstm_err[p])
        x, y = np.concatenate([x, xv]), np.concatenate([y, yv])  # refit on all the data
    w = _ridge_path(x - x.mean(0), y - y.mean(0), [chosen * x.shape[0] / 1000.0])[0]
    mask = np.isin(readout.columns, part_columns(used)) if used else np.zeros(len(scale), bool)
    with torch.no_grad():
        readout.weight.copy_(torch.from_numpy(w.astype(np.float32)))
        readout.bias.copy_(torch.from_numpy((y.mean(0) - x.mean(0) @ w).astype(np.float32)))
        readout.use.copy_(torch.from_numpy(mask.astype(np.float32)))
        readout.ready.fill_(1.0)
    return ReadoutFit(chosen, val_err, lstm_err, used, curve)
