"""Stage build_key_pose_dictionary: key words mined from the training recordings' words and fitted
motion join the keywords.csv rows (which win); held-out recordings are never mined."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from pipelines import build_key_pose_dictionary as stage
from pipelines.stage_io import StageError
from speech2video.body.camera import PinholeCamera
from speech2video.body.joint_tree import JOINT_INDEX
from speech2video.body.motion_file import Motion, save_motion
from speech2video.body.skeleton_model import OpenSkeletonModel
from speech2video.model_set import SpeakerProfile, save_speaker_profile
from speech2video.motion.keypose_dictionary import KeyPoseDictionary
from speech2video.motion.words import Word, save_words

FPS = 30.0
SECONDS = 6.0
#: The right shoulder's columns in the pose vector (body joints 1..21, three each).
SHOULDER = slice(3 * (JOINT_INDEX["right_shoulder"] - 1), 3 * JOINT_INDEX["right_shoulder"])


def poses(gestures: tuple[float, ...], seed: int) -> np.ndarray:
    """(T, 106) a calm speaker raising the right arm for 0.5 s from each time in ``gestures``."""
    t = np.arange(round(SECONDS * FPS)) / FPS
    out = 0.01 * np.random.default_rng(seed).normal(size=(t.size, 106))
    for g in gestures:
        out[:, SHOULDER.start + 2] += 1.2 * np.sin(np.pi * np.clip((t - g) / 0.5, 0, 1))
    return out.astype(np.float32)


def workspace(root: Path, params: dict, keywords_csv: str | None = None) -> None:
    """Recordings r1, r2 (training) and r3 (held out): fitted motion, words and a body model."""
    spk = root / "speaker"
    spk.mkdir()
    (spk / "speaker.yaml").write_text("speaker: s\nlanguage: en\n")
    if keywords_csv is not None:
        (spk / "keywords.csv").write_text(keywords_csv)
    recordings = {
        # huge and wave with a gesture; yes gestured at the very start (an edge)
        "r1": ((0.05, 2.05, 4.05), [("yes", 0.05), ("huge", 2.0), ("the", 3.0), ("wave", 4.0)]),
        "r2": ((), [("big", 2.0), ("wave", 3.0)]),  # spoken calmly
        "r3": ((2.05,), [("never", 2.0)]),  # held out: must not be learnt from
    }
    fit = root / "data/interim/fit"
    body = OpenSkeletonModel.default()
    profile = SpeakerProfile("s", FPS, 64, 64, body, PinholeCamera.framing(64, 64))
    save_speaker_profile(fit / "body_model", profile)
    (fit / "motion").mkdir()
    (root / "data/interim/features/words").mkdir(parents=True)
    for k, (rec, (gestures, said)) in enumerate(recordings.items()):
        (root / "data/interim/ingest" / rec).mkdir(parents=True)
        (root / "data/interim/ingest" / rec / "meta.json").write_text("{}")
        save_motion(fit / "motion" / f"{rec}.npz", Motion(poses(gestures, k), FPS, speaker="s"))
        words = [Word(w, s, s + 0.3) for w, s in said]
        save_words(root / "data/interim/features/words" / f"{rec}.json", words, source="stt")
    base = {"speaker_dir": "speaker", "split": {"holdout": ["r3"], "seed": 0}}
    (root / "params.yaml").write_text(yaml.safe_dump({**base, **params}))


def run(root: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[KeyPoseDictionary, dict]:
    monkeypatch.chdir(root)
    stage.main()
    dictionary = KeyPoseDictionary.load(root / "models/key_pose_dictionary/dictionary.yaml")
    return dictionary, json.loads((root / "metrics/key_words.json").read_text())


def test_a_speaker_without_keywords_csv_gets_key_words_from_the_transcripts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    workspace(tmp_path, {"build_key_pose_dictionary": {"probabilities": {"huge": 0.6}}})
    dictionary, report = run(tmp_path, monkeypatch)
    assert sorted(dictionary.entries) == ["huge", "wave"]  # not yes (an edge), never (held out)
    huge = dictionary.entries["huge"]
    assert huge.is_motion and huge.poses.shape == (28, 106) and huge.probability == 0.6
    mined = report["from_transcripts"]
    assert mined["recordings"] == ["r1", "r2"]
    chosen = {c["word"]: c for c in mined["chosen"]}
    assert chosen["wave"]["recording"] == "r1"  # the gestured occurrence, not r2's calm one
    assert chosen["huge"]["start"] == pytest.approx(1.7, abs=0.04) and chosen["huge"]["score"] > 2
    assert mined["rejected"]["yes"] == "too close to a recording edge"
    assert "weak gesture" in mined["rejected"]["big"]
    assert "never" not in mined["rejected"] and "never" not in chosen
    summary = json.loads((tmp_path / "metrics/build_key_pose_dictionary.json").read_text())
    assert summary == {"entries": 2, "motions": 2, "from_keywords_csv": 0, "from_transcripts": 2}


def test_keywords_csv_rows_win_and_their_recordings_are_not_mined(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    csv = "word,recording,start,end,kind\nWave,r2,2.9,3.1,still\n"
    workspace(tmp_path, {}, keywords_csv=csv)
    dictionary, report = run(tmp_path, monkeypatch)
    wave = dictionary.entries["wave"]
    assert not wave.is_motion and wave.poses.shape == (1, 106)  # the csv's still pose
    assert dictionary.entries["huge"].is_motion
    assert report["from_keywords_csv"][0]["word"] == "wave"
    assert [c["word"] for c in report["from_transcripts"]["chosen"]] == ["huge"]
    assert report["from_transcripts"]["recordings"] == ["r1"]  # r2 is a posing recording


def test_mining_can_be_switched_off_or_narrowed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    off = {"build_key_pose_dictionary": {"from_transcripts": {"enabled": False}}}
    workspace(tmp_path, off)
    dictionary, report = run(tmp_path, monkeypatch)
    assert not dictionary.entries and report["from_transcripts"] == {"enabled": False}
    only = {"vocabulary": ["huge"], "kinds": {"huge": "still"}}
    (tmp_path / "params.yaml").write_text(
        yaml.safe_dump({
            "speaker_dir": "speaker", "split": {"holdout": ["r3"]},
            "build_key_pose_dictionary": {"from_transcripts": only},
        })
    )  # fmt: skip
    dictionary, _ = run(tmp_path, monkeypatch)
    assert sorted(dictionary.entries) == ["huge"] and not dictionary.entries["huge"].is_motion


def test_bad_selection_params_are_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = {"build_key_pose_dictionary": {"from_transcripts": {"kind": "pose"}}}
    workspace(tmp_path, bad)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(StageError, match=r"params\.yaml build_key_pose_dictionary"):
        stage.main()
    assert not (tmp_path / "models/key_pose_dictionary").exists()
