"""Key-pose insertion: the paper §3.3 rules with exact frame numbers."""

from __future__ import annotations

import numpy as np
import pytest

from speech2video.body import pose_layout as pl
from speech2video.body.rotations import rotation_angle_between
from speech2video.errors import InputError
from speech2video.motion.keypose_dictionary import KeyPoseDictionary, KeyPoseEntry
from speech2video.motion.keypose_insertion import KeyPoseInserter
from speech2video.motion.words import Word

FPS = 30.0


def _entry(word: str, pose: np.ndarray, probability: float = 1.0, **kw) -> KeyPoseEntry:
    poses = np.asarray(pose, np.float32).reshape(-1, 106)
    return KeyPoseEntry(word, probability, poses, is_motion=poses.shape[0] > 1, **kw)


def _dict(*entries: KeyPoseEntry) -> KeyPoseDictionary:
    return KeyPoseDictionary("demo", {e.word: e for e in entries})


def _base(t: int = 300) -> np.ndarray:
    return np.zeros((t, 106), np.float32)


def _words(*pairs: tuple[str, float]) -> list[Word]:
    return [Word(w, s, s + 0.3) for w, s in pairs]


HUGE = np.full(106, 0.5, np.float32)


def test_still_pose_at_2s_is_held_9_frames_at_frame_60() -> None:
    ins = KeyPoseInserter(_dict(_entry("huge", HUGE)), FPS)
    res = ins.insert(_base(), _words(("huge", 2.0)))
    held = np.all(res.poses == HUGE, axis=1)
    assert np.flatnonzero(held).tolist() == list(range(60, 69))  # round(0.3*30) = 9 frames
    (log,) = res.log
    assert (log.start_frame, log.end_frame, log.status) == (60, 68, "inserted")


def test_ramps_are_18_frames_and_monotone() -> None:
    rng = np.random.default_rng(1)
    base = rng.normal(size=(300, 106)).astype(np.float32)
    ins = KeyPoseInserter(_dict(_entry("huge", HUGE)), FPS)
    res = ins.insert(base, _words(("huge", 2.0)))
    changed = np.flatnonzero(np.any(res.poses != base, axis=1))
    # ramp start s = 60-18 = 42 and ramp end e = 68+18 = 86 keep their frames
    assert changed.min() == 43 and changed.max() == 85
    before = res.poses[42:61]  # s .. k
    after = res.poses[68:87]  # k_last .. e
    for ramp in (before, np.flip(after, 0)):
        d = np.diff(ramp, axis=0) * np.sign(ramp[-1] - ramp[0])
        assert np.all(d >= -1e-6), "each column moves monotonically from endpoint to endpoint"
    # exact weights: frame s + j is (1 - j/18) P[s] + j/18 K
    j = np.arange(19)[:, None] / 18.0
    np.testing.assert_allclose(before, (1 - j) * base[42] + j * HUGE, atol=1e-6)
    np.testing.assert_allclose(after, (1 - j) * HUGE + j * base[86], atol=1e-6)


def test_motion_clip_overwrites_exactly_its_length() -> None:
    clip = np.linspace(1, 2, 25 * 106, dtype=np.float32).reshape(25, 106)
    ins = KeyPoseInserter(_dict(_entry("wave", clip)), FPS)
    res = ins.insert(_base(), _words(("wave", 1.0)))
    np.testing.assert_array_equal(res.poses[30:55], clip)
    assert not np.array_equal(res.poses[55], clip[-1])
    assert (res.log[0].start_frame, res.log[0].end_frame) == (30, 54)
    # clipped at the end of the sequence
    res = ins.insert(_base(40), _words(("wave", 1.0)))
    np.testing.assert_array_equal(res.poses[30:40], clip[:10])
    assert res.log[0].end_frame == 39


def test_ramps_clip_at_sequence_boundaries() -> None:
    base = np.ones((25, 106), np.float32)
    ins = KeyPoseInserter(_dict(_entry("huge", HUGE)), FPS)
    res = ins.insert(base, _words(("huge", 0.2)))  # k = 6 < N = 18
    np.testing.assert_array_equal(res.poses[0], base[0])  # ramp from frame 0
    np.testing.assert_allclose(res.poses[3], 0.5 * base[0] + 0.5 * HUGE, atol=1e-6)
    assert np.all(res.poses[6:15] == HUGE)
    np.testing.assert_array_equal(res.poses[24], base[24])  # ramp to the last frame (not 32)
    w = (24 - 20) / (24 - 14)
    np.testing.assert_allclose(res.poses[20], (1 - w) * base[24] + w * HUGE, atol=1e-6)


def test_same_seed_same_result_and_probability_bounds() -> None:
    d = _dict(
        _entry("huge", HUGE, 0.5),
        _entry("never", HUGE * 2, 0.0),
        _entry("always", HUGE * 3, 1.0),
    )
    ins = KeyPoseInserter(d, FPS)
    words = _words(*[("huge", 0.5 + 1.5 * i) for i in range(12)])
    words += _words(("never", 20.0), ("always", 22.0))
    base = _base(900)
    a, b = ins.insert(base, words, seed=7), ins.insert(base, words, seed=7)
    np.testing.assert_array_equal(a.poses, b.poses)
    assert a.log == b.log
    statuses = [e.status for e in a.log if e.entry == "huge"]
    assert {"inserted", "skipped_probability"} == set(statuses)
    assert [e.status for e in a.log if e.entry != "huge"] == ["skipped_probability", "inserted"]
    # draws happen in word order: u < p decides, with one draw per matched word
    u = np.random.default_rng(7).random(14)
    assert statuses == ["inserted" if x < 0.5 else "skipped_probability" for x in u[:12]]


def test_force_and_forbid_do_not_shift_other_draws() -> None:
    d = _dict(_entry("huge", HUGE, 0.5), _entry("tiny", -HUGE, 0.0))
    ins = KeyPoseInserter(d, FPS)
    words = _words(*[("huge" if i % 2 else "tiny", 1.0 + 1.5 * i) for i in range(10)])
    plain = ins.insert(_base(600), words, seed=3)
    forced = ins.insert(_base(600), words, seed=3, force=["Tiny"])
    assert all(e.status == "inserted" for e in forced.log if e.entry == "tiny")
    assert [e.status for e in plain.log if e.entry == "huge"] == [
        e.status for e in forced.log if e.entry == "huge"
    ]
    forbid = ins.insert(_base(600), words, seed=3, force=["huge"], forbid=["huge"])
    assert all(e.status == "forbidden" for e in forbid.log if e.entry == "huge")
    assert np.all(forbid.poses[:, 0] != HUGE[0])


def test_overlap_rule_skips_second_key_span_and_chains_ramps() -> None:
    ins = KeyPoseInserter(_dict(_entry("huge", HUGE), _entry("tiny", -HUGE)), FPS)
    # huge at frame 60..68; tiny at 2.2 s -> frame 66 overlaps; tiny at 2.5 s -> 75 does not
    res = ins.insert(_base(), _words(("huge", 2.0), ("tiny", 2.2), ("tiny", 2.5)))
    assert [e.status for e in res.log] == ["inserted", "overlap", "inserted"]
    assert (res.log[1].start_frame, res.log[1].end_frame) == (66, 74)
    assert np.all(res.poses[60:69] == HUGE)  # the earlier key span is never overwritten
    assert np.all(res.poses[75:84] == -HUGE)
    # the ramp between chains key pose to key pose: 68 -> 75, linear in between
    w = (np.arange(68, 76) - 68) / 7.0
    np.testing.assert_allclose(res.poses[68:76, 0], (1 - w) * 0.5 + w * -0.5, atol=1e-6)


def test_words_past_the_end_and_unmatched_words() -> None:
    ins = KeyPoseInserter(_dict(_entry("huge", HUGE)), FPS)
    res = ins.insert(_base(30), _words(("hello", 0.1), ("Huge!", 0.5), ("huge", 5.0)))
    assert [(e.word, e.entry, e.status) for e in res.log] == [
        ("Huge!", "huge", "inserted"),
        ("huge", "huge", "out_of_range"),
    ]
    assert res.log[0].start_frame == 15 and res.log[0].to_dict()["time"] == 0.5


def test_rotation_mode_stays_on_the_great_circle() -> None:
    key = np.zeros(106, np.float32)
    key[pl.ROTATIONS] = np.tile([0.0, 0.0, 2.5], 24)
    key[pl.HANDS] = 1.0
    base = np.zeros((120, 106), np.float32)
    base[:, pl.ROTATIONS] = np.tile([1.2, 0.3, 0.0], 24)
    ins = KeyPoseInserter(_dict(_entry("huge", key)), FPS, interpolation="rotation")
    res = ins.insert(base, _words(("huge", 2.0)))
    ramp = res.poses[43:60, pl.ROTATIONS].reshape(-1, 24, 3)
    a = np.broadcast_to(base[42, pl.ROTATIONS].reshape(24, 3), ramp.shape)
    b = np.broadcast_to(key[pl.ROTATIONS].reshape(24, 3), ramp.shape)
    total = rotation_angle_between(a, b)
    np.testing.assert_allclose(
        rotation_angle_between(a, ramp) + rotation_angle_between(ramp, b), total, atol=1e-4
    )
    # angle grows linearly with the weight (slerp), hands stay linear
    w = (np.arange(43, 60) - 42) / 18.0
    np.testing.assert_allclose(rotation_angle_between(a, ramp)[:, 0], w * total[0, 0], atol=1e-4)
    np.testing.assert_allclose(res.poses[43:60, 72], w, atol=1e-6)
    linear = KeyPoseInserter(_dict(_entry("huge", key)), FPS).insert(base, _words(("huge", 2.0)))
    lin = linear.poses[43:60, pl.ROTATIONS].reshape(-1, 24, 3)
    off = rotation_angle_between(a, lin) + rotation_angle_between(lin, b) - total
    assert off.max() > 1e-2  # linear axis-angle blending leaves the great circle


def test_bad_arguments() -> None:
    d = _dict(_entry("huge", HUGE))
    with pytest.raises(InputError, match="interpolation"):
        KeyPoseInserter(d, FPS, interpolation="cubic")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="fps"):
        KeyPoseInserter(d, 0)
    with pytest.raises(InputError, match=r"\(T, 106\)"):
        KeyPoseInserter(d, FPS).insert(np.zeros((10, 100), np.float32), [])


def test_sixty_seconds_with_twenty_key_words_all_inserted() -> None:
    clip = np.ones((20, 106), np.float32)
    ins = KeyPoseInserter(_dict(_entry("huge", HUGE), _entry("wave", clip)), FPS)
    words = _words(*[("huge" if i % 2 else "wave", 1.0 + 2.9 * i) for i in range(20)])
    base = np.random.default_rng(0).normal(size=(1800, 106)).astype(np.float32)
    res = ins.insert(base, words, seed=0)
    assert len(res.inserted) == 20


def test_frames_before_final_frames_do_not_change_with_later_words() -> None:
    """Streaming: the key poses of the words heard so far fix the leading frames for good."""
    rng = np.random.default_rng(3)
    base = rng.standard_normal((200, 106)).astype(np.float32) * 0.1
    wave = rng.standard_normal((12, 106)).astype(np.float32)
    inserter = KeyPoseInserter(
        _dict(_entry("huge", HUGE, 0.7), _entry("wave", wave, 0.6, ramp_s=0.9)), FPS
    )
    words = _words(("huge", 0.5), ("wave", 1.1), ("huge", 2.4), ("wave", 2.7), ("huge", 4.0))
    whole = inserter.insert(base, words, seed=11)
    for cut in (1.0, 2.4, 2.5, 3.0):
        heard = [w for w in words if w.start < cut]
        head = inserter.insert(base, heard, seed=11)
        final = inserter.final_frames(cut, 200)
        assert final == max(round(cut * FPS) - 27, 0)  # the longest ramp: 0.9 s
        np.testing.assert_array_equal(head.poses[:final], whole.poses[:final])
        assert head.log == whole.log[: len(heard)]
    assert inserter.final_frames(float("inf"), 200) == 200


def test_locked_opening_is_never_written_and_ramps_start_after_it() -> None:
    """Rule 6: the first F frames stay as they are; a word inside them is logged ``opening``;
    a word just after gets a shortened before-ramp that starts at frame F-1."""
    base = np.random.default_rng(5).standard_normal((120, 106)).astype(np.float32)
    ins = KeyPoseInserter(_dict(_entry("huge", HUGE)), FPS)  # ramp 18 frames, hold 9
    res = ins.insert(base, _words(("huge", 0.2), ("huge", 0.5), ("huge", 2.0)), locked_frames=9)
    assert [e.status for e in res.log] == ["opening", "inserted", "inserted"]
    np.testing.assert_array_equal(res.poses[:9], base[:9])
    assert res.log[1].start_frame == 15
    np.testing.assert_array_equal(res.poses[15], HUGE)
    # before-ramp from frame 8 (kept) over 9..14 towards the key pose at 15, weights (i-8)/7
    w = (np.arange(9, 15) - 8) / 7
    expected = (1 - w)[:, None] * base[8] + w[:, None] * HUGE
    np.testing.assert_allclose(res.poses[9:15], expected, atol=1e-6)
    unlocked = ins.insert(base, _words(("huge", 0.2), ("huge", 0.5), ("huge", 2.0)))
    assert unlocked.log[0].status == "inserted"
    np.testing.assert_array_equal(res.poses[60:], unlocked.poses[60:])  # later words unchanged
    with pytest.raises(InputError, match="locked_frames"):
        ins.insert(base, [], locked_frames=-1)


def test_locked_opening_is_final_before_any_word_is_heard() -> None:
    ins = KeyPoseInserter(_dict(_entry("huge", HUGE)), FPS)
    assert ins.final_frames(0.0, 200, locked_frames=9) == 9
    assert ins.final_frames(0.2, 200) == 0
    assert ins.final_frames(1.0, 200, locked_frames=9) == 12  # 30 - 18 beats the lock
    assert ins.final_frames(0.0, 5, locked_frames=9) == 5


@pytest.mark.parametrize("fps", [15.0, 25.0, 30.0])
def test_synthesis_keeps_the_opening_for_streaming(fps: float) -> None:
    """Every synthesis leaves its first 0.3 s to the audio-to-pose model (the streamed video's
    first piece leaves before the words are heard), whatever the frame rate."""
    from speech2video import synthesis
    from speech2video.body.motion_file import Motion

    opening = synthesis.opening_frames(fps)
    assert opening == int(np.ceil(0.3 * fps - 1e-9)) and opening / fps >= 0.3
    motion = Motion(np.random.default_rng(1).standard_normal((90, 106)).astype(np.float32), fps)
    dictionary = _dict(_entry("huge", HUGE))
    words = _words(("huge", 0.1), ("huge", 1.5))
    res = synthesis.insert_key_poses(dictionary, motion, words, seed=0, force=["huge"])
    assert [e.status for e in res.log] == ["opening", "inserted"]
    np.testing.assert_array_equal(res.poses[:opening], motion.poses[:opening])
    assert synthesis.final_frames(dictionary, motion, 0.0) == opening
