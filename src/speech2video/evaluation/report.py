"""``reports/evaluation/``: ``report.md`` with the metric tables, and PNG figures.

Figures (written when their data is there):

- ``mouth_trajectory.png``: inner-lip opening (pixels) over the first held-out clip — the model,
  the fitted poses, the detected landmarks and the baselines;
- ``jaw_trajectory.png``: jaw opening (radians) over the first held-out clip — the model, the
  truth (fitted or captured poses) and the baselines;
- ``part_errors.png``: per-part pose error of the model beside the baselines;
- ``render_crops.png``: real vs generated face and hand crops of a few held-out frames.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from speech2video.evaluation import figures
from speech2video.evaluation.directions import metric_direction
from speech2video.evaluation.motion_evaluation import MotionEvaluation
from speech2video.evaluation.motion_metrics import PARTS
from speech2video.evaluation.render_metrics import RenderScores

REPORT_FILE = "report.md"
SYSTEM_COLUMNS: tuple[tuple[str, str], ...] = (
    ("", "model"),
    ("_mean_pose", "mean pose"),
    ("_shuffled", "shuffled audio"),
    ("_other_audio", "other audio"),
    ("_fitted", "fitted"),
)
_MOTION_STEMS: tuple[str, ...] = (
    "mouth_px",
    *(f"pose_mae_{p}" for p in PARTS),
    *(f"diversity_{p}" for p in PARTS),
    "jaw_opening_corr",
    "beat_consistency",
)
_RENDER = ("psnr", "ssim", "face_crop_l1", "hands_crop_l1", "num_render_frames")
_KEYPOSE = ("keypose_within_1f", "keypose_insertions")
#: Reference PSNRs from the real frames alone (render_references), with what each is.
_PSNR_REFERENCES: tuple[tuple[str, str], ...] = (
    ("psnr", "the renderer (for comparison)"),
    ("psnr_ref_plate", "the still background plate alone (no person drawn)"),
    ("psnr_ref_nearest_training", "the nearest real training frame, chosen knowing the answer"),
    ("psnr_ref_real_lag", "the real frame {lag} earlier (how much the real video changes)"),
)


def psnr_reference_rows(metrics: Mapping[str, float]) -> list[str]:
    """Markdown rows: the renderer's PSNR beside what the real frames alone score."""
    if not any(k.startswith("psnr_ref_") for k in metrics):
        return []
    lag = metrics.get("reference_lag_s")
    lag_text = f"{lag:.2g} s" if lag is not None else "a moment"
    rows = ["| PSNR of | dB |", "|---|---|"]
    for name, what in _PSNR_REFERENCES:
        if name in metrics:
            rows.append(f"| {what.format(lag=lag_text)} | {_fmt(metrics[name])} |")
    return rows


def _fmt(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "—"
    return f"{value:.4g}"


def _better(name: str) -> str:
    d = metric_direction(name)
    return {"lower": "lower", "higher": "higher"}.get(d or "", "—")


def motion_table(metrics: Mapping[str, float], prefix: str = "") -> list[str]:
    """Markdown rows: one per motion metric, columns model / baselines / fitted / better."""
    head = "| metric | " + " | ".join(c for _, c in SYSTEM_COLUMNS) + " | better |"
    rows = [head, "|" + "---|" * (len(SYSTEM_COLUMNS) + 2)]
    for stem in _MOTION_STEMS:
        name = f"{prefix}{stem}"
        cells = [metrics.get(f"{name}{sfx}") for sfx, _ in SYSTEM_COLUMNS]
        if all(c is None for c in cells):
            continue
        rows.append(f"| {name} | " + " | ".join(_fmt(c) for c in cells) + f" | {_better(name)} |")
    return rows


def flat_table(metrics: Mapping[str, float], names: tuple[str, ...]) -> list[str]:
    """Markdown rows name | value | better, for the names present."""
    rows = ["| metric | value | better |", "|---|---|---|"]
    rows += [f"| {n} | {_fmt(metrics[n])} | {_better(n)} |" for n in names if n in metrics]
    return rows if len(rows) > 2 else []


def direction_rows(metrics: Mapping[str, float]) -> list[str]:
    """The metric-direction table the promotion gate uses, for the metrics present."""
    rows = ["| metric | gate |", "|---|---|"]
    for name in sorted(metrics):
        d = metric_direction(name)
        rows.append(f"| {name} | {d + ' is better' if d else 'informational (not gated)'} |")
    return rows


def _write_figures(
    directory: Path, motion: MotionEvaluation | None, render: RenderScores | None, fps: float
) -> list[tuple[str, str]]:
    written = []
    if motion is not None and motion.mouth_opening:
        order = ["model", "fitted", "detected", "mean_pose", "shuffled"]
        series = {k: motion.mouth_opening[k] for k in order if k in motion.mouth_opening}
        img = figures.line_plot(
            series, "mouth opening (px), first held-out clip", 1.0 / fps, "seconds"
        )
        figures.write_png(directory / "mouth_trajectory.png", img)
        written.append(("mouth_trajectory.png", "Mouth opening: predicted vs fitted vs detected"))
    if motion is not None and motion.jaw_opening:
        order = ["model", "fitted", "mean_pose", "other_audio", "shuffled"]
        names = {"fitted": "truth", "mean_pose": "mean pose", "other_audio": "other audio"}
        series = {names.get(k, k): motion.jaw_opening[k] for k in order if k in motion.jaw_opening}
        img = figures.line_plot(
            series, "jaw opening (rad), first held-out clip", 1.0 / fps, "seconds"
        )
        figures.write_png(directory / "jaw_trajectory.png", img)
        written.append(("jaw_trajectory.png", "Jaw opening: predicted vs true"))
    if motion is not None and motion.part_errors:
        parts = list(PARTS)
        series = {s: [e.get(p, math.nan) for p in parts] for s, e in motion.part_errors.items()}
        img = figures.bar_chart(parts, series, "pose MAE per part: model vs baselines")
        figures.write_png(directory / "part_errors.png", img)
        written.append(("part_errors.png", "Per-part pose error vs baselines"))
    if render is not None and render.samples.size:
        rows = []
        for i, sample in enumerate(render.samples):
            rows.append((f"frame {i}: real", list(sample[0])))
            rows.append((f"frame {i}: generated", list(sample[1])))
        img = figures.montage(rows, "face, left hand, right hand crops")
        figures.write_png(directory / "render_crops.png", img)
        written.append(("render_crops.png", "Sample render crops"))
    return written


def write_report(
    directory: str | Path,
    metrics: Mapping[str, float],
    speaker: str = "",
    motion: MotionEvaluation | None = None,
    render: RenderScores | None = None,
    fps: float = 30.0,
    notes: list[str] | None = None,
) -> Path:
    """Write ``report.md`` and the figures into ``directory``; returns the report's path."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    shown = _write_figures(out, motion, render, fps)
    lines = [f"# Evaluation{': ' + speaker if speaker else ''}", ""]
    n_clips, n_frames = metrics.get("num_clips"), metrics.get("num_frames")
    if n_clips is not None:
        lines += [f"Held-out clips: {int(n_clips)} ({int(n_frames or 0)} frames).", ""]
    sections = [
        ("Motion (audio to pose)", motion_table(metrics)),
        ("Motion (text to pose)", motion_table(metrics, "text_")),
        ("Renderer", flat_table(metrics, _RENDER)),
        ("What the held-out PSNR can be (real frames alone)", psnr_reference_rows(metrics)),
        ("Key poses", flat_table(metrics, _KEYPOSE)),
    ]
    for title, rows in sections:
        if len(rows) > 2:
            lines += [f"## {title}", "", *rows, ""]
    if "mouth_shape_px_gain" in metrics:
        lines += [
            f"Mouth motion gain over the best baseline (`mouth_shape_px`): "
            f"{metrics['mouth_shape_px_gain']:.1%} (target: at least 40 %).",
            "",
        ]
    if "mouth_px_gain" in metrics:
        lines += [
            f"Mouth placement gain over the best baseline (`mouth_px`, follows head and body): "
            f"{metrics['mouth_px_gain']:.1%}.",
            "",
        ]
    gains = [(p, metrics.get(f"pose_mae_{p}_gain")) for p in PARTS]
    if any(g is not None for _, g in gains):
        lines += [
            "Pose error gain over the better baseline, per part: "
            + ", ".join(f"{p} {g:.1%}" for p, g in gains if g is not None)
            + " (target for jaw and face: at least 40 %; body and hands: not below 0).",
            "",
        ]
    if "jaw_opening_corr" in metrics:
        lines += [
            f"Jaw-opening correlation with the truth: {metrics['jaw_opening_corr']:.3f} "
            "(target: at least 0.5).",
            "",
        ]
    for file, caption in shown:
        lines += [f"![{caption}]({file})", ""]
    lines += ["## Metric directions (promotion gate)", "", *direction_rows(metrics), ""]
    if notes:
        lines += ["## Notes", "", *(f"- {n}" for n in notes), ""]
    path = out / REPORT_FILE
    path.write_text("\n".join(lines))
    return path


def finite_metrics(metrics: Mapping[str, float]) -> dict[str, float]:
    """The finite numeric metrics, as plain floats (JSON-safe)."""
    return {
        k: float(v)
        for k, v in sorted(metrics.items())
        if isinstance(v, int | float | np.floating) and math.isfinite(float(v))
    }
