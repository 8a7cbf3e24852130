"""``s2v keypose insert``: insert a speaker's key poses at their key words (paper §3.3)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    group = sub.add_parser(
        "keypose",
        help="key-pose dictionary: insert key poses at key words",
        description="Key-pose dictionary tools (paper §3.3).",
    )
    actions = group.add_subparsers(dest="keypose_action", metavar="ACTION", required=True)
    p = actions.add_parser(
        "insert",
        help="insert key poses into a motion at the dictionary's key words",
        description="Insert the dictionary's key poses into a motion at the times their key "
        "words are spoken, each with its probability, with 0.6 s ramps before and after and "
        "still poses held 0.3 s (per-entry ramp_s / hold_s override these).",
    )
    p.add_argument("--motion", type=Path, required=True, help="input motion .npz (T x 106)")
    p.add_argument("--dictionary", type=Path, required=True, help="key-pose dictionary .yaml")
    p.add_argument("--words", type=Path, required=True, help="timed words .json")
    p.add_argument("--seed", type=int, default=None, help="random seed for the probabilities")
    p.add_argument("--force", nargs="+", default=[], metavar="WORD", help="always insert these")
    p.add_argument("--forbid", nargs="+", default=[], metavar="WORD", help="never insert these")
    p.add_argument(
        "--interpolation",
        choices=("linear", "rotation"),
        default="linear",
        help="ramp blending: linear in the 106 numbers (the paper) or per-joint slerp",
    )
    p.add_argument("-o", "--output", type=Path, required=True, help="output motion .npz")
    p.add_argument("--log", type=Path, default=None, help="write the insertion log as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from speech2video.body.motion_file import load_motion, save_motion
    from speech2video.motion.keypose_dictionary import KeyPoseDictionary
    from speech2video.motion.keypose_insertion import KeyPoseInserter
    from speech2video.motion.words import load_words

    motion = load_motion(args.motion)
    dictionary = KeyPoseDictionary.load(args.dictionary)
    words = load_words(args.words)
    inserter = KeyPoseInserter(dictionary, motion.fps, args.interpolation)
    result = inserter.insert(
        motion.poses, words, seed=args.seed, force=args.force, forbid=args.forbid
    )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    save_motion(args.output, motion.with_poses(result.poses))
    if args.log is not None:
        args.log.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "motion": str(args.motion),
            "dictionary": str(args.dictionary),
            "fps": motion.fps,
            "seed": args.seed,
            "interpolation": args.interpolation,
            "insertions": [e.to_dict() for e in result.log],
        }
        args.log.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.output}: {len(result.inserted)} of {len(result.log)} key words inserted")
    return 0
