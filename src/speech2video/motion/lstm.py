"""The sequence-to-pose LSTM (paper §3.4): 2-layer unidirectional LSTM, 300 cells, 200 ms delay.

Audio-driven (28-D features at 100 Hz, :func:`audio_to_pose_config`) and text-driven variants
share this one class; only ``input_dim`` (and perhaps ``input_rate``) differ.

Time alignment. The LSTM runs at the input rate (100 steps per second for audio). The pose of
video frame ``i`` (time ``i / fps``) is read from the LSTM output at input step::

    step(i) = floor(i * input_rate / fps + 0.5) + delay_steps
    delay_steps = floor(delay_s * input_rate + 0.5)

so with the paper's 200 ms delay the network has seen 20 steps (200 ms) of audio past the
frame's time when it emits that frame's pose. At the end, the input is padded with the
normalised-zero vector (the raw training mean) for as many steps as the last frame needs.
A sequence of ``T_in`` input steps gives ``num_frames = floor(T_in / input_rate * fps + 0.5)``
frames. The input is normalised inside the model by stored ``input_mean``/``input_std``
buffers (set from the training data). The output is raw SMPL-X parameters: the linear head's
output is scaled back by stored ``output_mean``/``output_std`` buffers (identity by default and in
checkpoints written before they existed), so a model trained on targets normalised per part
(``training.TrainConfig.target_normalization``) still emits the 106-float contract.
``dropout`` acts between the LSTM layers in training only (0: the paper's model).

Phonetic input (``phones``, empty: none, the paper's model): the last ``phone_dim`` input columns
are a one-hot phone (or viseme) per step from forced alignment of the spoken words
(``audio/phones.py``), after the 28 audio features; ``audio_to_pose_config(phones="viseme")``
sizes ``input_dim`` for it. Whoever feeds the model builds its rows with
:func:`model_inputs`, which needs the words when ``phones`` is set.

Saved as ``config.json`` (this dataclass) and ``weights.safetensors`` (the state dict, buffers
included): no pickled code.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from numbers import Real
from pathlib import Path

import numpy as np
import torch
from torch import nn

from speech2video.audio.io import Audio
from speech2video.body.pose_layout import POSE_DIM
from speech2video.errors import InputError, NotFoundError
from speech2video.motion.normalization import MIN_STD, FeatureStats
from speech2video.motion.words import Word

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "weights.safetensors"
FORMAT = "speech2video.sequence_to_pose_lstm/1"
#: Buffers a checkpoint may lack (written before they existed): they load as identity.
OPTIONAL_BUFFERS = ("output_mean", "output_std")
#: Audio feature columns (paper §3.4: 13 MFCC + log volume, and their differences).
AUDIO_DIM = 28


@dataclass(frozen=True)
class LSTMConfig:
    """Shape and timing of a :class:`SequenceToPoseLSTM` (defaults: the paper's audio model)."""

    input_dim: int = 28
    hidden: int = 300
    layers: int = 2
    output_dim: int = POSE_DIM
    delay_s: float = 0.2
    input_rate: float = 100.0
    dropout: float = 0.0
    phones: str = ""

    def __post_init__(self) -> None:
        for name in ("input_dim", "hidden", "layers", "output_dim"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise InputError(f"LSTMConfig.{name} must be a positive integer; got {value!r}")
        if not _finite(self.delay_s) or self.delay_s < 0:
            raise InputError(f"LSTMConfig.delay_s must be >= 0 seconds; got {self.delay_s!r}")
        if not _finite(self.input_rate) or self.input_rate <= 0:
            raise InputError(f"LSTMConfig.input_rate must be > 0 Hz; got {self.input_rate!r}")
        if not _finite(self.dropout) or not 0.0 <= self.dropout < 1.0:
            raise InputError(f"LSTMConfig.dropout must be in [0, 1); got {self.dropout!r}")
        if self.phones and self.input_dim <= self.phone_dim:
            raise InputError(
                f"LSTMConfig.input_dim {self.input_dim} leaves no audio columns beside the "
                f"{self.phone_dim} {self.phones!r} phone columns"
            )

    @property
    def phone_dim(self) -> int:
        """Phonetic input columns at the end of each input row (0 without ``phones``)."""
        if not self.phones:
            return 0
        from speech2video.audio.phones import phone_dim

        return phone_dim(self.phones)

    @property
    def delay_steps(self) -> int:
        """The output delay in input steps (200 ms at 100 Hz = 20)."""
        return math.floor(self.delay_s * self.input_rate + 0.5)

    def to_dict(self) -> dict[str, float | int | str]:
        """The fields as JSON values; ``phones`` only when set (older readers do not know it)."""
        out = asdict(self)
        if not self.phones:
            del out["phones"]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> LSTMConfig:
        """Inverse of :meth:`to_dict`; unknown keys are refused by name."""
        if not isinstance(data, dict):
            raise InputError(f"LSTM config must be a JSON object; got {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InputError(f"unknown LSTM config key(s) {unknown}; expected {sorted(known)}")
        return cls(**data)  # type: ignore[arg-type]


def audio_to_pose_config(**overrides: float | int | str) -> LSTMConfig:
    """The paper's audio model: 28-D features at 100 Hz → 106 pose parameters.

    With ``phones`` (``cmu`` or ``viseme``) the input is the 28 features plus that encoding's
    one-hot columns, unless ``input_dim`` is given.
    """
    base: dict[str, object] = {"input_dim": AUDIO_DIM, "input_rate": 100.0}
    base.update(overrides)
    if base.get("phones") and "input_dim" not in overrides:
        from speech2video.audio.phones import phone_dim

        base["input_dim"] = AUDIO_DIM + phone_dim(str(base["phones"]))
    return LSTMConfig(**base)  # type: ignore[arg-type]


def model_inputs(
    config: LSTMConfig,
    features: np.ndarray,
    audio: Audio | None = None,
    words: Sequence[Word] | None = None,
) -> np.ndarray:
    """A model's input rows: the audio features, with the phonetic columns when it has them.

    features: (T, 28) float32 audio features (``audio.features.compute_features``)
    audio, words: the speech and its timed words; needed only when ``config.phones`` is set
    returns: (T, config.input_dim) float32
    """
    feats = np.asarray(features, np.float32)
    if not config.phones:
        return feats
    if audio is None or words is None:
        raise InputError(
            f"this audio-to-pose model takes {config.phones!r} phonetic input: it needs the "
            "speech's timed words (a transcript, or the recogniser's words)"
        )
    from speech2video.audio.phones import phone_features

    phones = phone_features(audio, words, feats.shape[0], config.phones)
    return np.concatenate([feats, phones], axis=1)


def num_output_frames(num_steps: int, fps: float, input_rate: float) -> int:
    """Video frames covered by ``num_steps`` input steps: floor(num_steps / rate * fps + 0.5)."""
    _check_fps(fps)
    return math.floor(num_steps * fps / input_rate + 0.5)


def frame_steps(num_frames: int, fps: float, config: LSTMConfig) -> np.ndarray:
    """Input step whose LSTM output is each frame's pose.

    returns: (num_frames,) int64 — floor(i * input_rate / fps + 0.5) + delay_steps
    """
    _check_fps(fps)
    i = np.arange(num_frames, dtype=np.float64)
    return np.floor(i * config.input_rate / fps + 0.5).astype(np.int64) + config.delay_steps


@dataclass(frozen=True)
class LSTMState:
    """Recurrent state carried between calls.

    h, c: (layers, B, hidden) float32
    """

    h: torch.Tensor
    c: torch.Tensor


@dataclass(frozen=True)
class SequenceOutput:
    """poses: (B, T, output_dim) float32 — one per input step; state: after the last step."""

    poses: torch.Tensor
    state: LSTMState


class SequenceToPoseLSTM(nn.Module):
    """Input features (normalised inside) → LSTM → linear head → pose vectors per input step."""

    def __init__(self, config: LSTMConfig | None = None) -> None:
        super().__init__()
        self.config = config or LSTMConfig()
        c = self.config
        dropout = c.dropout if c.layers > 1 else 0.0
        self.lstm = nn.LSTM(c.input_dim, c.hidden, c.layers, batch_first=True, dropout=dropout)
        self.head = nn.Linear(c.hidden, c.output_dim)
        self.register_buffer("input_mean", torch.zeros(c.input_dim))
        self.register_buffer("input_std", torch.ones(c.input_dim))
        self.register_buffer("output_mean", torch.zeros(c.output_dim))
        self.register_buffer("output_std", torch.ones(c.output_dim))

    @property
    def stats(self) -> FeatureStats:
        """The stored input normalisation."""
        return FeatureStats(
            self.input_mean.detach().cpu().numpy().copy(),
            self.input_std.detach().cpu().numpy().copy(),
        )

    def set_normalization(self, stats: FeatureStats) -> None:
        """Store the training data's input mean and std (D,) in the model's buffers."""
        if stats.dim != self.config.input_dim:
            raise InputError(
                f"normalisation has {stats.dim} columns; the model takes {self.config.input_dim}"
            )
        with torch.no_grad():
            self.input_mean.copy_(torch.as_tensor(stats.mean, dtype=torch.float32))
            self.input_std.copy_(torch.as_tensor(np.maximum(stats.std, MIN_STD)))

    def set_output_normalization(self, mean: np.ndarray, std: np.ndarray) -> None:
        """Store the targets' mean and scale (output_dim,): poses = head(h) * std + mean."""
        mean = np.asarray(mean, np.float32).reshape(-1)
        std = np.asarray(std, np.float32).reshape(-1)
        n = self.config.output_dim
        if mean.shape != (n,) or std.shape != (n,):
            raise InputError(
                f"output normalisation needs ({n},) mean and std; got {mean.shape}, {std.shape}"
            )
        if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(std)) and np.all(std > 0)):
            raise InputError("output normalisation: mean must be finite and std finite and > 0")
        with torch.no_grad():
            self.output_mean.copy_(torch.from_numpy(mean))
            self.output_std.copy_(torch.from_numpy(std))

    def decode(self, hidden: torch.Tensor) -> torch.Tensor:
        """LSTM outputs (..., hidden) → poses (..., output_dim) in raw SMPL-X units."""
        return self.head(hidden) * self.output_std + self.output_mean

    def forward(self, features: torch.Tensor, state: LSTMState | None = None) -> SequenceOutput:
        """features: (B, T, input_dim) raw (unnormalised) → poses (B, T, output_dim)."""
        x = (features - self.input_mean) / self.input_std
        hc = None if state is None else (state.h, state.c)
        out, (h, c) = self.lstm(x, hc)
        return SequenceOutput(self.decode(out), LSTMState(h, c))

    def padding_row(self) -> torch.Tensor:
        """(input_dim,) raw input that normalises to zero: what pads the end of a sequence."""
        return self.input_mean.detach().clone()

    @torch.inference_mode()
    def predict(self, features: np.ndarray, fps: float) -> np.ndarray:
        """Poses at the video frame rate for one whole input sequence.

        features: (T_in, input_dim) float — raw inputs at ``input_rate``
        returns: (round(T_in / input_rate * fps), output_dim) float32 (alignment: module doc)
        """
        x = self.check_features(features)
        n_frames = num_output_frames(x.shape[0], fps, self.config.input_rate)
        if n_frames == 0:
            return np.zeros((0, self.config.output_dim), np.float32)
        steps = frame_steps(n_frames, fps, self.config)
        length = int(steps[-1]) + 1
        inputs = torch.empty((1, max(length, x.shape[0]), self.config.input_dim))
        inputs[0, : x.shape[0]] = torch.from_numpy(x)
        inputs[0, x.shape[0] :] = self.padding_row()
        x_in = (inputs[:, :length] - self.input_mean) / self.input_std
        was_training = self.training
        self.eval()  # no dropout when predicting
        out = self.lstm(x_in)[0]
        self.train(was_training)
        poses = self.decode(out[0, torch.from_numpy(steps)])  # only the frames' steps
        return poses.numpy().astype(np.float32, copy=True)

    def check_features(self, features: np.ndarray) -> np.ndarray:
        """Validate ``features`` as (T, input_dim) finite floats; return float32."""
        arr = np.asarray(features)
        if arr.ndim != 2 or arr.shape[1] != self.config.input_dim:
            raise InputError(
                f"features must have shape (T, {self.config.input_dim}); got {arr.shape}"
            )
        if not np.issubdtype(arr.dtype, np.number) or not np.all(np.isfinite(arr)):
            raise InputError("features must be finite numbers (no NaN or infinity)")
        return np.ascontiguousarray(arr, dtype=np.float32)

    def save(self, directory: str | Path) -> Path:
        """Write ``config.json`` and ``weights.safetensors`` into ``directory``; return it."""
        from safetensors.torch import save_file

        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        meta = {"format": FORMAT, "config": self.config.to_dict()}
        (out / CONFIG_FILE).write_text(json.dumps(meta, indent=2) + "\n")
        state = {k: v.detach().cpu().contiguous() for k, v in self.state_dict().items()}
        save_file(state, str(out / WEIGHTS_FILE), metadata={"format": FORMAT})
        return out

    @classmethod
    def load(cls, directory: str | Path) -> SequenceToPoseLSTM:
        """Read a model written by :meth:`save` (no code is unpickled); in eval mode."""
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        src = Path(directory)
        config_path, weights_path = src / CONFIG_FILE, src / WEIGHTS_FILE
        for path in (config_path, weights_path):
            if not path.is_file():
                raise NotFoundError(f"LSTM model file not found: {path}")
        try:
            meta = json.loads(config_path.read_text())
        except json.JSONDecodeError as exc:
            raise InputError(f"{config_path} is not valid JSON: {exc}") from exc
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise InputError(f"{config_path} has format {meta.get('format')!r}; need {FORMAT!r}")
        model = cls(LSTMConfig.from_dict(meta.get("config", {})))
        try:
            state = load_file(str(weights_path))
        except (SafetensorError, OSError) as exc:
            raise InputError(f"{weights_path} is not a readable safetensors file: {exc}") from exc
        expected = model.state_dict()
        for key in OPTIONAL_BUFFERS:  # checkpoints older than the output normalisation
            state.setdefault(key, expected[key].clone())
        missing = sorted(set(expected) - set(state))
        extra = sorted(set(state) - set(expected))
        if missing or extra:
            raise InputError(
                f"{weights_path} tensors do not match: missing {missing}, extra {extra}"
            )
        for key, tensor in state.items():
            if tensor.shape != expected[key].shape:
                raise InputError(
                    f"{weights_path} tensor {key} has shape {tuple(tensor.shape)}; "
                    f"the config needs {tuple(expected[key].shape)}"
                )
        model.load_state_dict(state)
        return model.eval()


def _finite(value: object) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)


def _check_fps(fps: float) -> None:
    if not _finite(fps) or fps <= 0:
        raise InputError(f"fps must be a positive number; got {fps!r}")
