"""Shape, timing and inputs of the sequence-to-pose LSTM (``motion/lstm.py``): its config, the
frame-to-step alignment, and the input rows a model takes (audio features, with phonetic or
speech-embedding columns).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from numbers import Real

import numpy as np

from speech2video.audio.io import Audio
from speech2video.body.pose_layout import POSE_DIM
from speech2video.errors import InputError
from speech2video.motion.words import Word

#: Audio feature columns (paper §3.4: 13 MFCC + log volume, and their differences).
AUDIO_DIM = 28
#: The parts a speech-embedding readout predicts unless told otherwise.
DEFAULT_READOUT_PARTS = ("mouth", "face")


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
    embedding: str = ""
    readout_parts: tuple[str, ...] = ()
    readout_context_s: float = 0.2
    readout_stride_s: float = 0.04

    def __post_init__(self) -> None:
        object.__setattr__(self, "readout_parts", tuple(self.readout_parts))
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
        if self.embedding:
            self._check_embedding()

    def _check_embedding(self) -> None:
        from speech2video.motion.readout import part_columns

        if self.phones:
            raise InputError("LSTMConfig: a speech embedding and phones cannot be combined")
        if self.input_dim != AUDIO_DIM + self.embedding_dim:
            raise InputError(
                f"LSTMConfig.input_dim must be {AUDIO_DIM} audio + {self.embedding_dim} "
                f"{self.embedding!r} columns = {AUDIO_DIM + self.embedding_dim}; "
                f"got {self.input_dim}"
            )
        if not self.readout_parts:
            raise InputError("LSTMConfig.readout_parts must name the parts the readout predicts")
        part_columns(self.readout_parts)
        for name in ("readout_context_s", "readout_stride_s"):
            value = getattr(self, name)
            if not _finite(value) or value < 0 or (name == "readout_stride_s" and value == 0):
                raise InputError(
                    f"LSTMConfig.{name} must be a number >= 0 (stride > 0); got {value!r}"
                )

    @property
    def embedding_dim(self) -> int:
        """Speech-embedding input columns at the end of each input row (0 without one)."""
        if not self.embedding:
            return 0
        from speech2video.audio.speech_embedding import embedding_dim

        return embedding_dim(self.embedding)

    @property
    def lstm_input_dim(self) -> int:
        """Input columns the LSTM reads: all but the speech embedding's."""
        return self.input_dim - self.embedding_dim

    @property
    def readout_input(self) -> np.ndarray:
        """(C,) input columns the readout reads: the audio features and the embedding."""
        audio = np.arange(AUDIO_DIM)
        return np.concatenate([audio, np.arange(self.lstm_input_dim, self.input_dim)])

    @property
    def readout_offsets(self) -> np.ndarray:
        """(K,) input-step offsets of the readout's window around each frame."""
        k = math.floor(self.readout_context_s / self.readout_stride_s + 1e-9)
        return np.round(np.arange(-k, k + 1) * self.readout_stride_s * self.input_rate).astype(
            np.int64
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

    def to_dict(self) -> dict[str, object]:
        """The fields as JSON values; ``phones`` and the readout's keys only when set (older
        readers do not know them)."""
        out = asdict(self)
        if not self.phones:
            del out["phones"]
        if self.embedding:
            out["readout_parts"] = list(self.readout_parts)
        else:
            for key in ("embedding", "readout_parts", "readout_context_s", "readout_stride_s"):
                del out[key]
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
    one-hot columns, unless ``input_dim`` is given; with a speech ``embedding`` (``whisper``)
    the 28 features plus its columns, read by the readout of ``readout_parts`` (default the
    mouth and the face; ``motion/readout.py``).
    """
    base: dict[str, object] = {"input_dim": AUDIO_DIM, "input_rate": 100.0}
    base.update(overrides)
    if base.get("phones") and "input_dim" not in overrides:
        from speech2video.audio.phones import phone_dim

        base["input_dim"] = AUDIO_DIM + phone_dim(str(base["phones"]))
    if base.get("embedding"):
        from speech2video.audio.speech_embedding import embedding_dim

        base.setdefault("readout_parts", DEFAULT_READOUT_PARTS)
        if "input_dim" not in overrides:
            base["input_dim"] = AUDIO_DIM + embedding_dim(str(base["embedding"]))
    return LSTMConfig(**base)  # type: ignore[arg-type]


def model_inputs(
    config: LSTMConfig,
    features: np.ndarray,
    audio: Audio | None = None,
    words: Sequence[Word] | None = None,
) -> np.ndarray:
    """A model's input rows: the audio features, with the phonetic or speech-embedding columns
    when it has them.

    features: (T, 28) float32 audio features (``audio.features.compute_features``)
    audio, words: the speech (needed with ``config.phones`` or ``config.embedding``) and its
    timed words (needed with ``config.phones``)
    returns: (T, config.input_dim) float32
    """
    feats = np.asarray(features, np.float32)
    if config.embedding:
        if audio is None:
            raise InputError(
                f"this audio-to-pose model reads the {config.embedding!r} speech embedding: it "
                "needs the audio itself, not only its features"
            )
        from speech2video.audio.speech_embedding import with_embedding

        return with_embedding(feats, audio.samples, config.embedding)
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


def _finite(value: object) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)


def _check_fps(fps: float) -> None:
    if not _finite(fps) or fps <= 0:
        raise InputError(f"fps must be a positive number; got {fps!r}")
