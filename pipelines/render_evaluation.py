"""Readability of the renderer's held-out output, for the ``evaluate`` stage.

Renders each held-out recording's skeleton sequence (``data/interim/skeletons/<rec>``, the poses
fitted to the real frames) from its start, up to ``readability_frames`` frames in all, and asks
the keypoint detector about the generated and the real frames alike
(:mod:`speech2video.evaluation.readability`): face and both-hands detection rates, and how well
the generated mouth opening follows the jaw the poses ask for. Also saves a contact sheet of
generated beside real frames (``contact_sheet.png``) for the report.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from pipelines.recordings import FIT_DIR, MODELS_DIR, SKELETONS_DIR

#: Frames shown in the contact sheet (spread over the rendered ones).
SHEET_FRAMES = 4


def evaluate_readability(
    held: list[str], frames_budget: int, fps: float
) -> tuple[dict[str, float], list[tuple[np.ndarray, np.ndarray]]]:
    """(metrics, [(generated, real) frame pairs for the contact sheet]); empty when nothing
    held out has skeletons."""
    from speech2video.body.motion_file import load_motion
    from speech2video.evaluation.readability import readability
    from speech2video.evaluation.render_metrics import render_frames
    from speech2video.render.checkpoint import load_renderer
    from speech2video.render.renderer_data import read_rgb

    recs = [r for r in held if (SKELETONS_DIR / r / "skeleton").is_dir()]
    if not recs or frames_budget <= 0:
        return {}, []
    loaded = load_renderer(MODELS_DIR / "renderer")
    generator = loaded.generator
    per_clip = max(3, frames_budget // len(recs))
    generated: list[np.ndarray] = []
    real: list[np.ndarray] = []
    poses: list[np.ndarray] = []
    for rec in recs:
        sk = sorted((SKELETONS_DIR / rec / "skeleton").glob("*.png"))[:per_clip]
        fr = sorted((SKELETONS_DIR / rec / "frames").glob("*.png"))[: len(sk)]
        motion_path = FIT_DIR / "motion" / f"{rec}.npz"
        if not fr or not motion_path.is_file():
            continue
        motion = load_motion(motion_path).poses
        n = min(len(fr), motion.shape[0])
        generated += render_frames(generator, [read_rgb(p) for p in sk[:n]], None, loaded.refiner)
        real += [read_rgb(p) for p in fr[:n]]
        poses.append(motion[:n])
    if not real:
        return {}, []
    metrics = readability(generated, real, np.concatenate(poses), fps)
    picks = np.linspace(0, len(real) - 1, min(SHEET_FRAMES, len(real))).round().astype(int)
    return metrics, [(generated[i], real[i]) for i in picks]


def save_contact_sheet(pairs: list[tuple[np.ndarray, np.ndarray]], path: Path) -> Path | None:
    """Generated (top row) over real (bottom row) frames as one PNG; None without pairs."""
    import cv2

    if not pairs:
        return None
    top = np.concatenate([g for g, _ in pairs], axis=1)
    bottom = np.concatenate([r for _, r in pairs], axis=1)
    sheet = np.concatenate([top, bottom], axis=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), sheet[:, :, ::-1])
    return path


def readability_settings(p: dict[str, Any]) -> int:
    """The frame budget from the stage's params (``readability_frames``, default 60)."""
    return max(0, int(p.get("readability_frames", 60)))


def reference_psnr(
    held: list[str], training: list[str], p: dict[str, Any], fps: float
) -> dict[str, float]:
    """What the held-out PSNR can be, from the real frames alone
    (:mod:`speech2video.evaluation.render_references`), on the frames ``evaluate_renderer``
    scores: ``psnr_ref_plate``, ``psnr_ref_nearest_training`` (over up to
    ``reference_training_frames`` training frames spread over the training recordings) and
    ``psnr_ref_real_lag`` (frames ``reference_lag_s`` apart; also written as
    ``reference_lag_s``). Empty when nothing held out has frames."""
    from speech2video.evaluation.render_references import (
        lagged_psnr,
        nearest_frame_psnr,
        plate_psnr,
    )
    from speech2video.render.renderer_data import read_rgb

    recs = [r for r in held if (SKELETONS_DIR / r / "frames").is_dir()]
    if not recs:
        return {}
    per_clip = max(1, int(p["max_render_frames"]) // len(recs))
    lag = max(1, round(float(p.get("reference_lag_s", 0.2)) * fps))
    real: list[np.ndarray] = []
    lagged: list[float] = []
    for rec in recs:
        paths = sorted((SKELETONS_DIR / rec / "frames").glob("*.png"))
        frames = [read_rgb(q) for q in paths[: per_clip + lag]]  # each read once
        real += frames[:per_clip]
        if len(frames) > lag:
            lagged.append(lagged_psnr(frames, lag))
    if not real:
        return {}
    out: dict[str, float] = {}
    plate_path = SKELETONS_DIR / "background.png"
    plate = read_rgb(plate_path) if plate_path.is_file() else None
    if plate is not None and plate.shape == real[0].shape:
        out["psnr_ref_plate"] = plate_psnr(real, plate)
    pool = [q for r in training for q in sorted((SKELETONS_DIR / r / "frames").glob("*.png"))]
    budget = int(p.get("reference_training_frames", 300))
    if pool and budget > 0:
        picks = np.unique(np.linspace(0, len(pool) - 1, min(budget, len(pool))).round())
        candidates = (read_rgb(pool[int(i)]) for i in picks)
        out["psnr_ref_nearest_training"] = nearest_frame_psnr(real, candidates)
    if lagged:
        out["psnr_ref_real_lag"] = float(np.mean(lagged))
        out["reference_lag_s"] = lag / fps
    return out
