"""Ground-truth motion of the demo speaker: mouth from the audio, gestures from the words' rhythm,
key poses at key words (inserted by the real :class:`KeyPoseInserter`).

Layers, all in the 106-space at the video rate:

- mouth: jaw and lip shapes from the audio (``synthetic.mouth``);
- face: blinks at random intervals, brow raises and head nods at stressed word onsets, a slow
  gaze wander, a faint smile;
- torso: slow idle sway of the spine, neck and head, leaning in while speaking;
- arms: the relaxed speaking stance (hands in front of the belly), lifted into the gesture
  space while speaking, and beat gestures (a forearm flick, palm opening) at stressed onsets;
- key poses: the true dictionary inserted at its key words (probability 1), after which the
  mouth and blinks are laid back on, so the mouth keeps following the speech during key poses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from speech2video.body import pose_layout as pl
from speech2video.errors import InputError
from speech2video.motion.keypose_dictionary import KeyPoseDictionary
from speech2video.motion.keypose_insertion import InsertionLogEntry, KeyPoseInserter
from speech2video.motion.words import Word, normalize_word
from speech2video.synthetic.mouth import LIP_COMPONENTS, AudioTracks, mouth_motion
from speech2video.synthetic.posing import (
    OPEN,
    RELAXED,
    REST_ARM,
    hand_coefficients,
    joint_columns,
    rest_pose,
    set_arm,
    target,
)

SMILE, BROW_RAISE, EYE_CLOSE = 0, 3, 5
#: Hands lifted to the lower chest while talking.
GESTURE_ARM = target((0.3, -0.92, 0.3), (-0.15, 0.45, 0.9), (-0.05, 0.35, 0.95), (-0.6, 0.6, 0.0))
#: A beat: forearm flicked up and out, palm opening upwards.
BEAT_ARM = target((0.4, -0.85, 0.35), (0.25, 0.7, 0.7), (0.3, 0.6, 0.75), (-0.2, 0.95, 0.1))
_FUNCTION_WORDS = frozenset(
    ("the", "and", "that", "with", "this", "from", "have", "they", "were", "will", "their",
     "what", "there", "about", "would", "could", "should", "which", "into", "than", "then",
     "them", "been", "some", "your", "over", "after", "when", "also", "just", "very")
)  # fmt: skip


@dataclass(frozen=True)
class SynthesizedMotion:
    """poses: (T, 106) float32 — the ground truth; base: (T, 106) float32 — before key-pose
    insertion; log: the inserter's log (one entry per key word)."""

    poses: np.ndarray
    base: np.ndarray
    log: list[InsertionLogEntry]


def _bump(t: np.ndarray, centre: float, rise: float, fall: float) -> np.ndarray:
    """Asymmetric Gaussian bump with peak 1 at ``centre``."""
    d = t - centre
    return np.exp(-0.5 * (d / np.where(d < 0, rise, fall)) ** 2)


def _smooth(x: np.ndarray, sigma_frames: float) -> np.ndarray:
    half = max(1, int(3 * sigma_frames))
    k = np.exp(-0.5 * (np.arange(-half, half + 1) / sigma_frames) ** 2)
    padded = np.pad(x, half, mode="edge")
    return np.convolve(padded, k / k.sum(), mode="valid")


def _sway(t: np.ndarray, rng: np.random.Generator, amplitude: float) -> np.ndarray:
    """Two slow sinusoids with random frequencies and phases: (T,)."""
    out = np.zeros_like(t)
    for _ in range(2):
        f, ph = rng.uniform(0.08, 0.45), rng.uniform(0, 2 * np.pi)
        out += amplitude * 0.5 * np.sin(2 * np.pi * f * t + ph)
    return out


def stressed_words(words: Sequence[Word]) -> list[Word]:
    """Words that carry a beat: content words of four letters or more."""
    out = []
    for w in words:
        key = normalize_word(w.word)
        if len(key) >= 4 and key not in _FUNCTION_WORDS:
            out.append(w)
    return out


def base_motion(
    tracks: AudioTracks, words: Sequence[Word], fps: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Speech-driven motion before key poses.

    returns: poses (T, 106) float32, jaw (T, 3), lips (T, 4) — the mouth laid on afterwards too
    """
    t_count = tracks.opening.shape[0]
    rng = np.random.default_rng(seed)
    t = np.arange(t_count) / fps
    poses = np.repeat(rest_pose()[None], t_count, axis=0).astype(np.float64)
    mouth = mouth_motion(tracks, rng)

    # Engagement: speaking activity, smoothed over ~0.5 s, scaled by this take's energy.
    energy = rng.uniform(0.5, 1.0)
    engaged = np.clip(_smooth((tracks.opening > 0.15).astype(np.float64), 0.5 * fps), 0, 1)
    engaged *= energy

    beats = {"left": np.zeros(t_count), "right": np.zeros(t_count)}
    nod = np.zeros(t_count)
    brows = np.zeros(t_count)
    for w in stressed_words(words):
        if rng.random() < 0.7:
            hand = rng.choice(["right", "right", "left", "both"])
            amp = rng.uniform(0.5, 1.0)
            shape = amp * _bump(t, w.start + 0.05, 0.12, 0.3)
            for side in ("left", "right"):
                if hand in (side, "both"):
                    beats[side] = np.maximum(beats[side], shape)
        if rng.random() < 0.5:
            nod += rng.uniform(0.04, 0.09) * _bump(t, w.start + 0.08, 0.1, 0.25)
        if rng.random() < 0.3:
            brows += rng.uniform(0.6, 1.4) * _bump(t, w.start, 0.1, 0.35)

    relaxed, open_hand = hand_coefficients(RELAXED), hand_coefficients(OPEN)
    for side, bias in (("left", rng.uniform(0.4, 0.8)), ("right", 1.0)):
        lift = np.clip(bias * engaged + 0.1 * _sway(t, rng, 1.0), 0, 1)
        arm = REST_ARM.blend(GESTURE_ARM, lift).blend(BEAT_ARM, beats[side])
        set_arm(poses, side, arm)
        opening = np.clip(0.35 * lift + beats[side], 0, 1)[:, None]
        cols = pl.LEFT_HAND if side == "left" else pl.RIGHT_HAND
        poses[:, cols] = (1 - opening) * relaxed + opening * open_hand
        poses[:, cols] += 0.08 * _sway(t, rng, 1.0)[:, None] * rng.normal(0, 1, 12)[None]

    # Torso and head: idle sway, leaning in while speaking, nods on stressed words.
    for name, amp in (("spine1", 0.012), ("spine2", 0.015), ("spine3", 0.015)):
        c = joint_columns(name)
        poses[:, c.start + 0] = _sway(t, rng, amp) + 0.02 * engaged
        poses[:, c.start + 1] = _sway(t, rng, amp) + 0.03 * (beats["left"] - beats["right"])
        poses[:, c.start + 2] = _sway(t, rng, amp)
    neck, head = joint_columns("neck"), joint_columns("head")
    turn = _sway(t, rng, 0.12)
    poses[:, neck.start + 0] = 0.4 * nod + _sway(t, rng, 0.02)
    poses[:, neck.start + 1] = 0.4 * turn
    poses[:, head.start + 0] = 0.6 * nod + _sway(t, rng, 0.03)
    poses[:, head.start + 1] = 0.6 * turn
    poses[:, head.start + 2] = _sway(t, rng, 0.05)

    # Eyes: fixations that jump every 0.6-2 s, leaning against the head turn.
    gaze = np.zeros((t_count, 2))
    k = 0
    while k < t_count:
        span = max(1, int(rng.uniform(0.6, 2.0) * fps))
        gaze[k : k + span] = rng.normal(0, [0.06, 0.12])
        k += span
    gaze[:, 1] -= 0.5 * turn
    for cols in (pl.LEFT_EYE, pl.RIGHT_EYE):
        poses[:, cols.start + 0] = gaze[:, 0]
        poses[:, cols.start + 1] = gaze[:, 1]

    expr = pl.EXPRESSION.start
    poses[:, expr + SMILE] = 0.25 + _sway(t, rng, 0.3)
    poses[:, expr + BROW_RAISE] = brows + 0.3 * engaged
    poses[:, expr + EYE_CLOSE] = blinks(t, rng)
    poses[:, pl.JAW] = mouth.jaw
    poses[:, [expr + c for c in LIP_COMPONENTS]] = mouth.lips
    return poses.astype(np.float32), mouth.jaw, mouth.lips


def blinks(t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Eye-close coefficient (T,): a ~150 ms blink every 2-5 s."""
    out = np.zeros_like(t)
    when = rng.uniform(0.3, 2.0)
    while when < t[-1] + 1:
        out = np.maximum(out, 1.6 * _bump(t, when, 0.05, 0.08))
        when += rng.uniform(2.0, 5.0)
    return out


def synthesize_motion(
    tracks: AudioTracks,
    words: Sequence[Word],
    fps: float,
    dictionary: KeyPoseDictionary,
    seed: int,
) -> SynthesizedMotion:
    """The ground-truth motion of one recording.

    tracks: speech descriptors at the video rate (T frames); words: timed words (seconds)
    returns: SynthesizedMotion with poses (T, 106); key words get the dictionary's pose at frame
    round(start × fps) in body and hands, the mouth keeps following the audio
    """
    if tracks.opening.ndim != 1 or tracks.opening.size == 0:
        raise InputError("speech tracks must hold at least one frame")
    base, jaw, lips = base_motion(tracks, words, fps, seed)
    result = KeyPoseInserter(dictionary, fps).insert(base, list(words), seed=seed)
    poses = result.poses.copy()
    expr = pl.EXPRESSION.start
    poses[:, pl.JAW] = jaw
    poses[:, [expr + c for c in LIP_COMPONENTS]] = lips
    poses[:, expr + EYE_CLOSE] = base[:, expr + EYE_CLOSE]
    return SynthesizedMotion(pl.check_poses(poses), base, result.log)
