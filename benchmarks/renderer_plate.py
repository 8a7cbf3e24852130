"""Renderer with and without the background plate, on an enrolled real speaker's workspace.

    python -m benchmarks.renderer_plate WORKSPACE [--steps 300] [--out DIR]

WORKSPACE is a speaker workspace after its ``skeletons`` stage with ``framing: speaker`` (what
``s2v enrol`` makes). The demo generator is trained on the first recording's skeleton sequence
twice, without and with the plate (same seed, steps, 128² part-focused crops), and each renders
the last recording (held out); the table gives held-out PSNR and SSIM and the training minutes,
beside the plate itself as the prediction. Checkpoints and a side-by-side picture of a middle
held-out frame go to ``--out`` (default: a temporary folder): they hold frames of the speaker's
recording, so keep them out of the repository when its licence says so.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from benchmarks.table import print_table


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("workspace", type=Path)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from pipelines.train_renderer import with_plate
    from speech2video.evaluation.render_metrics import psnr, ssim
    from speech2video.render.checkpoint import load_renderer
    from speech2video.render.framing import crop_plate, load_framing
    from speech2video.render.renderer_config import load_config
    from speech2video.render.renderer_data import BACKGROUND_FILE, read_rgb
    from speech2video.render.renderer_inference import InferenceOptions, StreamingRenderer
    from speech2video.render.renderer_training import train_renderer

    skeletons = args.workspace / "data/interim/skeletons"
    framing = load_framing(args.workspace / "models/body_model")
    plate = crop_plate(framing) if framing is not None else None
    sequences = sorted(d for d in skeletons.iterdir() if (d / "skeleton").is_dir())
    if plate is None or len(sequences) < 2:
        print("needs a workspace with framing: speaker and two or more recordings", file=sys.stderr)
        return 2
    train, held = sequences[0], sequences[-1]
    torch.set_num_threads(args.threads)
    out = args.out or Path(tempfile.mkdtemp(prefix="s2v-plate-"))
    names = sorted(p.name for p in (held / "skeleton").glob("*.png"))
    real = [read_rgb(held / "frames" / n) for n in names]
    sketches = [read_rgb(held / "skeleton" / n) for n in names]
    rows = [
        (
            "the plate itself",
            np.mean([psnr(plate, r) for r in real]),
            np.mean([ssim(plate, r) for r in real]),
            0.0,
        )
    ]
    for label, with_background in (("without the plate", False), ("with the plate", True)):
        data = out / ("data_plate" if with_background else "data")
        data.mkdir(parents=True, exist_ok=True)
        if not (data / train.name).exists():
            os.symlink(train.resolve(), data / train.name)
        if with_background:
            cv2.imwrite(str(data / BACKGROUND_FILE), plate[:, :, ::-1])
        config = load_config("demo")
        training = dataclasses.replace(
            config.training, steps=args.steps, batch_size=1, crop=128, part_focus=0.5,
            lr_generator=5e-4, lr_discriminator=5e-4, checkpoint_every=args.steps,
        )  # fmt: skip
        config = with_plate(dataclasses.replace(config, training=training), data)
        ckpt = out / ("ckpt_plate" if with_background else "ckpt")
        t = time.perf_counter()
        train_renderer(data, ckpt, config, progress=False)
        minutes = (time.perf_counter() - t) / 60
        renderer = StreamingRenderer(
            load_renderer(ckpt).generator, InferenceOptions(device="cpu", engine="torch")
        )
        with torch.no_grad():
            frames = list(renderer.render_images(sketches))
        mid = len(frames) // 2
        side = np.concatenate([frames[mid], real[mid]], axis=1)[:, :, ::-1]
        cv2.imwrite(str(out / f"held_{'plate' if with_background else 'no_plate'}.png"), side)
        rows.append(
            (
                label,
                np.mean([psnr(f, r) for f, r in zip(frames, real, strict=True)]),
                np.mean([ssim(f, r) for f, r in zip(frames, real, strict=True)]),
                minutes,
            )
        )
    title = (
        f"Renderer on {train.name} → held-out {held.name} ({len(real)} frames), demo generator, "
        f"{args.steps} steps, {args.threads} threads; outputs in {out}"
    )
    print_table(title, ("renderer", "PSNR dB", "SSIM", "train min"), rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
