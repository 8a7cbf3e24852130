"""What every stage shares: params, atomic outputs, one-line failures."""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml

from speech2video.errors import S2VError

PARAMS_FILE = "params.yaml"


class StageError(S2VError):
    """A stage cannot proceed; the message names the file and the reason."""


def load_params(section: str | None = None, path: str | Path = PARAMS_FILE) -> dict[str, Any]:
    """``params.yaml`` (or one top-level section of it) as a dict."""
    p = Path(path)
    if not p.is_file():
        raise StageError(f"{p}: params file not found (run stages from the repository root)")
    data = yaml.safe_load(p.read_text()) or {}
    if section is None:
        return data
    if section not in data:
        raise StageError(f"{p}: lacks the section '{section}'")
    return dict(data[section] or {})


@contextlib.contextmanager
def stage_output(path: str | Path) -> Iterator[Path]:
    """Yield a temporary sibling of ``path`` to write into; on success it replaces ``path``.

    On any exception the temporary output is removed and ``path`` is left as it was (or absent),
    so a failed stage never leaves a half-written output.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        yield tmp
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        elif target.exists() or target.is_symlink():
            target.unlink()
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def stage_file(path: str | Path) -> Iterator[Path]:
    """Like :func:`stage_output` for a single file: yields a temporary path, renamed on success."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent, suffix=target.suffix)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def run_stage(name: str, main: Callable[[], object]) -> None:
    """Run a stage's ``main``; user-facing failures print one line and exit 1."""
    try:
        main()
    except (S2VError, OSError) as exc:
        if os.environ.get("S2V_DEBUG"):
            raise
        print(f"stage {name}: error: {exc}", file=sys.stderr)
        sys.exit(1)
