"""Training the sequence-to-pose LSTM (paper §3.4): Adam, lr 0.001, batches of 100 windows.

Each batch holds ``batch_size`` random windows of ``window_s`` seconds of video frames. A window
of frames ``f0 .. f1`` feeds the input steps ``n(f0) .. step(f1)`` (``n(i) = floor(i * rate /
fps + 0.5)``, ``step(i) = n(i) + delay_steps``: the alignment of ``motion/lstm.py``) from a zero
LSTM state, and frame ``f``'s target is compared with the output at ``step(f)``. Inputs past
the end of the audio are the training mean (zero after normalisation), exactly as in
``SequenceToPoseLSTM.predict``. Validation runs whole utterances through ``predict``'s
alignment; the weights of the epoch with the lowest validation loss are kept.

No tracking library here: metrics go to ``callback(epoch, metrics)``.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from numbers import Real

import numpy as np
import torch

from speech2video.body.pose_layout import check_poses
from speech2video.errors import InputError
from speech2video.motion.losses import DEFAULT_SMOOTHNESS, PoseLoss
from speech2video.motion.lstm import SequenceToPoseLSTM, frame_steps, num_output_frames
from speech2video.motion.normalization import FeatureStats, feature_stats

MetricsCallback = Callable[[int, dict[str, float]], None]


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


@dataclass(frozen=True)
class DatasetSplit:
    """train: what is fitted; val: what picks the best epoch (None: no validation)."""

    train: PoseSequenceDataset
    val: PoseSequenceDataset | None


@dataclass(frozen=True)
class TrainConfig:
    """Training settings; the paper's are Adam, ``learning_rate`` 0.001, ``batch_size`` 100."""

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


@dataclass(frozen=True)
class TrainResult:
    """best_epoch: 1-based epoch whose weights the model now holds; history: metrics per epoch."""

    best_epoch: int
    best_loss: float
    history: tuple[dict[str, float], ...] = field(default_factory=tuple)
    stats: FeatureStats | None = None
    seconds: float = 0.0


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


def train_lstm(
    model: SequenceToPoseLSTM,
    dataset: PoseSequenceDataset,
    config: TrainConfig | None = None,
    callback: MetricsCallback | None = None,
) -> TrainResult:
    """Fit ``model`` in place on ``dataset``; the model ends holding the best epoch's weights.

    Sets the model's input normalisation from the training split. Deterministic for a given
    model initialisation and ``config.seed``. Metrics per epoch: ``loss``, ``loss_<group>``,
    ``loss_smoothness`` (training batches, mean), the same with a ``val_`` prefix, ``seconds``.
    """
    from tqdm.auto import tqdm

    cfg = config or TrainConfig()
    if dataset.input_dim != model.config.input_dim:
        raise InputError(
            f"dataset features are {dataset.input_dim}-D; the model takes {model.config.input_dim}"
        )
    started = time.perf_counter()
    split = dataset.split(cfg.val_fraction, cfg.seed)
    stats = split.train.stats()
    model.set_normalization(stats)
    prepared = [(_prepare(u, model, stats), u.fps) for u in split.train.utterances]
    items = [p for p, _ in prepared if p is not None]
    fps = [f for p, f in prepared if p is not None]
    if not items:
        raise InputError("the training data holds no usable frames (poses and audio overlap)")
    frames_per_window = max(2, round(cfg.window_s * float(np.mean(fps))))
    n_batches = cfg.batches_per_epoch or max(
        1, math.ceil(sum(len(p.steps) for p in items) / (cfg.batch_size * frames_per_window))
    )
    loss_fn = PoseLoss(cfg.loss_weights, cfg.smoothness)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.learning_rate)
    rng = np.random.default_rng(cfg.seed)
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
                pred = _gather(model(batch.inputs).poses, batch.index)
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
    finally:
        bar.close()
    assert best is not None
    model.load_state_dict(best[2])
    model.eval()
    return TrainResult(best[1], best[0], tuple(history), stats, time.perf_counter() - started)
