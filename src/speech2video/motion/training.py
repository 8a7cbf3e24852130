"""Training the sequence-to-pose LSTM (paper §3.4): Adam, lr 0.001, batches of 100 windows.

Each batch holds ``batch_size`` random windows of ``window_s`` seconds of video frames. A window
of frames ``f0 .. f1`` feeds the input steps ``n(f0) .. step(f1)`` (``n(i) = floor(i * rate /
fps + 0.5)``, ``step(i) = n(i) + delay_steps``: the alignment of ``motion/lstm.py``) from a zero
LSTM state, and frame ``f``'s target is compared with the output at ``step(f)``. Inputs past
the end of the audio are the training mean (zero after normalisation), exactly as in
``SequenceToPoseLSTM.predict``. Validation runs whole utterances through ``predict``'s
alignment; the weights of the epoch with the lowest validation loss are kept.

For minutes of real speech (where a fixed budget memorises, issue 11) the budget is set by
convergence: validation on held-out windows (``val_block_s``: every k-th block of the recording,
so validation covers the whole of it), early stopping after ``patience`` epochs without a better
validation loss, a learning-rate schedule (``lr_schedule``: ``plateau`` halves it after
``lr_patience`` epochs without progress, ``cosine`` anneals it over ``epochs``), and
regularisation: dropout between the LSTM layers (``LSTMConfig.dropout``), Gaussian noise of
``feature_noise`` standard deviations on the normalised audio inputs, and ``weight_decay``
(AdamW). A model with phonetic input (``LSTMConfig.phones``) keeps its one-hot phone columns
unnormalised and noise-free.
``target_normalization: part`` measures each part's error in units of its own spread in the
training targets (``group_scales``) and makes the model predict targets on that scale (stored in
the model, so it still outputs raw SMPL-X parameters). ``shrink_to_mean`` then scales each part's
motion toward the training mean pose by a factor fitted on the validation windows
(``motion/calibration.py``). A model with a speech embedding then has its readout of the mouth
and face fitted (``motion/readout.py``). Defaults are the paper's plain training.

No tracking library here: metrics go to ``callback(epoch, metrics)``.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from speech2video.body.pose_layout import LOSS_GROUPS, POSE_DIM
from speech2video.errors import InputError
from speech2video.motion.calibration import apply_shrinkage, part_shrinkage
from speech2video.motion.losses import DEFAULT_SMOOTHNESS, PoseLoss
from speech2video.motion.lstm import SequenceToPoseLSTM, frame_steps
from speech2video.motion.normalization import FeatureStats
from speech2video.motion.pose_dataset import DatasetSplit, PoseSequenceDataset, Utterance
from speech2video.motion.readout import ReadoutFit, fit_readout

__all__ = [
    "DatasetSplit",
    "PoseSequenceDataset",
    "TrainConfig",
    "TrainResult",
    "Utterance",
    "evaluate",
    "group_scales",
    "train_lstm",
]

MetricsCallback = Callable[[int, dict[str, float]], None]
LR_SCHEDULES = ("constant", "plateau", "cosine")
TARGET_NORMALIZATIONS = ("none", "part")
#: A part whose spread in the training targets is below this is left unscaled.
MIN_PART_SCALE = 1e-4


@dataclass(frozen=True)
class TrainConfig:
    """Training settings; the paper's are Adam, ``learning_rate`` 0.001, ``batch_size`` 100.

    The rest (module doc): ``patience`` (None: run all ``epochs``), ``lr_schedule``,
    ``lr_factor``/``lr_patience`` (plateau), ``weight_decay``, ``feature_noise``,
    ``target_normalization``, ``val_block_s`` (None: ``PoseSequenceDataset.split``, the end).
    """

    epochs: int = 20
    batch_size: int = 100
    learning_rate: float = 1e-3
    window_s: float = 4.0
    batches_per_epoch: int | None = None
    val_fraction: float = 0.1
    seed: int = 0
    smoothness: float = DEFAULT_SMOOTHNESS
    loss_weights: dict[str, float] | None = None
    grad_clip: float | None = 1.0
    progress: bool = True
    patience: int | None = None
    lr_schedule: str = "constant"
    lr_factor: float = 0.5
    lr_patience: int = 3
    weight_decay: float = 0.0
    feature_noise: float = 0.0
    target_normalization: str = "none"
    val_block_s: float | None = None
    shrink_to_mean: bool = False

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size"):
            if int(getattr(self, name)) < 1:
                raise InputError(f"TrainConfig.{name} must be >= 1; got {getattr(self, name)}")
        if self.batches_per_epoch is not None and self.batches_per_epoch < 1:
            raise InputError(
                f"TrainConfig.batches_per_epoch must be >= 1 or None; got {self.batches_per_epoch}"
            )
        if not self.learning_rate > 0:
            raise InputError(f"TrainConfig.learning_rate must be > 0; got {self.learning_rate}")
        if not self.window_s > 0:
            raise InputError(f"TrainConfig.window_s must be > 0; got {self.window_s}")
        if self.patience is not None and self.patience < 1:
            raise InputError(f"TrainConfig.patience must be >= 1 or None; got {self.patience}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise InputError(
                f"TrainConfig.lr_schedule must be one of {LR_SCHEDULES}; got {self.lr_schedule!r}"
            )
        if self.target_normalization not in TARGET_NORMALIZATIONS:
            raise InputError(
                f"TrainConfig.target_normalization must be one of {TARGET_NORMALIZATIONS}; "
                f"got {self.target_normalization!r}"
            )
        if not 0.0 < self.lr_factor < 1.0 or self.lr_patience < 1:
            raise InputError("TrainConfig.lr_factor must be in (0, 1) and lr_patience >= 1")
        if self.weight_decay < 0 or self.feature_noise < 0:
            raise InputError("TrainConfig.weight_decay and feature_noise must be >= 0")
        if self.val_block_s is not None and not self.val_block_s > 0:
            raise InputError(f"TrainConfig.val_block_s must be > 0 or None; got {self.val_block_s}")

    @classmethod
    def from_params(cls, params: dict[str, object]) -> TrainConfig:
        """From a params mapping; keys this class lacks are ignored (they are the model's)."""
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in params.items() if k in known})  # type: ignore[arg-type]


def group_scales(poses: np.ndarray) -> np.ndarray:
    """Each loss part's spread, per column: the RMS over the part's columns of their std.

    poses: (T, 106) training targets → (106,) float32, >= MIN_PART_SCALE (1 where a part is still)
    Columns of one part share one scale, so their relative sizes within the part are kept.
    """
    std = np.asarray(poses, np.float64).std(axis=0)
    out = np.ones(POSE_DIM, np.float32)
    for slices in LOSS_GROUPS.values():
        cols = np.concatenate([np.arange(POSE_DIM)[s] for s in slices])
        rms = float(np.sqrt(np.mean(np.square(std[cols]))))
        out[cols] = rms if rms >= MIN_PART_SCALE else 1.0
    return out


@dataclass(frozen=True)
class TrainResult:
    """best_epoch: 1-based epoch whose weights the model now holds; history: metrics per epoch;
    shrinkage: the per-part factors toward the mean pose (empty without ``shrink_to_mean``);
    readout: how the speech-embedding readout was fitted (None without one)."""

    best_epoch: int
    best_loss: float
    history: tuple[dict[str, float], ...] = field(default_factory=tuple)
    stats: FeatureStats | None = None
    seconds: float = 0.0
    shrinkage: dict[str, float] = field(default_factory=dict)
    readout: ReadoutFit | None = None


@dataclass(frozen=True)
class _Prepared:
    """inputs: (S, D) features padded with the mean; steps: (F,) output step of each frame."""

    inputs: np.ndarray
    poses: np.ndarray
    steps: np.ndarray
    starts: np.ndarray


def _prepare(u: Utterance, model: SequenceToPoseLSTM, stats: FeatureStats) -> _Prepared | None:
    cfg = model.config
    frames = u.usable_frames(cfg.input_rate)
    if frames == 0:
        return None
    steps = frame_steps(frames, u.fps, cfg)
    length = max(int(steps[-1]) + 1, u.features.shape[0])
    inputs = np.empty((length, cfg.input_dim), np.float32)
    inputs[: u.features.shape[0]] = u.features
    inputs[u.features.shape[0] :] = stats.mean
    return _Prepared(inputs, u.poses[:frames], steps, steps - cfg.delay_steps)


@dataclass(frozen=True)
class _WindowBatch:
    """inputs: (B, S, D); targets: (B, F, 106); index: (B, F) output step of each frame in its
    window; mask: (B, F) bool, False where a short window is padded."""

    inputs: torch.Tensor
    targets: torch.Tensor
    index: torch.Tensor
    mask: torch.Tensor


def _batch(
    items: list[_Prepared], fps: list[float], config: TrainConfig, rng: np.random.Generator
) -> _WindowBatch:
    """``config.batch_size`` random windows, utterances picked in proportion to their frames."""
    weights = np.array([len(p.steps) for p in items], np.float64)
    picks = rng.choice(len(items), size=config.batch_size, p=weights / weights.sum())
    windows = []
    for k in picks:
        p = items[k]
        span = min(len(p.steps), max(2, round(config.window_s * fps[k])))
        f0 = int(rng.integers(0, len(p.steps) - span + 1))
        a, b = int(p.starts[f0]), int(p.steps[f0 + span - 1]) + 1
        windows.append((p.inputs[a:b], p.poses[f0 : f0 + span], p.steps[f0 : f0 + span] - a))
    s_max = max(w[0].shape[0] for w in windows)
    f_max = max(w[1].shape[0] for w in windows)
    dim = windows[0][0].shape[1]
    x = np.empty((len(windows), s_max, dim), np.float32)
    y = np.zeros((len(windows), f_max, windows[0][1].shape[1]), np.float32)
    gather = np.zeros((len(windows), f_max), np.int64)
    mask = np.zeros((len(windows), f_max), bool)
    for i, (inp, pose, idx) in enumerate(windows):
        x[i, : len(inp)] = inp
        x[i, len(inp) :] = inp[-1]
        y[i, : len(pose)] = pose
        gather[i, : len(idx)] = idx
        mask[i, : len(idx)] = True
    return _WindowBatch(
        torch.from_numpy(x), torch.from_numpy(y), torch.from_numpy(gather), torch.from_numpy(mask)
    )


def _gather(poses: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """poses: (B, S, P), index: (B, F) → (B, F, P)."""
    return torch.gather(poses, 1, index[..., None].expand(-1, -1, poses.shape[-1]))


def evaluate(
    model: SequenceToPoseLSTM, dataset: PoseSequenceDataset, loss: PoseLoss
) -> dict[str, float]:
    """Loss of whole utterances (predict's alignment), frame-weighted over the dataset."""
    totals: dict[str, float] = {}
    count = 0
    stats = model.stats
    model.eval()
    with torch.inference_mode():
        for u in dataset.utterances:
            p = _prepare(u, model, stats)
            if p is None:
                continue
            out = model(torch.from_numpy(p.inputs[None, : int(p.steps[-1]) + 1])).poses
            pred = out[0, torch.from_numpy(p.steps)]
            terms = loss(pred, torch.from_numpy(p.poses)).as_floats()
            n = len(p.steps)
            for key, value in terms.items():
                totals[key] = totals.get(key, 0.0) + value * n
            count += n
    if count == 0:
        raise InputError("the validation data holds no usable frames")
    return {key: value / count for key, value in totals.items()}


def _input_stats(train: PoseSequenceDataset, phone_dim: int) -> FeatureStats:
    """The training inputs' mean and std; one-hot phone columns (the last ``phone_dim``) are
    left as they are (mean 0, std 1), so a rare phone is not blown up to tens of units."""
    stats = train.stats()
    if phone_dim == 0:
        return stats
    mean, std = stats.mean.copy(), stats.std.copy()
    mean[-phone_dim:], std[-phone_dim:] = 0.0, 1.0
    return FeatureStats(mean, std)


def _split(dataset: PoseSequenceDataset, cfg: TrainConfig) -> DatasetSplit:
    if cfg.val_block_s is not None and cfg.val_fraction > 0:
        return dataset.split_blocks(cfg.val_fraction, cfg.val_block_s, cfg.seed)
    return dataset.split(cfg.val_fraction, cfg.seed)


def _scheduler(
    optimizer: torch.optim.Optimizer, cfg: TrainConfig
) -> torch.optim.lr_scheduler.LRScheduler | torch.optim.lr_scheduler.ReduceLROnPlateau | None:
    if cfg.lr_schedule == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, factor=cfg.lr_factor, patience=cfg.lr_patience
        )
    if cfg.lr_schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=cfg.epochs)
    return None


def train_lstm(
    model: SequenceToPoseLSTM,
    dataset: PoseSequenceDataset,
    config: TrainConfig | None = None,
    callback: MetricsCallback | None = None,
) -> TrainResult:
    """Fit ``model`` in place on ``dataset``; the model ends holding the best epoch's weights.

    Sets the model's input normalisation from the training split (and, with
    ``target_normalization: part``, its output scale). Deterministic for a given model
    initialisation and ``config.seed``. Metrics per epoch: ``loss``, ``loss_<group>``,
    ``loss_smoothness`` (training batches, mean), the same with a ``val_`` prefix, ``lr``,
    ``seconds``. Stops early after ``patience`` epochs without a lower validation loss.
    """
    from tqdm.auto import tqdm

    cfg = config or TrainConfig()
    if dataset.input_dim != model.config.input_dim:
        raise InputError(
            f"dataset features are {dataset.input_dim}-D; the model takes {model.config.input_dim}"
        )
    started = time.perf_counter()
    split = _split(dataset, cfg)
    stats = _input_stats(split.train, model.config.phone_dim)
    model.set_normalization(stats)
    scale = None
    if cfg.target_normalization == "part":
        targets = np.concatenate([u.poses for u in split.train.utterances])
        scale = group_scales(targets)
        model.set_output_normalization(targets.mean(axis=0), scale)
    prepared = [(_prepare(u, model, stats), u.fps) for u in split.train.utterances]
    items = [p for p, _ in prepared if p is not None]
    fps = [f for p, f in prepared if p is not None]
    if not items:
        raise InputError("the training data holds no usable frames (poses and audio overlap)")
    frames_per_window = max(2, round(cfg.window_s * float(np.mean(fps))))
    n_batches = cfg.batches_per_epoch or max(
        1, math.ceil(sum(len(p.steps) for p in items) / (cfg.batch_size * frames_per_window))
    )
    loss_fn = PoseLoss(cfg.loss_weights, cfg.smoothness, scale)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=cfg.learning_rate, weight_decay=cfg.weight_decay
    )
    scheduler = _scheduler(optimizer, cfg)
    rng = np.random.default_rng(cfg.seed)
    noise = torch.Generator().manual_seed(cfg.seed)
    history: list[dict[str, float]] = []
    best: tuple[float, int, dict] | None = None
    bar = tqdm(total=cfg.epochs * n_batches, disable=not cfg.progress, desc="train lstm")
    try:
        for epoch in range(1, cfg.epochs + 1):
            t0 = time.perf_counter()
            model.train()
            sums: dict[str, float] = {}
            for _ in range(n_batches):
                batch = _batch(items, fps, cfg, rng)
                inputs = batch.inputs
                if cfg.feature_noise > 0:  # on the audio columns the LSTM reads, not the
                    # one-hot phones nor a speech embedding (so its LSTM trains as without one)
                    audio = model.config.lstm_input_dim - model.config.phone_dim
                    jitter = torch.randn((*inputs.shape[:-1], audio), generator=noise)
                    pad = (0, inputs.shape[-1] - audio)
                    jitter = nn.functional.pad(jitter * cfg.feature_noise, pad)
                    inputs = inputs + jitter * model.input_std
                pred = _gather(model(inputs).poses, batch.index)
                terms = loss_fn(pred, batch.targets, batch.mask)
                optimizer.zero_grad(set_to_none=True)
                terms.total.backward()
                if cfg.grad_clip is not None:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
                optimizer.step()
                for key, value in terms.as_floats().items():
                    sums[key] = sums.get(key, 0.0) + value / n_batches
                bar.update(1)
                bar.set_postfix(epoch=epoch, loss=f"{float(terms.total.detach()):.4g}")
            metrics = dict(sums)
            metrics["lr"] = float(optimizer.param_groups[0]["lr"])
            if split.val is not None:
                val = evaluate(model, split.val, loss_fn)
                metrics.update({f"val_{k}": v for k, v in val.items()})
            metrics["seconds"] = time.perf_counter() - t0
            history.append(metrics)
            if callback is not None:
                callback(epoch, dict(metrics))
            score = metrics["val_loss"] if split.val is not None else metrics["loss"]
            if best is None or score < best[0]:
                best = (score, epoch, copy.deepcopy(model.state_dict()))
            if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                scheduler.step(score)
            elif scheduler is not None:
                scheduler.step()
            if cfg.patience is not None and epoch - best[1] >= cfg.patience:
                break
    finally:
        bar.close()
    assert best is not None
    model.load_state_dict(best[2])
    model.eval()
    alphas: dict[str, float] = {}
    if cfg.shrink_to_mean and split.val is not None:
        mean = np.concatenate([u.poses for u in split.train.utterances]).mean(axis=0)
        alphas = part_shrinkage(model, split.val, mean)
        apply_shrinkage(model, alphas, mean)
    readout = fit_readout(model, split) if model.readout is not None else None
    return TrainResult(
        best[1], best[0], tuple(history), stats, time.perf_counter() - started, alphas, readout
    )
