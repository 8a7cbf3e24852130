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

Speech embedding (``embedding``, empty: none): the input rows carry a pretrained speech
embedding's columns after the 28 audio features (``audio/speech_embedding.py``); the LSTM reads
only the audio features, and a linear readout of both (``motion/readout.py``) replaces the
LSTM's output for ``readout_parts`` in :meth:`SequenceToPoseLSTM.predict` once it is fitted.

The config, the alignment and :func:`model_inputs` live in ``motion/lstm_config.py`` (re-exported
here). Saved as ``config.json`` (the config) and ``weights.safetensors`` (the state dict, buffers
included): no pickled code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from speech2video.errors import InputError, NotFoundError
from speech2video.motion.lstm_config import (
    AUDIO_DIM,
    DEFAULT_READOUT_PARTS,
    LSTMConfig,
    audio_to_pose_config,
    frame_steps,
    model_inputs,
    num_output_frames,
)
from speech2video.motion.normalization import MIN_STD, FeatureStats
from speech2video.motion.readout import SpeechReadout, part_columns

__all__ = [
    "AUDIO_DIM",
    "DEFAULT_READOUT_PARTS",
    "LSTMConfig",
    "LSTMState",
    "SequenceOutput",
    "SequenceToPoseLSTM",
    "audio_to_pose_config",
    "frame_steps",
    "model_inputs",
    "num_output_frames",
]

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "weights.safetensors"
FORMAT = "speech2video.sequence_to_pose_lstm/1"
#: Buffers a checkpoint may lack (written before they existed): they load as identity.
OPTIONAL_BUFFERS = ("output_mean", "output_std")


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
        self.lstm = nn.LSTM(c.lstm_input_dim, c.hidden, c.layers, batch_first=True, dropout=dropout)
        self.head = nn.Linear(c.hidden, c.output_dim)
        self.readout: SpeechReadout | None = None
        if c.embedding:
            cols = part_columns(c.readout_parts)
            self.readout = SpeechReadout(len(c.readout_input), c.readout_offsets, cols)
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
        """features: (B, T, input_dim) raw (unnormalised) → poses (B, T, output_dim): the LSTM's
        output (no readout). A model with a speech embedding also takes (B, T, lstm_input_dim),
        the audio features alone (what a live stream has)."""
        hc = None if state is None else (state.h, state.c)
        out, (h, c) = self.lstm(self._lstm_input(features), hc)
        return SequenceOutput(self.decode(out), LSTMState(h, c))

    def _lstm_input(self, features: torch.Tensor) -> torch.Tensor:
        """(..., >= lstm_input_dim) raw inputs → the normalised columns the LSTM reads."""
        d = self.config.lstm_input_dim
        return (features[..., :d] - self.input_mean[:d]) / self.input_std[:d]

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
        was_training = self.training
        self.eval()  # no dropout when predicting
        out = self.lstm(self._lstm_input(inputs[:, :length]))[0]
        self.train(was_training)
        poses = self.decode(out[0, torch.from_numpy(steps)])  # only the frames' steps
        result = poses.numpy().astype(np.float32, copy=True)
        if self.readout is not None:
            rows = x[:, self.config.readout_input]
            self.readout.apply(result, rows, steps - self.config.delay_steps)
        return result

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

    @staticmethod
    def read_config(directory: str | Path) -> LSTMConfig:
        """The :class:`LSTMConfig` of a model written by :meth:`save`, without its weights."""
        config_path = Path(directory) / CONFIG_FILE
        if not config_path.is_file():
            raise NotFoundError(f"LSTM model file not found: {config_path}")
        try:
            meta = json.loads(config_path.read_text())
        except json.JSONDecodeError as exc:
            raise InputError(f"{config_path} is not valid JSON: {exc}") from exc
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise InputError(f"{config_path} has format {meta.get('format')!r}; need {FORMAT!r}")
        return LSTMConfig.from_dict(meta.get("config", {}))

    @classmethod
    def load(cls, directory: str | Path) -> SequenceToPoseLSTM:
        """Read a model written by :meth:`save` (no code is unpickled); in eval mode."""
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        weights_path = Path(directory) / WEIGHTS_FILE
        config = cls.read_config(directory)
        if not weights_path.is_file():
            raise NotFoundError(f"LSTM model file not found: {weights_path}")
        model = cls(config)
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
