"""Command-line options and set-up shared by the benchmarks."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
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


def enter_workspace(workspace: Path, out: Path | None, prefix: str) -> Path:
    """Work in an enrolment workspace: the pipeline's modules importable from this checkout,
    the current directory ``workspace`` (the stages' paths are relative to it); returns the
    output folder (``out``, else a new temporary one), created."""
    folder = (out or Path(tempfile.mkdtemp(prefix=prefix))).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    os.chdir(workspace)
    return folder
