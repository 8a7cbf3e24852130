"""Live key poses: frames pushed as they come, words late; the frames that may be rendered."""

from __future__ import annotations

import numpy as np

from speech2video.motion.keypose_dictionary import KeyPoseDictionary, KeyPoseEntry
from speech2video.motion.keypose_insertion import KeyPoseInserter
from speech2video.motion.live_keyposes import LATE, LiveKeyPoses
from speech2video.motion.words import Word

FPS = 25.0
HUGE = np.full((1, 106), 0.5, np.float32)
WAVE = np.linspace(-0.3, 0.3, 106 * 12, dtype=np.float32).reshape(12, 106)


def _dict(probability: float = 1.0) -> KeyPoseDictionary:
    entries = [
        KeyPoseEntry("huge", probability, HUGE, is_motion=False),
        KeyPoseEntry("wave", probability, WAVE, is_motion=True),
    ]
    return KeyPoseDictionary("demo", {e.word: e for e in entries})


def _base(t: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(t, 106)).astype(np.float32)


WORDS = [
    Word("a", 0.5, 0.7),
    Word("huge", 2.0, 2.3),
    Word("wave", 3.2, 3.5),
    Word("huge", 6.1, 6.4),
]


def _whole(base: np.ndarray, dictionary: KeyPoseDictionary, seed: int = 3) -> np.ndarray:
    return KeyPoseInserter(dictionary, FPS).insert(base, WORDS, seed=seed, locked_frames=8).poses


def test_words_known_in_time_give_the_whole_file_frames_in_any_block_sizes() -> None:
    base = _base(200)
    for block in (1, 7, 40):
        live = LiveKeyPoses(_dict(0.7), FPS, seed=3, locked_frames=8)
        out = []
        for i in range(0, 200, block):
            if i == 0:
                live.push_words(WORDS, None)  # every word known before any frame
            live.push_frames(base[i : i + block])
            out.append(live.take())
        out.append(live.finish())
        np.testing.assert_array_equal(np.concatenate(out), _whole(base, _dict(0.7)))
        assert [e.status for e in live.log] == [
            e.status
            for e in KeyPoseInserter(_dict(0.7), FPS)
            .insert(base, WORDS, seed=3, locked_frames=8)
            .log
        ]


def test_frames_wait_for_words_then_go_without_a_deadline() -> None:
    live = LiveKeyPoses(_dict(), FPS, seed=0, locked_frames=8)
    live.push_frames(_base(100))
    assert len(live.take()) == 8  # only the opening: no word is known yet
    live.push_words([], 2.0)  # nothing before 2.0 s: frames < 50 − 15 (ramp 0.6 s) are final
    assert len(live.take()) == 35 - 8 and live.released == 35


def test_a_pending_key_pose_holds_frames_until_its_after_ramp_end_arrives() -> None:
    live = LiveKeyPoses(_dict(), FPS, seed=0, locked_frames=8)
    live.push_words([Word("huge", 2.0, 2.3)], 4.0)
    live.push_frames(_base(60))  # k = 50, key 50..57, after-ramp ends at 72: not here yet
    live.take()
    assert live.released == 50 - 15 + 1  # up to its ramp start s = 35 (kept)
    live.push_frames(_base(20, 1))
    live.take()
    assert live.released == 80 and live.log[0].status == "inserted"


def test_a_deadline_releases_frames_and_words_too_late_are_logged_late() -> None:
    live = LiveKeyPoses(_dict(), FPS, seed=0, locked_frames=8)
    base = _base(150)
    live.push_frames(base)
    frames = live.take(deadline_frame=100)  # the renderer must have frame 99 now
    assert len(frames) == 100
    np.testing.assert_array_equal(frames, base[:100])  # nothing known: as the model made them
    live.push_words([Word("huge", 2.0, 2.3), Word("huge", 4.2, 4.5)], 5.0)
    rest = live.finish()
    assert [e.status for e in live.log] == [LATE, "inserted"]
    assert live.late[0].word == "huge" and len(rest) == 50
    # the second one's before-ramp starts at the last released frame (99): shortened
    assert np.all(rest[105 - 100 : 105 - 100 + 8] == HUGE[0])


def test_a_deadline_drops_a_pending_key_pose_it_overtakes() -> None:
    live = LiveKeyPoses(_dict(), FPS, seed=0, locked_frames=8)
    live.push_words([Word("huge", 2.0, 2.3)], 2.5)
    live.push_frames(_base(60))
    frames = live.take(deadline_frame=55)
    assert len(frames) == 55 and live.log[0].status == LATE


def test_memory_stays_flat_on_a_long_stream() -> None:
    live = LiveKeyPoses(_dict(), FPS, seed=0, locked_frames=8)
    block = _base(25)
    sizes = []
    for second in range(600):
        live.push_frames(block)
        live.push_words([], float(second + 1))
        live.take()
        sizes.append(live._buf.shape[0])
    assert live.released > 14_900 and max(sizes[100:]) == sizes[100]


def test_disabled_releases_everything_at_once() -> None:
    live = LiveKeyPoses(_dict(), FPS, seed=0, disabled=True, locked_frames=8)
    live.push_frames(_base(30))
    assert len(live.take()) == 30
    live.push_words(WORDS, None)
    assert live.log == []


def test_a_deadline_inside_a_before_ramp_shortens_the_ramp() -> None:
    live = LiveKeyPoses(_dict(), FPS, seed=0, locked_frames=8)
    live.push_words([Word("huge", 2.0, 2.3)], 2.5)  # k = 50, ramp start s = 35
    base = _base(100)
    live.push_frames(base[:60])  # its after-ramp end (72) not here yet: still pending
    frames = live.take(deadline_frame=45)
    np.testing.assert_array_equal(frames, base[:45])
    live.push_frames(base[60:])
    rest = live.finish()
    assert live.log[0].status == "inserted"
    assert np.all(rest[50 - 45 : 58 - 45] == HUGE[0])  # the key pose is held at its frames
    w = (np.arange(45, 50) - 44) / (50 - 44)  # ramp from the last released frame, 44
    expected = (1 - w)[:, None] * base[44] + w[:, None] * HUGE[0]
    np.testing.assert_allclose(rest[:5], expected, atol=1e-6)
