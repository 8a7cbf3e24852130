"""``s2v``: the command line. Each command group lives in its own module with ``register()``.

Errors the user can act on print one line ``s2v: error: ...`` and exit 1 (2 for usage errors,
as argparse does). Set ``S2V_DEBUG=1`` to see a traceback instead.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from speech2video import __version__
from speech2video.errors import S2VError

#: Modules that add commands, in the order ``s2v --help`` lists them.
COMMAND_MODULES: tuple[str, ...] = (
    "speech2video_cli.demo_command",
    "speech2video_cli.features_command",
    "speech2video_cli.transcribe_command",
    "speech2video_cli.tts_command",
    "speech2video_cli.keypose_command",
    "speech2video_cli.draw_command",
    "speech2video_cli.train_renderer_command",
    "speech2video_cli.render_command",
    "speech2video_cli.demo_speaker_command",
    "speech2video_cli.enrol_command",
    "speech2video_cli.models_command",
    "speech2video_cli.serve_command",
    "speech2video_cli.synthesize_command",
)


def build_parser() -> argparse.ArgumentParser:
    """The full ``s2v`` parser with every registered command."""
    parser = argparse.ArgumentParser(
        prog="s2v", description="Speech2Video: speech-driven full-body video of enrolled speakers."
    )
    parser.add_argument("--version", action="version", version=f"s2v {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result = args.func(args)
    except KeyboardInterrupt:
        print("s2v: interrupted", file=sys.stderr)
        return 130
    except (S2VError, OSError) as exc:
        if os.environ.get("S2V_DEBUG"):
            raise
        print(f"s2v: error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # a bug, not bad input: still one line unless debugging
        if os.environ.get("S2V_DEBUG"):
            raise
        print(
            f"s2v: internal error: {type(exc).__name__}: {exc} (S2V_DEBUG=1 shows a traceback)",
            file=sys.stderr,
        )
        return 1
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
