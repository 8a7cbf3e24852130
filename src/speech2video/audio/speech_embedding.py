"""A pretrained speech representation per 10 ms step: the Whisper encoder's output.

Why (issue 11): from half a minute of a real speaker's speech, 28 MFCC features are too little
for a model to learn which sounds open the jaw (the paper's LSTM reaches a jaw-opening
correlation of ~0.5 on real capture, and a ridge regression on the MFCC ~0.47). The encoder of
Whisper, trained on 680k hours of speech, already tells the sounds apart: a linear map of its
output predicts the same capture's jaw at ~0.64-0.70 (``docs/data-science.md``, "A speech
embedding for the mouth"). The model is the Whisper tiny.en CTranslate2 model the speech
recogniser already ships (``whisper_engine.default_model_dir``), never downloaded.

Steps and windows. The encoder takes log-mel windows of :data:`WINDOW_S` (30 s, zero padded as
Whisper was trained) and gives one 384-D vector per 20 ms; each is repeated for the two 10 ms
steps it covers, so row ``t`` lines up with row ``t`` of ``features.compute_features``. Audio
longer than one window is cut into consecutive 30 s windows (the encoder sees no context across
a cut). Every step's vector depends on the whole window around it, later audio included: this
is for whole utterances, not live streaming (``motion/readout.py``).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import numpy as np

from speech2video.audio.features import HOP, SAMPLE_RATE
from speech2video.errors import InputError

#: Embedding name → columns per step.
EMBEDDINGS: dict[str, int] = {"whisper": 384}
#: Seconds of audio per encoder window (Whisper's).
WINDOW_S = 30.0
_MEL_FRAMES = 3000  # log-mel frames in one window (10 ms each)
_ENCODER_HOP = 2 * HOP  # samples per encoder output (20 ms)
#: Environment variable: CTranslate2 threads of the embedding's encoder (default 1).
THREADS_ENV = "S2V_EMBEDDING_THREADS"
_models: dict[str, Any] = {}
_lock = threading.Lock()


def embedding_dim(name: str) -> int:
    """Columns of embedding ``name``; an unknown name is refused naming the known ones."""
    if name not in EMBEDDINGS:
        raise InputError(f"unknown speech embedding {name!r}; expected one of {sorted(EMBEDDINGS)}")
    return EMBEDDINGS[name]


def embedding_threads() -> int:
    """``$S2V_EMBEDDING_THREADS`` (default 1). CTranslate2 brings its own OpenMP runtime, whose
    worker threads keep spinning after an encode: with more than one, the torch LSTM that runs
    next in the same process ran 5x slower on 2 cores (0.17 → 0.84 s for 60 s of audio; one
    thread: 0.27 s). ``benchmarks.core`` measures both."""
    raw = os.environ.get(THREADS_ENV, "1").strip() or "1"
    if not raw.isdigit() or int(raw) < 1:
        raise InputError(f"{THREADS_ENV} must be a whole number >= 1; got {raw!r}")
    return int(raw)


def _whisper(model_dir: Path | None) -> Any:
    """The loaded faster-whisper model (one per directory and process, loaded on first use)."""
    from speech2video.audio.whisper_engine import default_model_dir

    directory = Path(model_dir) if model_dir else default_model_dir()
    key = str(directory)
    with _lock:
        if key not in _models:
            from faster_whisper import WhisperModel

            _models[key] = WhisperModel(
                key, device="cpu", compute_type="int8", cpu_threads=embedding_threads()
            )
        return _models[key]


def speech_embedding(
    samples: np.ndarray, rows: int, name: str = "whisper", model_dir: Path | None = None
) -> np.ndarray:
    """The embedding of 16 kHz mono ``samples``, one row per 10 ms feature step.

    samples: (N,) float in [-1, 1] at 16 kHz
    rows: how many steps to return (``compute_features`` gives ceil(N / 160)); steps past the
    audio repeat its last vector
    returns: (rows, embedding_dim(name)) float32
    """
    dim = embedding_dim(name)
    x = np.asarray(samples, np.float32).reshape(-1)
    if x.size == 0 or rows < 1:
        raise InputError(f"speech embedding needs audio and rows >= 1; got {x.size} samples")
    if not np.all(np.isfinite(x)):
        raise InputError("speech embedding: audio samples must be finite")
    import ctranslate2

    model = _whisper(model_dir)
    window = round(WINDOW_S * SAMPLE_RATE)
    pieces = []
    for start in range(0, x.size, window):
        piece = x[start : start + window]
        mel = model.feature_extractor(piece)[:, :_MEL_FRAMES]  # (80, frames)
        padded = np.zeros((mel.shape[0], _MEL_FRAMES), np.float32)
        padded[:, : mel.shape[1]] = mel
        out = model.model.encode(ctranslate2.StorageView.from_array(padded[None]), to_cpu=True)
        pieces.append(np.asarray(out)[0, : -(-piece.size // _ENCODER_HOP)])
    encoded = np.concatenate(pieces).astype(np.float32)
    if encoded.shape[1] != dim:
        raise InputError(f"the Whisper model gives {encoded.shape[1]}-D output; {name!r} is {dim}")
    index = np.minimum(np.arange(rows) // 2, encoded.shape[0] - 1)
    return np.ascontiguousarray(encoded[index])


def with_embedding(features: np.ndarray, samples: np.ndarray, name: str = "") -> np.ndarray:
    """The audio features of ``samples`` with embedding ``name``'s columns after them
    ("" for none: the features unchanged).

    features: (T, 28) float (``compute_features(samples)``); samples: (N,) 16 kHz audio
    returns: (T, 28 + embedding_dim(name)) float32
    """
    feats = np.asarray(features, np.float32)
    if not name:
        return feats
    return np.concatenate([feats, speech_embedding(samples, feats.shape[0], name)], axis=1)
