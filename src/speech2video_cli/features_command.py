"""``s2v features AUDIO -o FEATURES.npy``: the paper's 28-D audio features at 100 Hz."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "features",
        help="audio → (T, 28) MFCC features at 100 Hz",
        description="Compute the paper's 28-D audio features (13 MFCC + log volume, and their "
        "first-order differences) every 10 ms. Any common audio type, rate or channel count.",
    )
    p.add_argument("audio", type=Path, help="audio file (wav, flac, ogg, mp3, m4a, mp4, ...)")
    p.add_argument("-o", "--output", type=Path, required=True, help="output .npy, (T, 28) float32")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from speech2video.audio.features import compute_features
    from speech2video.audio.io import decode

    feats = compute_features(decode(args.audio).samples)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    np.save(args.output, feats)
    print(f"wrote {args.output} {feats.shape[0]}x{feats.shape[1]}")
    return 0
