"""Sending a motion once: digests, the replica's cache, and edits that rebuild the whole."""

from __future__ import annotations

import numpy as np
import pytest

from services.pose_deltas import MotionCache, apply_edits, motion_digest, pose_edits
from speech2video.body.motion_file import Motion


def _motion(frames: int = 40, seed: int = 0, speaker: str = "alice") -> Motion:
    rng = np.random.default_rng(seed)
    return Motion(rng.normal(size=(frames, 106)).astype(np.float32), 15.0, speaker=speaker)


def test_a_digest_changes_with_any_part_of_the_motion() -> None:
    motion = _motion()
    digest = motion_digest(motion)
    assert digest == motion_digest(_motion()) and len(digest) == 64
    nudged = motion.poses.copy()
    nudged[17, 3] += 1e-6
    assert motion_digest(motion.with_poses(nudged)) != digest
    assert motion_digest(_motion(speaker="bob")) != digest
    assert motion_digest(Motion(motion.poses, 30.0, speaker="alice")) != digest


def test_edits_are_the_changed_runs_and_rebuild_the_edited_motion() -> None:
    before = _motion().poses
    after = before.copy()
    after[5:9] += 1.0
    after[20] -= 2.0
    after[39] = 0.0
    edits = pose_edits(before, after)
    assert [(start, frames.shape[0]) for start, frames in edits] == [(5, 4), (20, 1), (39, 1)]
    np.testing.assert_array_equal(apply_edits(before, edits), after)
    assert pose_edits(before, before) == []


def test_an_edit_outside_the_motion_is_refused() -> None:
    poses = _motion().poses
    with pytest.raises(ValueError, match="does not fit"):
        apply_edits(poses, [(38, np.zeros((3, 106), np.float32))])


def test_the_cache_drops_the_least_recently_used_first() -> None:
    cache = MotionCache(max_motions=2)
    a, b, c = _motion(seed=1), _motion(seed=2), _motion(seed=3)
    cache.put("a", a)
    cache.put("b", b)
    assert cache.get("a") is a  # a is now the most recent
    cache.put("c", c)
    assert cache.get("b") is None and cache.get("a") is a and cache.get("c") is c


def test_the_cache_is_bounded_in_bytes() -> None:
    one = _motion(frames=100)
    cache = MotionCache(max_motions=10, max_bytes=int(one.poses.nbytes * 2.5))
    for i in range(5):
        cache.put(str(i), _motion(frames=100, seed=i))
    assert len(cache) == 2 and cache.get("4") is not None
