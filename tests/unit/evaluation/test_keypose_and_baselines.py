"""Key-pose timing and the two baselines."""

from __future__ import annotations

import numpy as np
import pytest

from speech2video.evaluation import baselines
from speech2video.evaluation.keypose_metrics import key_frame_offsets, keypose_timing
from speech2video.motion.keypose_dictionary import KeyPoseDictionary, KeyPoseEntry
from speech2video.motion.words import Word

FPS = 30.0


def _dictionary(probability: float = 0.0) -> KeyPoseDictionary:
    huge = KeyPoseEntry("huge", probability, np.full((1, 106), 0.5, np.float32), False)
    wave = np.linspace(0.2, 0.8, 12, dtype=np.float32)[:, None].repeat(106, axis=1)
    tiny = KeyPoseEntry("tiny", probability, wave, True)
    return KeyPoseDictionary("demo", {"huge": huge, "tiny": tiny})


def test_every_dictionary_word_lands_on_its_start_frame() -> None:
    poses = np.zeros((300, 106), np.float32)
    words = [Word("Huge!", 2.01, 2.3), Word("the", 3.0, 3.1), Word("tiny", 5.52, 5.9)]
    offsets = key_frame_offsets(poses, words, _dictionary(probability=0.0), FPS)
    # probability 0 would never insert: the check forces every dictionary word
    assert offsets.shape == (2,)
    assert np.all(np.abs(offsets) <= 0.5 + 1e-9)
    timing = keypose_timing([(poses, words), (poses[:100], words)], _dictionary(), FPS)
    assert timing.count == 3 and timing.fraction == 1.0  # 100 frames: "tiny" is past the end
    assert np.isnan(keypose_timing([], _dictionary(), FPS).fraction)


def test_late_key_frame_counts_as_off_time() -> None:
    timing = keypose_timing([], _dictionary(), FPS)
    late = type(timing)(np.array([0.2, -1.0, 2.4]), 1.0)
    assert late.within == 2 and late.fraction == pytest.approx(2 / 3)


def test_mean_pose_and_shuffled_features() -> None:
    a = np.zeros((10, 106), np.float32)
    b = np.ones((30, 106), np.float32)
    mean = baselines.mean_pose([a, b])
    assert mean.shape == (106,) and mean[0] == pytest.approx(0.75)  # frame-weighted
    seq = baselines.mean_pose_sequence(mean, 7)
    assert seq.shape == (7, 106) and np.all(seq == mean)
    feats = np.arange(50 * 28, dtype=np.float32).reshape(50, 28)
    s1, s2 = baselines.shuffle_features(feats, 1), baselines.shuffle_features(feats, 1)
    assert np.array_equal(s1, s2) and not np.array_equal(s1, feats)
    assert np.array_equal(np.sort(s1[:, 0]), feats[:, 0])  # the same rows, another order
    assert not np.array_equal(baselines.shuffle_features(feats, 2), s1)
    with pytest.raises(ValueError, match="at least one"):
        baselines.mean_pose([])
