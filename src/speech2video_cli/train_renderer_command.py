"""``s2v train-renderer DATA_DIR -o CHECKPOINT_DIR``: train the vid2vid renderer (paper §3.5)."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train-renderer",
        help="(skeleton image, frame) sequences → renderer checkpoint",
        description="Train the vid2vid-style renderer on DATA_DIR/<sequence>/skeleton/*.png and "
        "DATA_DIR/<sequence>/frames/*.png (same names). Single process, CPU or one GPU; an "
        "existing checkpoint in the output directory is resumed.",
    )
    p.add_argument("data_dir", type=Path, help="folder of training sequences")
    p.add_argument("-o", "--output", type=Path, required=True, help="checkpoint directory")
    p.add_argument(
        "--config",
        default="demo",
        help="preset (tiny, demo, production) or a JSON config file (default: demo)",
    )
    p.add_argument("--steps", type=int, default=None, help="train until this step")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: CUDA if any)")
    p.add_argument(
        "--no-resume", action="store_true", help="start over even if a checkpoint exists"
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from speech2video.errors import InputError
    from speech2video.render.renderer_config import load_config
    from speech2video.render.renderer_training import train_renderer

    config = load_config(args.config)
    if args.steps is not None:
        if args.steps < 1:
            raise InputError(f"--steps must be >= 1; got {args.steps}")
        config = config.with_steps(args.steps)
    result = train_renderer(
        args.data_dir,
        args.output,
        config,
        resume=not args.no_resume,
        device=args.device,
        progress=not args.quiet,
    )
    l1 = result.metrics.get("l1")
    tail = f", last L1 {l1:.4f}" if l1 is not None else ""
    print(f"renderer at step {result.step} in {result.checkpoint_dir}{tail}")
    return 0
