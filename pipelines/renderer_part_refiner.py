"""The part refiner of a trained renderer (part of ``train_renderer``).

After the generator, the stage rolls it out (float, from each recording's start, as serving
does) over the training recordings' skeletons, crops the hands (or face) of those frames, of
the skeletons and of the real frames, and trains the refiner to turn the generated crop into the
real one given the person's nearest other exemplar (src/speech2video/render/part_refiner.py,
part_refiner_training.py). The refiner and its exemplar bank are written into the renderer
component; held-out recordings are never read here (``evaluate`` scores the refined output on
them).

Params (``train_renderer.part_refiner``, a mapping; null or ``steps: 0``: no refiner):
``steps`` (1500), ``batch_size`` (16), ``lr`` (0.001), ``exclude_frames`` (0), ``seed`` (0),
``augment`` (true), ``frames_per_recording`` (300: at most this many frames of each training
recording are rolled out), and the refiner's shape: ``parts`` ([left_hand, right_hand]),
``crop`` (64), ``width`` (32), ``descriptor`` (12), ``face_scale``, ``hand_scale``,
``feather``, ``head`` (warp). ``s2v enrol`` turns it on for a real speaker
(:data:`REAL_SPEAKER_REFINER`).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from pipelines.recordings import SKELETONS_DIR
from pipelines.stage_io import StageError

_log = logging.getLogger(__name__)

#: What ``s2v enrol`` sets for a real speaker when the base params leave it null.
REAL_SPEAKER_REFINER: dict[str, Any] = {"steps": 1500, "parts": ["left_hand", "right_hand"]}

_RUN_KEYS = ("frames_per_recording",)


def refiner_settings(
    p: dict[str, Any] | None,
):  # -> (PartRefinerConfig, RefinerTraining, int) | None
    """The refiner's shape, its training and the frames per recording from the stage's
    ``part_refiner`` mapping; None when it is off. A bad key or value is a StageError naming it."""
    from speech2video.errors import InputError
    from speech2video.render.part_refiner import PartRefinerConfig
    from speech2video.render.part_refiner_training import RefinerTraining

    if p is None:
        return None
    if not isinstance(p, dict):
        raise StageError(f"train_renderer.part_refiner must be a mapping or null; got {p!r}")
    shape_keys = {f.name for f in dataclasses.fields(PartRefinerConfig)}
    train_keys = {f.name for f in dataclasses.fields(RefinerTraining)}
    unknown = sorted(set(p) - shape_keys - train_keys - set(_RUN_KEYS))
    if unknown:
        known = sorted(shape_keys | train_keys | set(_RUN_KEYS))
        raise StageError(f"unknown train_renderer.part_refiner keys {unknown}; known: {known}")
    try:
        config = PartRefinerConfig.from_dict({k: v for k, v in p.items() if k in shape_keys})
        training = RefinerTraining(**{k: v for k, v in p.items() if k in train_keys})
        training.validate()
    except (InputError, TypeError) as exc:
        raise StageError(f"train_renderer.part_refiner: {exc}") from None
    frames = int(p.get("frames_per_recording", 300))
    if frames < 1:
        raise StageError(
            f"train_renderer.part_refiner.frames_per_recording must be >= 1; got {frames}"
        )
    if training.steps == 0:
        return None
    return config, training, frames


def training_roll_outs(
    generator: Any, sequences: list[str], frames: int
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per training recording: (skeletons, real, generated), each (T, H, W, 3) uint8 RGB."""
    from speech2video.evaluation.render_metrics import render_frames
    from speech2video.render.renderer_data import read_rgb

    for name in sequences:
        sk_paths = sorted((SKELETONS_DIR / name / "skeleton").glob("*.png"))[:frames]
        fr_paths = sorted((SKELETONS_DIR / name / "frames").glob("*.png"))[: len(sk_paths)]
        if not fr_paths:
            continue
        skeletons = [read_rgb(p) for p in sk_paths[: len(fr_paths)]]
        generated = render_frames(generator, skeletons)
        real = np.stack([read_rgb(p) for p in fr_paths])
        yield np.stack(skeletons), real, np.stack(generated)


def write_part_refiner(
    out: Path,
    generator: Any,
    params: dict[str, Any],
    sequences: list[str],
    log: Callable[[int, dict[str, float]], None] | None = None,
) -> dict[str, float]:
    """Train the part refiner of ``generator`` (a Vid2VidGenerator) on the training
    ``sequences`` and save it into the renderer component ``out``; returns the stage metrics
    (``part_refiner_*``)."""
    from speech2video.errors import InputError
    from speech2video.render.part_refiner import save_part_refinement
    from speech2video.render.part_refiner_training import (
        collect_part_samples,
        train_part_refiner,
    )

    settings = refiner_settings((params.get("train_renderer") or {}).get("part_refiner"))
    if settings is None:
        return {"part_refiner": 0.0}
    config, training, frames = settings
    t0 = time.perf_counter()
    try:
        samples = collect_part_samples(training_roll_outs(generator, sequences, frames), config)
    except InputError as exc:  # e.g. a head-and-shoulders speaker: no hands to refine
        _log.warning("part refiner skipped: %s", exc)
        return {"part_refiner": 0.0}
    t1 = time.perf_counter()
    refinement, curve = train_part_refiner(samples, config, training, callback=log)
    save_part_refinement(out, refinement)
    last = curve[-1]
    return {
        "part_refiner": 1.0,
        "part_refiner_samples": float(len(samples)),
        "part_refiner_l1": last["l1"],
        "part_refiner_l1_generated": last["l1_generated"],
        "part_refiner_rollout_s": t1 - t0,
        "part_refiner_train_s": time.perf_counter() - t1,
    }
