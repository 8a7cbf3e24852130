"""``s2v keypose insert``: exit codes, outputs, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from speech2video.body.motion_file import Motion, load_motion, save_motion
from speech2video_cli.main import main


@pytest.fixture
def inputs(tmp_path: Path) -> dict[str, Path]:
    motion = tmp_path / "m.npz"
    save_motion(motion, Motion(np.zeros((150, 106), np.float32), 30.0, speaker="demo"))
    words = tmp_path / "w.json"
    words.write_text(
        json.dumps(
            [
                {"word": "It's", "start": 0.2, "end": 0.4},
                {"word": "HUGE!", "start": 2.0, "end": 2.4},
                {"word": "tiny", "start": 3.0, "end": 3.3},
                {"word": "huge", "start": 9.0, "end": 9.3},
            ]
        ),
        "utf-8",
    )
    d = tmp_path / "d.yaml"
    d.write_text(
        yaml.safe_dump(
            {
                "speaker": "demo",
                "entries": {
                    "huge": {"probability": 1.0, "pose": [0.5] * 106},
                    "tiny": {"probability": 0.0, "pose": [-0.5] * 106},
                },
            }
        ),
        "utf-8",
    )
    return {"motion": motion, "words": words, "dict": d, "dir": tmp_path}


def _argv(inp: dict[str, Path], *extra: str) -> list[str]:
    return [
        "keypose", "insert", "--motion", str(inp["motion"]), "--dictionary", str(inp["dict"]),
        "--words", str(inp["words"]), "-o", str(inp["dir"] / "out.npz"),
        "--log", str(inp["dir"] / "log.json"), *extra,
    ]  # fmt: skip


def test_insert_writes_motion_and_log(inputs: dict[str, Path], capsys) -> None:
    assert main(_argv(inputs, "--seed", "3", "--force", "tiny")) == 0
    out = load_motion(inputs["dir"] / "out.npz")
    assert out.fps == 30.0 and out.speaker == "demo" and out.poses.shape == (150, 106)
    assert np.all(out.poses[60:69] == 0.5) and np.all(out.poses[90:99] == -0.5)
    log = json.loads((inputs["dir"] / "log.json").read_text())
    assert [(e["word"], e["status"], e["start_frame"]) for e in log["insertions"]] == [
        ("HUGE!", "inserted", 60),
        ("tiny", "inserted", 90),
        ("huge", "out_of_range", -1),
    ]
    assert log["seed"] == 3 and "2 of 3" in capsys.readouterr().out


def test_forbid_and_rotation(inputs: dict[str, Path]) -> None:
    assert main(_argv(inputs, "--forbid", "huge", "--interpolation", "rotation")) == 0
    out = load_motion(inputs["dir"] / "out.npz")
    assert np.all(out.poses == 0.0)


def test_bad_motion_file_is_one_line_error(inputs: dict[str, Path], capsys) -> None:
    inputs["motion"].write_bytes(b"not a zip")
    assert main(_argv(inputs)) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("s2v: error: motion file m.npz") and "\n" not in err


def test_bad_dictionary_is_one_line_error(inputs: dict[str, Path], capsys) -> None:
    inputs["dict"].write_text("entries:\n  huge: {probability: 2, pose: [0]}\n", "utf-8")
    assert main(_argv(inputs)) == 1
    err = capsys.readouterr().err.strip()
    expected = "entry 'huge': probability must be in [0, 1]; got 2.0"
    assert err == f"s2v: error: key-pose dictionary d.yaml: {expected}"


def test_help_and_usage(capsys) -> None:
    with pytest.raises(SystemExit) as info:
        main(["keypose", "insert", "--help"])
    assert info.value.code == 0 and "--interpolation" in capsys.readouterr().out
    with pytest.raises(SystemExit) as info:
        main(["keypose"])
    assert info.value.code == 2
