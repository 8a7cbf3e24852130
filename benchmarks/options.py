"""Command-line options shared by the serving benchmarks."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_renderer_option(parser: argparse.ArgumentParser) -> None:
    """``--renderer DIR``: a trained renderer component to serve instead of the preset's
    untrained one (None when not given)."""
    parser.add_argument(
        "--renderer",
        type=Path,
        default=None,
        help="a trained renderer component to serve (e.g. assets/demo/models/renderer, with its "
        "int8 step) instead of the preset's untrained one",
    )
