"""The `s2v` command line as a user meets it: help everywhere, one-line errors, exit codes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from speech2video_cli.main import COMMAND_MODULES, build_parser, main


def _commands() -> list[list[str]]:
    """Every leaf command as an argv prefix, e.g. ["keypose", "insert"]."""
    import argparse

    out: list[list[str]] = []

    def walk(parser: argparse.ArgumentParser, prefix: list[str]) -> None:
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs:
            out.append(prefix)
        for action in subs:
            for name, child in action.choices.items():
                walk(child, [*prefix, name])

    walk(build_parser(), [])
    return out


def test_every_command_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    commands = _commands()
    assert len(commands) >= len(COMMAND_MODULES)
    for argv in commands:
        with pytest.raises(SystemExit) as exc:
            main([*argv, "--help"])
        assert exc.value.code == 0, argv
        assert "usage: s2v" in capsys.readouterr().out


def test_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["no-such-command"])
    assert exc.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_bad_input_gives_one_line_and_exit_1(tmp_path: Path) -> None:
    bad = tmp_path / "bad.npz"
    np.savez(bad, poses=np.zeros((3, 100), np.float32), fps=30.0)
    proc = subprocess.run(
        [sys.executable, "-m", "speech2video_cli.main", "draw", "--motion", str(bad), "-o",
         str(tmp_path / "out.mp4")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("s2v: error:") and "'poses'" in lines[0]
    assert "Traceback" not in proc.stderr


def test_cli_import_is_light() -> None:
    """Building the parser must not import torch, cv2 or av (no work at import time)."""
    code = (
        "import sys; from speech2video_cli.main import build_parser; build_parser(); "
        "mods = ('torch', 'cv2', 'av', 'librosa', 'faster_whisper'); "
        "heavy = [m for m in mods if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "", f"heavy modules imported by the CLI parser: {proc.stdout}"


def test_serve_up_on_a_taken_port_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    """The port check runs before Ray starts: exit 1 and a line naming the port, fast."""
    pytest.importorskip("ray.serve")
    import socket

    with socket.socket() as holder:
        holder.bind(("0.0.0.0", 0))
        holder.listen(1)
        taken = holder.getsockname()[1]
        assert main(["serve", "up", "--grpc-port", str(taken)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"port {taken} (grpc_options.port) is already in use" in err[0]
