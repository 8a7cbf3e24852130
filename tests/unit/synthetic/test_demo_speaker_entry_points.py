"""The ``s2v demo-speaker`` command module and the DVC stage's parameters."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from pipelines.demo_speaker import stage_params
from speech2video.errors import InputError
from speech2video_cli import demo_speaker_command


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="s2v")
    demo_speaker_command.register(parser.add_subparsers(dest="command"))
    return parser.parse_args(argv)


def test_command_refuses_existing_folder_without_force(tmp_path: Path) -> None:
    args = _parse(["demo-speaker", str(tmp_path), "--config", "tiny", "--seed", "2", "--quiet"])
    assert (args.config, args.seed, args.force) == ("tiny", 2, False)
    with pytest.raises(InputError, match="already exists"):
        args.func(args)


def test_stage_params_defaults_and_errors() -> None:
    assert stage_params({"demo_speaker": {"config": "demo", "seed": 4}}) == (
        "demo", 4, Path("data/demo_speaker"),
    )  # fmt: skip
    with pytest.raises(InputError, match="seed must be an integer"):
        stage_params({"demo_speaker": {"seed": "x"}})
