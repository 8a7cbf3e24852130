"""``s2v demo-speaker OUT_DIR``: generate the synthetic demo speaker (a speaker folder with ground
truth: recordings, transcripts, keywords, true poses, skeleton and key-pose dictionary)."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo-speaker",
        help="generate the synthetic demo speaker folder (with ground truth)",
        description="Write a complete synthetic speaker: TTS speech of built-in scripts, a "
        "painted person whose mouth follows the speech and whose gestures follow its rhythm, "
        "key poses at key words, and the ground truth (poses, skeleton, camera, dictionary).",
    )
    p.add_argument("out_dir", type=Path, metavar="OUT_DIR", help="folder to create")
    p.add_argument("--config", choices=("tiny", "demo"), default="demo", help="size preset")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--force", action="store_true", help="replace OUT_DIR if it exists")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from speech2video.synthetic.config import get_config
    from speech2video.synthetic.demo_speaker import generate_demo_speaker

    summary = generate_demo_speaker(
        args.out_dir, get_config(args.config), args.seed, force=args.force, progress=not args.quiet
    )
    print(
        f"wrote {summary.out_dir}: {len(summary.recordings)} recordings, "
        f"{summary.seconds_of_video:.1f} s of video, {len(summary.keywords)} key-pose clips "
        f"in {summary.wall_seconds:.1f} s"
    )
    return 0
