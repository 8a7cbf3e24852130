"""Ground-truth motion and painting: seeded determinism, speech-driven mouth, visible mouth."""

from __future__ import annotations

import numpy as np

from speech2video.audio.io import Audio
from speech2video.body import pose_layout as pl
from speech2video.body.camera import PinholeCamera
from speech2video.body.joint_tree import MOUTH_LANDMARKS
from speech2video.body.skeleton_model import OpenSkeletonModel
from speech2video.motion.words import Word
from speech2video.synthetic.appearance import PersonPainter, body_frames
from speech2video.synthetic.key_poses import true_dictionary
from speech2video.synthetic.motion_synthesis import synthesize_motion
from speech2video.synthetic.mouth import audio_tracks
from speech2video.synthetic.posing import joint_columns, rest_pose

FPS = 15.0


def _babble(seconds: float = 3.0) -> tuple[Audio, list[Word]]:
    """Syllable-like bursts (4 per second) in quiet noise, with one word per burst."""
    rate = 16_000
    t = np.arange(int(seconds * rate)) / rate
    gate = (np.sin(2 * np.pi * 4 * t) > 0.2) & (t > 0.4) & (t < seconds - 0.4)
    rng = np.random.default_rng(0)
    x = 0.3 * np.sin(2 * np.pi * 180 * t) * gate + 0.003 * rng.standard_normal(t.size)
    words = ["today", "huge", "markets", "went", "lower", "again", "friends", "always", "smile"]
    starts = np.arange(0.45, seconds - 0.5, 0.25)[: len(words)]
    return Audio(x.astype(np.float32), rate), [
        Word(w, float(s), float(s) + 0.2) for w, s in zip(words, starts, strict=False)
    ]


def test_same_seed_same_poses_other_seed_other_gestures() -> None:
    audio, words = _babble()
    tracks = audio_tracks(audio, round(audio.duration * FPS), FPS, 0.07)
    d = true_dictionary(FPS)
    a = synthesize_motion(tracks, words, FPS, d, seed=5).poses
    b = synthesize_motion(tracks, words, FPS, d, seed=5).poses
    c = synthesize_motion(tracks, words, FPS, d, seed=6).poses
    np.testing.assert_array_equal(a, b)
    assert np.abs(a[:, pl.BODY] - c[:, pl.BODY]).max() > 0.01


def test_key_word_pose_and_mouth_during_it() -> None:
    audio, words = _babble()
    tracks = audio_tracks(audio, round(audio.duration * FPS), FPS, 0.07)
    d = true_dictionary(FPS)
    m = synthesize_motion(tracks, words, FPS, d, seed=1)
    k = round(words[1].start * FPS)  # "huge"
    np.testing.assert_allclose(m.poses[k, pl.BODY], d.entries["huge"].first[pl.BODY], atol=1e-6)
    np.testing.assert_array_equal(m.poses[:, pl.JAW], m.base[:, pl.JAW])  # mouth still talks
    assert [e.status for e in m.log] == ["inserted"]


def test_silence_keeps_the_mouth_closed_and_volume_does_not_matter() -> None:
    audio, _ = _babble()
    n = round(audio.duration * FPS)
    tracks = audio_tracks(audio, n, FPS, 0.07)
    loud = audio_tracks(Audio(audio.samples * 3.0, audio.rate), n, FPS, 0.07)
    np.testing.assert_allclose(tracks.opening, loud.opening, atol=1e-4)
    assert tracks.opening[:3].max() < 0.05 and tracks.opening[n // 2 - 3 : n // 2 + 3].max() > 0.8


def test_rest_pose_has_arms_down_and_hands_in_front() -> None:
    model = OpenSkeletonModel.default()
    joints = model.forward(rest_pose()[None]).joints[0]
    for side in ("left", "right"):
        shoulder = joints[joint_columns(f"{side}_shoulder").start // 3 + 1]
        wrist = joints[joint_columns(f"{side}_wrist").start // 3 + 1]
        assert wrist[1] < shoulder[1] - 0.15  # below the shoulder, not a T-pose
        assert abs(wrist[0]) < 0.15 and wrist[2] > 0.1  # in front of the belly


def test_mouth_region_changes_with_the_jaw_and_painting_is_deterministic() -> None:
    model = OpenSkeletonModel.default()
    camera = PinholeCamera.framing(128, 128)
    painter = PersonPainter(128, 128, camera)
    poses = np.repeat(rest_pose()[None], 2, axis=0)
    poses[1, pl.JAW.start] = 0.3
    closed, opened = (painter.paint(f) for f in body_frames(model, poses))
    lm = camera.project(model.forward(poses[:1]).landmarks[0, list(MOUTH_LANDMARKS)])
    x0, y0 = np.floor(lm.min(axis=0)).astype(int) - 2
    x1, y1 = np.ceil(lm.max(axis=0)).astype(int) + 6
    diff = np.abs(closed[y0:y1, x0:x1].astype(int) - opened[y0:y1, x0:x1].astype(int))
    assert diff.mean() > 8.0
    outside = np.abs(closed[: y0 - 12].astype(int) - opened[: y0 - 12].astype(int))
    assert outside.max() == 0  # only the mouth moved
    np.testing.assert_array_equal(closed, painter.paint(body_frames(model, poses[:1])[0]))
