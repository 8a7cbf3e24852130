"""The tiny demo speaker folder: every file, consistent lengths, ground truth that holds."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import yaml

from speech2video.body import pose_layout as pl
from speech2video.body.motion_file import load_motion
from speech2video.errors import InputError
from speech2video.model_set import load_speaker_profile
from speech2video.motion.keypose_dictionary import KeyPoseDictionary
from speech2video.motion.words import load_words, normalize_word
from speech2video.render.video_io import probe, read_video
from speech2video.synthetic import demo_speaker as ds
from speech2video.synthetic.config import get_config
from speech2video.synthetic.demo_speaker import DemoSpeakerSummary, generate_demo_speaker
from speech2video.synthetic.key_poses import KEY_WORDS

BODY_HANDS = np.r_[pl.BODY, pl.HANDS]


def _ids(root: Path) -> list[str]:
    return sorted(p.stem for p in (root / "recordings").glob("*.mp4"))


def test_folder_has_every_file(tiny_dir: Path, tiny_speaker: DemoSpeakerSummary) -> None:
    meta = yaml.safe_load((tiny_dir / "speaker.yaml").read_text())
    assert meta == {
        "speaker": "demo", "language": "en", "fps": 15.0, "width": 128, "height": 128,
        "synthetic": True, "seed": 3, "config": "tiny",
    }  # fmt: skip
    ids = _ids(tiny_dir)
    assert [i for i in ids if i.startswith("utt_")] == ["utt_000", "utt_001", "utt_002", "utt_003"]
    assert {i for i in ids if i.startswith("pose_")} == {f"pose_{w}" for w in KEY_WORDS}
    for rec in ids:
        assert (tiny_dir / "transcripts" / f"{rec}.json").is_file()
        assert (tiny_dir / "ground_truth" / f"{rec}.npz").is_file()
    profile = load_speaker_profile(tiny_dir / "ground_truth" / "body_model")
    assert (profile.speaker, profile.fps, profile.width, profile.height) == ("demo", 15.0, 128, 128)
    dictionary = KeyPoseDictionary.load(
        tiny_dir / "ground_truth" / "key_pose_dictionary" / "dictionary.yaml"
    )
    assert set(dictionary.entries) == set(KEY_WORDS)
    assert dictionary.entries["wave"].is_motion and not dictionary.entries["huge"].is_motion
    assert not list(tiny_dir.parent.glob(".demo.*"))  # no temporary siblings left behind
    assert tiny_speaker.seconds_of_video > 20


def test_videos_have_audio_and_match_ground_truth(tiny_dir: Path) -> None:
    for rec in _ids(tiny_dir):
        info = probe(tiny_dir / "recordings" / f"{rec}.mp4")
        motion = load_motion(tiny_dir / "ground_truth" / f"{rec}.npz")
        assert info.has_audio and info.fps == 15.0 and (info.width, info.height) == (128, 128)
        # frames = round(true audio length x fps); the decoded AAC track differs from the true
        # audio by encoder padding/trimming (under one AAC frame, 64 ms = ~1 video frame)
        assert abs(info.audio_duration * 15.0 - info.frames) < 1.5
        assert motion.poses.shape == (info.frames, 106) and motion.fps == 15.0
        assert motion.speaker == "demo"


def test_jaw_follows_the_audio_envelope(tiny_dir: Path) -> None:
    lead = get_config("tiny").jaw_lead_s
    for rec in ("utt_000", "utt_001", "utt_002", "utt_003"):
        clip = read_video(tiny_dir / "recordings" / f"{rec}.mp4")
        jaw = load_motion(tiny_dir / "ground_truth" / f"{rec}.npz").poses[:, pl.JAW.start]
        x, rate = clip.audio.samples, clip.audio.rate
        env = np.array(
            [
                np.sqrt(np.mean(x[max(0, int(a * rate)) : max(1, int((a + 1 / 15) * rate))] ** 2))
                for a in np.arange(jaw.size) / 15.0 + lead - 0.5 / 15
            ]
        )
        assert np.corrcoef(env, jaw)[0, 1] > 0.6, rec


def test_key_words_get_their_key_pose(tiny_dir: Path, tiny_speaker: DemoSpeakerSummary) -> None:
    dictionary = KeyPoseDictionary.load(
        tiny_dir / "ground_truth" / "key_pose_dictionary" / "dictionary.yaml"
    )
    checked = 0
    for rec in _ids(tiny_dir):
        poses = load_motion(tiny_dir / "ground_truth" / f"{rec}.npz").poses
        log = {(e.word, e.start_frame): e.status for e in tiny_speaker.insertions[rec]}
        for word in load_words(tiny_dir / "transcripts" / f"{rec}.json"):
            entry = dictionary.lookup(word.word)
            if entry is None:
                continue
            k = round(word.start * 15.0)
            assert log[(word.word, k)] == "inserted", (rec, word)
            np.testing.assert_allclose(poses[k, BODY_HANDS], entry.first[BODY_HANDS], atol=1e-5)
            checked += 1
    assert checked >= len(KEY_WORDS) + 1  # every pose clip, and key words in the scripts


def test_keyword_rows_point_inside_their_recordings(tiny_dir: Path) -> None:
    dictionary = KeyPoseDictionary.load(
        tiny_dir / "ground_truth" / "key_pose_dictionary" / "dictionary.yaml"
    )
    with open(tiny_dir / "keywords.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["word", "recording", "start", "end", "kind"]
    assert {r["word"] for r in rows} == set(KEY_WORDS)
    for row in rows:
        info = probe(tiny_dir / "recordings" / f"{row['recording']}.mp4")
        start, end = float(row["start"]), float(row["end"])
        assert 0 <= start < end <= info.frames / 15.0
        entry = dictionary.entries[row["word"]]
        assert row["kind"] == ("motion" if entry.is_motion else "still")
        poses = load_motion(tiny_dir / "ground_truth" / f"{row['recording']}.npz").poses
        span = poses[round(start * 15) : round(end * 15), BODY_HANDS]
        expected = entry.poses[:, BODY_HANDS] if entry.is_motion else entry.first[BODY_HANDS]
        np.testing.assert_allclose(span, np.broadcast_to(expected, span.shape), atol=1e-5)
        words = [normalize_word(w.word) for w in load_words(
            tiny_dir / "transcripts" / f"{row['recording']}.json")]  # fmt: skip
        assert words == [row["word"]]


def test_existing_folder_needs_force(tiny_dir: Path) -> None:
    with pytest.raises(InputError, match="already exists"):
        generate_demo_speaker(tiny_dir, get_config("tiny"), seed=3)


def test_failure_leaves_nothing_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(ds, "_write_recording", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        generate_demo_speaker(tmp_path / "demo", get_config("tiny", num_utterances=1), seed=0)
    assert list(tmp_path.iterdir()) == []


def test_config_rejects_bad_values() -> None:
    with pytest.raises(InputError, match="unknown demo speaker config 'huge'"):
        get_config("huge")
    with pytest.raises(InputError, match="num_utterances"):
        get_config("tiny", num_utterances=0)
