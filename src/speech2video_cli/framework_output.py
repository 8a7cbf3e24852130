"""Keeping frameworks' output off the terminal: the CLI's own lines stay, the rest goes to a file.

Ray, Serve and mediapipe write to the process's file descriptors 1 and 2 from Python loggers,
from C++, from threads that copy their workers' logs (through ``sys.stdout``/``sys.stderr``) and
from the processes they start (which inherit the descriptors). :func:`to_file` points all of it
at a log file and hands the caller a :class:`Terminal`: the CLI writes its own lines there.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO


@dataclass(frozen=True)
class Terminal:
    """The terminal's standard output and error while frameworks write to the log."""

    out: IO[str]
    err: IO[str]


def log_path(command: str, home: Path | None = None) -> Path:
    """``$S2V_HOME/logs/<command>-<UTC time>.log`` (S2V_HOME default ``./.s2v``)."""
    base = home or Path(os.environ.get("S2V_HOME", ".s2v"))
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    return base / "logs" / f"{command}-{stamp}.log"


@contextlib.contextmanager
def to_file(path: Path | IO[str]) -> Iterator[Terminal]:
    """Within the block, file descriptors 1 and 2 and ``sys.stdout``/``sys.stderr`` write to
    ``path`` (a path, appended to, or an open file); the yielded :class:`Terminal` writes to
    where they wrote before."""
    if isinstance(path, Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        log: IO[str] = path.open("a", encoding="utf-8", buffering=1)
        owned = True
    else:
        log, owned = path, False
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    old_streams = sys.stdout, sys.stderr
    terminal = Terminal(
        os.fdopen(os.dup(saved[0]), "w", buffering=1, encoding="utf-8"),
        os.fdopen(os.dup(saved[1]), "w", buffering=1, encoding="utf-8"),
    )
    try:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        sys.stdout = sys.stderr = log
        yield terminal
    finally:
        for stream in (log, terminal.out, terminal.err):
            with contextlib.suppress(ValueError, OSError):
                stream.flush()
        sys.stdout, sys.stderr = old_streams
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in saved:
            os.close(fd)
        terminal.out.close()
        terminal.err.close()
        if owned:
            log.close()


def standard() -> Terminal:
    """The process's own streams, for ``--verbose`` (frameworks write to the terminal too)."""
    return Terminal(sys.stdout, sys.stderr)
