"""``s2v draw --motion M.npz -o SKELETON.mp4``: motion → skeleton video (paper §3.5, Fig. 7)."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "draw",
        help="motion → skeleton video (the renderer's input)",
        description="Draw a motion as skeleton images (white face, green left-hand and magenta "
        "right-hand circles, colored limbs and fingers) and write an H.264 mp4 at the motion's "
        "frame rate, optionally with audio muxed in.",
    )
    p.add_argument("--motion", type=Path, required=True, help="motion .npz (T x 106)")
    p.add_argument("-o", "--output", type=Path, required=True, help="output .mp4")
    p.add_argument("--size", type=int, default=512, help="image side in pixels (default 512)")
    p.add_argument("--audio", type=Path, default=None, help="audio to mux in (any common type)")
    p.add_argument(
        "--body-model",
        choices=("skeleton", "smplx"),
        default="skeleton",
        help="body model kind (default: the open skeleton, no licensed file needed)",
    )
    p.add_argument(
        "--model-dir",
        type=Path,
        default=None,
        help="the speaker's saved skeleton, or the SMPL-X model files for --body-model smplx",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from speech2video.body.body_model import load_body_model
    from speech2video.body.motion_file import load_motion
    from speech2video.errors import InputError
    from speech2video.render.skeleton_video import write_skeleton_video

    if not 16 <= args.size <= 4096:
        raise InputError(f"--size must be between 16 and 4096 pixels; got {args.size}")
    motion = load_motion(args.motion)
    audio = None
    if args.audio is not None:
        from speech2video.audio.io import decode

        audio = decode(args.audio, max_seconds=None)
    model = load_body_model(
        args.body_model, args.model_dir, global_orient=motion.global_orient, betas=motion.betas
    )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    n = write_skeleton_video(args.output, motion, model, args.size, audio)
    print(f"wrote {args.output}: {n} frames at {motion.fps:g} fps, {args.size}x{args.size}")
    return 0
