"""Key-pose dictionary: YAML form, validation naming entry and field, save/load round trip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from speech2video.errors import InputError
from speech2video.motion.keypose_dictionary import (
    DEFAULT_HOLD_S,
    DEFAULT_RAMP_S,
    KeyPoseDictionary,
)


def _write(tmp_path: Path, entries: dict, speaker: str = "demo") -> Path:
    path = tmp_path / "dict.yaml"
    path.write_text(yaml.safe_dump({"speaker": speaker, "entries": entries}), "utf-8")
    return path


def _pose(value: float) -> list[float]:
    return [value] * 106


def test_load_still_and_motion_entries(tmp_path: Path) -> None:
    clip = np.linspace(0, 1, 7 * 106, dtype=np.float32).reshape(7, 106)
    (tmp_path / "clips").mkdir()
    np.save(tmp_path / "clips" / "wave.npy", clip)
    path = _write(
        tmp_path,
        {
            "Huge": {"probability": 0.8, "pose": _pose(0.25)},
            "wave": {"probability": 1.0, "motion": "clips/wave.npy", "ramp_s": 0.4},
        },
    )
    d = KeyPoseDictionary.load(path)
    assert d.speaker == "demo" and len(d) == 2
    huge = d.lookup("HUGE!")
    assert huge is not None and not huge.is_motion
    assert huge.poses.shape == (1, 106) and huge.poses.dtype == np.float32
    assert huge.probability == 0.8
    assert (huge.ramp_s, huge.hold_s) == (DEFAULT_RAMP_S, DEFAULT_HOLD_S) == (0.6, 0.3)
    wave = d.lookup("wave,")
    assert wave is not None and wave.is_motion and wave.ramp_s == 0.4
    np.testing.assert_array_equal(wave.poses, clip)
    assert "huge" in d and "tiny" not in d


@pytest.mark.parametrize(
    ("entry", "needle"),
    [
        ({"probability": 1.5, "pose": _pose(0)}, "'big': probability"),
        ({"probability": -0.1, "pose": _pose(0)}, "'big': probability"),
        ({"probability": "high", "pose": _pose(0)}, "'big': probability"),
        ({"pose": _pose(0)}, "'big' lacks the field 'probability'"),
        ({"probability": 0.5, "pose": [0.0] * 105}, "'big': pose must be a list of 106"),
        ({"probability": 0.5, "pose": [*_pose(0)[:-1], "x"]}, "'big': pose[105]"),
        ({"probability": 0.5}, "'big' needs exactly one of"),
        ({"probability": 0.5, "pose": _pose(0), "motion": "a.npy"}, "'big' needs exactly one"),
        ({"probability": 0.5, "motion": "missing.npy"}, "'big': motion file not found"),
        ({"probability": 0.5, "pose": _pose(0), "ramp_s": -1}, "'big': ramp_s"),
        ({"probability": 0.5, "pose": _pose(0), "colour": 1}, "'big': unknown field"),
    ],
)
def test_bad_entries_name_entry_and_field(tmp_path: Path, entry: dict, needle: str) -> None:
    path = _write(tmp_path, {"big": entry})
    with pytest.raises(InputError, match=r"dict\.yaml") as info:
        KeyPoseDictionary.load(path)
    assert needle in str(info.value)


def test_motion_of_wrong_shape_is_rejected(tmp_path: Path) -> None:
    np.save(tmp_path / "bad.npy", np.zeros((5, 100), np.float32))
    path = _write(tmp_path, {"wave": {"probability": 1.0, "motion": "bad.npy"}})
    with pytest.raises(
        InputError, match=r"'wave': motion must have shape \(T, 106\); got \(5, 100\)"
    ):
        KeyPoseDictionary.load(path)


def test_duplicate_keys_after_normalization(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        {
            "huge": {"probability": 1, "pose": _pose(0)},
            "Huge!": {"probability": 1, "pose": _pose(1)},
        },
    )
    with pytest.raises(InputError, match="duplicates the key 'huge'"):
        KeyPoseDictionary.load(path)


def test_not_yaml_or_not_mapping(tmp_path: Path) -> None:
    bad = tmp_path / "d.yaml"
    bad.write_text("entries: [unclosed", "utf-8")
    with pytest.raises(InputError, match="not valid YAML"):
        KeyPoseDictionary.load(bad)
    bad.write_text("- 1\n- 2\n", "utf-8")
    with pytest.raises(InputError, match="must be a mapping"):
        KeyPoseDictionary.load(bad)
    with pytest.raises(InputError, match="not found"):
        KeyPoseDictionary.load(tmp_path / "nope.yaml")


def test_unsafe_yaml_tags_are_refused(tmp_path: Path) -> None:
    bad = tmp_path / "d.yaml"
    bad.write_text("entries: !!python/object/apply:os.system ['true']\n", "utf-8")
    with pytest.raises(InputError, match="not valid YAML"):
        KeyPoseDictionary.load(bad)


def test_save_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    clip = rng.normal(size=(12, 106)).astype(np.float32)
    (tmp_path / "src").mkdir()
    np.save(tmp_path / "src" / "w.npy", clip)
    pose = rng.normal(size=106).astype(np.float32)
    src = _write(
        tmp_path / "src",
        {
            "tiny": {"probability": 0.3, "pose": pose.tolist(), "hold_s": 0.5},
            "wave": {"probability": 1.0, "motion": "w.npy"},
        },
    )
    d = KeyPoseDictionary.load(src)
    out = tmp_path / "out" / "speaker.yaml"
    d.save(out)
    assert (tmp_path / "out" / "clips" / "wave.npy").is_file()
    back = KeyPoseDictionary.load(out)
    assert back.speaker == "demo" and set(back.entries) == {"tiny", "wave"}
    np.testing.assert_array_equal(back.entries["tiny"].poses[0], pose)
    assert back.entries["tiny"].hold_s == 0.5 and back.entries["tiny"].probability == 0.3
    np.testing.assert_array_equal(back.entries["wave"].poses, clip)
    assert back.entries["wave"].is_motion
