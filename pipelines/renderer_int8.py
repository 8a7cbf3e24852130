"""The int8 step of a trained renderer, for real-time CPU rendering (part of ``train_renderer``).

Calibrated on a float roll-out of some training recordings' skeletons and checked, float against
int8 with each fed back its own frames, on other training recordings
(src/speech2video/render/int8_generator.py). The graph is written into the renderer component
only when the check reaches ``MIN_PSNR_DB``; the stage's metrics say what happened either way.
Held-out recordings are not touched: ``evaluate`` scores the int8 engine on them against the real
frames (``psnr_int8``...).

Params (``train_renderer``): ``int8`` (default true), ``int8_calibration_recordings`` (4),
``int8_check_recordings`` (2), ``int8_frames_per_recording`` (120).
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

import numpy as np

from pipelines.recordings import SKELETONS_DIR, keyword_clips, split_recordings
from pipelines.stage_io import StageError

_log = logging.getLogger(__name__)


def _stream(directory: Path, limit: int, multiple: int) -> list[np.ndarray]:
    """Up to ``limit`` skeleton images of a recording, padded (black) to ``multiple`` as the
    renderer pads them."""
    from speech2video.render.renderer_data import read_rgb

    frames = [read_rgb(p) for p in sorted(directory.glob("*.png"))[:limit]]
    out = []
    for frame in frames:
        h, w = frame.shape[:2]
        out.append(np.pad(frame, ((0, -h % multiple), (0, -w % multiple), (0, 0))))
    return out


def _training_sequences(params: dict[str, Any]) -> list[str]:
    """Training recordings with skeletons, in the split ``evaluate`` uses (held-out excluded)."""
    split = params.get("split") or {}
    posing = {c.recording for c in keyword_clips(Path(params["speaker_dir"]))}
    ids = sorted(
        p.name
        for p in SKELETONS_DIR.iterdir()
        if (p / "skeleton").is_dir() and p.name not in posing
    )
    if len(ids) < 2:
        return ids
    train, _ = split_recordings(ids, split.get("holdout", 0.1), int(split.get("seed", 0)))
    return train


def write_int8_step(out: Path, generator: Any, params: dict[str, Any]) -> dict[str, float]:
    """Quantize ``generator`` (a Vid2VidGenerator), check it and, when it passes, save it into the
    renderer component ``out``; returns the stage metrics (``int8_*``)."""
    from speech2video.render import onnx_generator
    from speech2video.render.int8_generator import (
        MIN_PSNR_DB,
        quantize_step,
        save_int8,
        step_fidelity,
    )

    p = params.get("train_renderer") or {}
    if not p.get("int8", True):
        return {"int8": 0.0}
    if not onnx_generator.available():
        _log.warning("int8 step skipped: onnxruntime and onnx are not installed")
        return {"int8": 0.0}
    n_cal = int(p.get("int8_calibration_recordings", 4))
    n_check = int(p.get("int8_check_recordings", 2))
    limit = int(p.get("int8_frames_per_recording", 120))
    if n_cal < 1 or n_check < 1 or limit < 1:
        raise StageError(
            "train_renderer.int8_calibration_recordings, int8_check_recordings and "
            "int8_frames_per_recording must be >= 1"
        )
    ids = _training_sequences(params)
    if not ids:
        raise StageError(f"{SKELETONS_DIR}: no training recordings to calibrate the int8 step on")
    order = list(np.random.default_rng(0).permutation(len(ids)))
    cal = [ids[i] for i in order[:n_cal]]
    check = [ids[i] for i in order[n_cal : n_cal + n_check]] or cal[-1:]

    def streams(names: list[str]) -> list[list[np.ndarray]]:
        return [_stream(SKELETONS_DIR / n / "skeleton", limit, generator.multiple) for n in names]

    int8 = quantize_step(generator, streams(cal))
    fidelity = step_fidelity(generator, int8, streams(check))
    kept = fidelity["int8_psnr_mean"] >= MIN_PSNR_DB
    meta = {**int8.meta, **fidelity, "calibrated_on": cal, "checked_on": check}
    if kept:
        save_int8(out, dataclasses.replace(int8, meta=meta))
    else:
        _log.warning(
            "int8 step not kept: %.1f dB against the float step (< %.0f dB)",
            fidelity["int8_psnr_mean"],
            MIN_PSNR_DB,
        )
    return {"int8": float(kept), **fidelity}
