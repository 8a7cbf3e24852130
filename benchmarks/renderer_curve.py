"""Renderer learning curves on an enrolled speaker's workspace, scored on its held-out frames.

    python -m benchmarks.renderer_curve WORKSPACE [--steps 600] [--every 100]
        [--variant NAME:section.field=value;...] [--threads 2] [--out DIR]

WORKSPACE is a speaker workspace after its ``skeletons`` stage (what ``s2v enrol --no-run``
then ``dvc repro skeletons`` make). Each variant trains the workspace's own renderer config
(``train_renderer`` in its params.yaml, the plate when it has one) on the training split only,
``--every`` steps at a time, and after each chunk renders every held-out recording from its
skeletons and scores it against the real frames: PSNR, SSIM, face- and hand-crop L1 beside
the still plate as a prediction. A variant overrides config fields, e.g.
``bf16:training.bf16_cpu=true`` or ``mouth:loss.part_l1=20;training.crop=192``; ``base:`` is
the config as it is. Prints the curve per variant and the training seconds per step, and writes
``learning_curve.png`` and, per variant, a side-by-side (generated | real) of a middle held-out
frame to ``--out`` (default: a temporary folder). Those pictures hold frames of the speaker's
recording: keep them out of the repository when its licence says so.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from benchmarks.options import enter_workspace
from benchmarks.table import print_table

SECTIONS = ("generator", "discriminator", "loss", "training")


def parse_variant(text: str) -> tuple[str, dict[str, dict[str, Any]]]:
    """``name:section.field=value;...`` → (name, {section: {field: value}}); values are YAML."""
    name, _, body = text.partition(":")
    if not name:
        raise SystemExit(f"--variant {text!r}: needs NAME:section.field=value;...")
    overrides: dict[str, dict[str, Any]] = {}
    for item in filter(None, (s.strip() for s in body.split(";"))):
        key, sep, value = item.partition("=")
        section, dot, field = key.partition(".")
        if not sep or not dot or section not in SECTIONS:
            raise SystemExit(f"--variant {text!r}: {item!r} is not section.field=value")
        overrides.setdefault(section, {})[field] = yaml.safe_load(value)
    return name, overrides


def with_overrides(config: Any, overrides: dict[str, dict[str, Any]]) -> Any:
    """``config`` (a RendererConfig) with each section's fields replaced."""
    for section, fields in overrides.items():
        part = getattr(config, section)
        unknown = sorted(set(fields) - {f.name for f in dataclasses.fields(part)})
        if unknown:
            raise SystemExit(f"{section} has no field(s) {unknown}")
        config = dataclasses.replace(config, **{section: dataclasses.replace(part, **fields)})
    return config


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("workspace", type=Path)
    p.add_argument("--steps", type=int, default=600)
    p.add_argument("--every", type=int, default=100)
    p.add_argument("--variant", action="append", default=None)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args(argv)
    if args.steps < 1 or args.every < 1:
        raise SystemExit("--steps and --every must be >= 1")
    variants = [parse_variant(v) for v in (args.variant or ["base:"])]

    workspace = args.workspace.resolve()
    if not (workspace / "params.yaml").is_file():
        print(f"{workspace}: no params.yaml (not an enrolment workspace)", file=sys.stderr)
        return 2
    out = enter_workspace(workspace, args.out, "s2v-curve-")

    import cv2
    import torch

    from pipelines.recordings import SKELETONS_DIR, skeleton_split
    from pipelines.train_renderer import renderer_config
    from speech2video.evaluation.render_metrics import psnr, render_frames, score_frames
    from speech2video.render.checkpoint import load_renderer
    from speech2video.render.renderer_data import BACKGROUND_FILE, read_rgb
    from speech2video.render.renderer_training import train_renderer

    torch.set_num_threads(args.threads)
    params = yaml.safe_load((workspace / "params.yaml").read_text())
    train, held = skeleton_split(params)
    if not train or not held:
        print(f"needs training and held-out skeletons; got {train} / {held}", file=sys.stderr)
        return 2
    real, sketches = [], []
    for rec in held:
        names = sorted(n.name for n in (SKELETONS_DIR / rec / "skeleton").glob("*.png"))
        real += [read_rgb(SKELETONS_DIR / rec / "frames" / n) for n in names]
        sketches.append([read_rgb(SKELETONS_DIR / rec / "skeleton" / n) for n in names])
    flat_sketches = [s for clip in sketches for s in clip]
    plate_file = SKELETONS_DIR / BACKGROUND_FILE
    rows: list[tuple[Any, ...]] = []
    if plate_file.is_file():
        plate = read_rgb(plate_file)
        rows.append(("the plate itself", 0, np.mean([psnr(plate, r) for r in real]), "", "", ""))
    curves: dict[str, list[tuple[int, float]]] = {}
    speed = []
    base = renderer_config(dict(params.get("train_renderer") or {}))
    for name, overrides in variants:
        config = with_overrides(base, overrides)
        ckpt_dir = out / name
        step_times: list[float] = []
        minutes = 0.0
        for stop in range(args.every, args.steps + args.every, args.every):
            stop = min(stop, args.steps)
            chunk = dataclasses.replace(
                config,
                training=dataclasses.replace(config.training, steps=stop, checkpoint_every=stop),
            )
            t = time.perf_counter()
            train_renderer(
                SKELETONS_DIR,
                ckpt_dir,
                chunk,
                callback=lambda _s, m, times=step_times: times.append(m["step_time"]),
                progress=False,
                sequences=train,
            )
            minutes += (time.perf_counter() - t) / 60
            generator = load_renderer(ckpt_dir).generator
            with torch.no_grad():
                generated = [f for clip in sketches for f in render_frames(generator, clip)]
            s = score_frames(real, generated, flat_sketches)
            rows.append((name, stop, s.psnr, s.ssim, s.face_crop_l1, s.hands_crop_l1))
            curves.setdefault(name, []).append((stop, s.psnr))
            print(f"[{name}] step {stop}: held-out PSNR {s.psnr:.2f} dB", flush=True)
            if stop == args.steps:
                mid = len(real) // 2
                side = np.concatenate([generated[mid], real[mid]], axis=1)[:, :, ::-1]
                cv2.imwrite(str(out / f"{name}_held_out.png"), side)
        speed.append((name, statistics.median(step_times), minutes))
    title = (
        f"Renderer on {workspace.name}: trained on {train}, scored on held-out {held} "
        f"({len(real)} frames); {args.threads} threads; outputs in {out}"
    )
    print_table(title, ("variant", "step", "PSNR dB", "SSIM", "face L1", "hands L1"), rows)
    print_table("Training time", ("variant", "s / step (median)", "minutes, all chunks"), speed)
    _plot(curves, rows[0][2] if plate_file.is_file() else None, out / "learning_curve.png")
    return 0


def _plot(curves: dict[str, list[tuple[int, float]]], plate: float | None, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for name, points in curves.items():
        ax.plot(*zip(*points, strict=True), marker="o", label=name)
    if plate is not None:
        ax.axhline(plate, color="grey", linestyle="--", label="the plate itself")
    ax.set_xlabel("training step")
    ax.set_ylabel("held-out PSNR (dB)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    raise SystemExit(main())
