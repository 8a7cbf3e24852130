"""The part refiner on an enrolled speaker's held-out frames: what it adds to the generator.

    python -m benchmarks.part_refiner WORKSPACE [--variant NAME:key=value;...] [--threads 2]
        [--out DIR]

WORKSPACE is a speaker workspace whose ``train_renderer`` stage has run (``s2v enrol``). The
generator of ``models/renderer`` renders every held-out recording from its skeletons once; each
row then refines those frames (as serving does: the refiner acts on what is shown, the
generator's roll-out is unchanged) and scores them against the real frames:

- ``generator``: no refiner;
- ``exemplar paste``: the nearest training exemplar pasted under the feathered window, no
  learning (what the refiner's input alone gives);
- ``checkpoint``: the refiner the stage trained, when ``models/renderer`` has one;
- each ``--variant``: a refiner trained here on the training split with the workspace's
  ``train_renderer.part_refiner`` settings and the given overrides (YAML values), e.g.
  ``steps3000:steps=3000`` or ``wide:width=48;crop=96``.

Columns: PSNR and SSIM of the whole frame, face- and hand-crop L1, the share of frames where
mediapipe finds the face, both hands and all three (real frames: the last row), and mouth
agreement (``readability``), the milliseconds a frame costs (the generator's float torch
roll-out for ``generator``; the refinement alone, batches of 8, for the others) and the
refiner's training seconds. Writes ``refiner_curve.png`` (the variants' training curves) and
``hands_<row>.png`` (the hand crops of a few frames, real at the bottom) to ``--out`` (default:
a temporary folder): the pictures hold frames of the speaker's recording, so keep them out of
the repository when its licence says so.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from benchmarks.options import enter_workspace
from benchmarks.table import print_table


def parse_variant(text: str) -> tuple[str, dict[str, Any]]:
    """``name:key=value;...`` → (name, {key: value}); values are YAML."""
    name, _, body = text.partition(":")
    if not name:
        raise SystemExit(f"--variant {text!r}: needs NAME:key=value;...")
    fields: dict[str, Any] = {}
    for item in filter(None, (s.strip() for s in body.split(";"))):
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--variant {text!r}: {item!r} is not key=value")
        fields[key.strip()] = yaml.safe_load(value)
    return name, fields


def _paste_only(config: Any, bank: Any) -> Any:
    """A refinement with ``bank`` whose network returns the exemplar as it is, mask 1."""
    import torch

    from speech2video.render.part_refiner import PartRefinement

    class PasteExemplar(torch.nn.Module):
        def forward(self, generated, skeleton, exemplar, exemplar_skeleton):
            return exemplar, torch.ones_like(exemplar[:, :1])

    return PartRefinement(config, PasteExemplar(), bank)  # type: ignore[arg-type]


def _refined(refinement: Any, generated: list[np.ndarray], sketches: list[np.ndarray]) -> list:
    from speech2video.render.renderer_data import to_tensor, to_uint8

    out: list[np.ndarray] = []
    for i in range(0, len(generated), 8):
        frames = to_tensor(np.stack(generated[i : i + 8]))
        sk = to_tensor(np.stack(sketches[i : i + 8]))
        out += list(to_uint8(refinement.refine(frames, sk)))
    return out


def _hand_sheet(rows: list[list[np.ndarray]], sketches: list[np.ndarray], path: Path) -> None:
    """The right-hand crops (or left) of 6 frames per row of frames, stacked."""
    import cv2
    import torch

    from speech2video.render.part_boxes import crop_boxes, part_boxes
    from speech2video.render.renderer_data import to_tensor

    picks = np.linspace(0, len(sketches) - 1, 6).round().astype(int)
    found = part_boxes(to_tensor(np.stack([sketches[i] for i in picks])), hand_scale=3.0)
    tiles = []
    for frames in rows:
        strip = []
        for j, i in enumerate(picks):
            p = 2 if found.valid[j, 2] else 1
            img = torch.from_numpy(frames[i]).permute(2, 0, 1)[None].float()
            crop = crop_boxes(img, found.boxes[j : j + 1, p : p + 1], 96)[0, 0]
            strip.append(crop.permute(1, 2, 0).clamp(0, 255).byte().numpy())
        tiles.append(np.concatenate(strip, axis=1))
    cv2.imwrite(str(path), np.concatenate(tiles, axis=0)[:, :, ::-1])


def _plot_curves(curves: dict[str, list[dict[str, float]]], path: Path) -> None:
    """Training L1 of the refined hand crops per variant, and of the generator's (dashed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for name, curve in curves.items():
        steps = [c["step"] for c in curve]
        line = ax.plot(steps, [c["l1"] for c in curve], label=name)[0]
        ax.plot(steps, [c["l1_generated"] for c in curve], "--", color=line.get_color())
    ax.set_xlabel("refiner training step")
    ax.set_ylabel("hand-crop L1 on training crops (0..255; dashed: generator)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("workspace", type=Path)
    p.add_argument("--variant", action="append", default=[])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args(argv)
    variants = [parse_variant(v) for v in args.variant]
    workspace = args.workspace.resolve()
    if not (workspace / "models" / "renderer").is_dir():
        print(f"{workspace}: no models/renderer (run s2v enrol first)", file=sys.stderr)
        return 2
    out = enter_workspace(workspace, args.out, "s2v-refiner-")

    import torch

    from pipelines.recordings import FIT_DIR, MODELS_DIR, SKELETONS_DIR, skeleton_split
    from pipelines.renderer_part_refiner import refiner_settings, training_roll_outs
    from speech2video.body.motion_file import load_motion
    from speech2video.evaluation.readability import readability
    from speech2video.evaluation.render_metrics import render_frames, score_frames
    from speech2video.render.checkpoint import load_renderer
    from speech2video.render.part_refiner_training import (
        collect_part_samples,
        exemplar_bank,
        train_part_refiner,
    )
    from speech2video.render.renderer_data import read_rgb

    torch.set_num_threads(args.threads)
    params = yaml.safe_load((workspace / "params.yaml").read_text())
    train, held = skeleton_split(params)
    loaded = load_renderer(MODELS_DIR / "renderer")
    base = dict((params.get("train_renderer") or {}).get("part_refiner") or {"steps": 1500})
    real: list[np.ndarray] = []
    sketches: list[np.ndarray] = []
    generated: list[np.ndarray] = []
    poses = []
    fps = 30.0
    generator_s = 0.0
    for rec in held:
        sk = sorted((SKELETONS_DIR / rec / "skeleton").glob("*.png"))
        clip = [read_rgb(x) for x in sk]
        real += [read_rgb(SKELETONS_DIR / rec / "frames" / x.name) for x in sk]
        sketches += clip
        t = time.perf_counter()
        generated += render_frames(loaded.generator, clip)
        generator_s += time.perf_counter() - t
        motion = load_motion(FIT_DIR / "motion" / f"{rec}.npz")
        poses.append(motion.poses[: len(clip)])
        fps = motion.fps
    driving = np.concatenate(poses)

    settings = refiner_settings({**base, "steps": max(1, int(base.get("steps", 1)))})
    assert settings is not None
    config, _, frames = settings
    t = time.perf_counter()
    samples = collect_part_samples(training_roll_outs(loaded.generator, train, frames), config)
    rollout_s = time.perf_counter() - t
    candidates: list[tuple[str, Any, float]] = [
        ("generator", None, 0.0),
        ("exemplar paste", _paste_only(config, exemplar_bank(samples, config)), 0.0),
    ]
    if loaded.refiner is not None:
        candidates.append(("checkpoint", loaded.refiner, 0.0))
    curves: dict[str, list[dict[str, float]]] = {}
    for name, fields in variants:
        s = refiner_settings({**base, **fields})
        if s is None:
            raise SystemExit(f"--variant {name}: steps 0 trains nothing")
        t = time.perf_counter()
        refinement, curve = train_part_refiner(
            samples
            if s[0] == config
            else collect_part_samples(training_roll_outs(loaded.generator, train, s[2]), s[0]),
            s[0],
            s[1],
        )
        seconds = time.perf_counter() - t
        print(
            f"[{name}] trained {s[1].steps} steps in {seconds:.0f} s: training L1 "
            f"{curve[0]['l1']:.1f} -> {curve[-1]['l1']:.1f} "
            f"(generator {curve[-1]['l1_generated']:.1f})",
            flush=True,
        )
        candidates.append((name, refinement, seconds))
        curves[name] = curve

    rows = []
    sheet_rows = []
    for name, refinement, seconds in candidates:
        t = time.perf_counter()
        frames_shown = (
            generated if refinement is None else _refined(refinement, generated, sketches)
        )
        ms = 1000 * (time.perf_counter() - t) / len(generated)
        if refinement is None:
            ms = 1000 * generator_s / len(generated)
        s = score_frames(real, frames_shown, sketches)
        r = readability(frames_shown, real, driving, fps)
        rows.append(
            (
                name,
                s.psnr,
                s.ssim,
                s.face_crop_l1,
                s.hands_crop_l1,
                r["detect_face_generated"],
                r["detect_hands_generated"],
                r["detect_all_generated"],
                r["mouth_pose_corr"],
                ms,
                seconds,
            )
        )
        sheet_rows.append(frames_shown)
        _hand_sheet([frames_shown, real], sketches, out / f"hands_{name.replace(' ', '_')}.png")
    rows.append(
        (
            "real frames",
            "",
            "",
            "",
            "",
            r["detect_face_real"],
            r["detect_hands_real"],
            r["detect_all_real"],
            r["mouth_pose_corr_real"],
            "",
            "",
        )
    )
    _hand_sheet([*sheet_rows, real], sketches, out / "hands_all.png")
    if curves:
        _plot_curves(curves, out / "refiner_curve.png")
    print_table(
        f"Part refiner on {workspace.name}: held-out {held} ({len(real)} frames), "
        f"{len(samples)} training part crops from {train} (roll-out {rollout_s:.0f} s); "
        f"{args.threads} threads; pictures in {out}",
        (
            "row",
            "PSNR dB",
            "SSIM",
            "face L1",
            "hands L1",
            "face found",
            "both hands found",
            "all found",
            "mouth r",
            "ms / frame",
            "train s",
        ),
        rows,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
