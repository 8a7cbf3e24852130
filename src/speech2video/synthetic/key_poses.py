"""The demo speaker's true key-pose dictionary (paper §3.3, Fig. 5): what it poses for each word.

Still poses: huge (arms wide), tiny (hands close together, pinching), up (right hand raised),
down (palms pressing down), me (right hand on the chest), you (pointing at the viewer),
everyone (arms open, palms up). Motions: wave (the right hand waves beside the head), no (a head
shake). Every entry has probability 1: the ground truth poses at every key word. The mouth
(jaw and lip expression) of a key pose is neutral; the generated motion keeps the mouth
following the speech through key poses (see ``motion_synthesis``).
"""

from __future__ import annotations

import numpy as np

from speech2video.body import pose_layout as pl
from speech2video.motion.keypose_dictionary import KeyPoseDictionary, KeyPoseEntry
from speech2video.synthetic.posing import (
    FLAT,
    OPEN,
    PINCH,
    POINT,
    REST_ARM,
    ArmTarget,
    HandShape,
    hand_coefficients,
    joint_columns,
    rest_pose,
    set_arm,
    target,
)

#: Expression component indices (body/face_landmarks.EXPRESSION_NAMES).
SMILE, BROW_RAISE, BROW_FURROW, FROWN = 0, 3, 4, 9

_ARMS: dict[str, tuple[ArmTarget, ArmTarget]] = {  # word → (left arm, right arm)
    "huge": (target((0.7, -0.62, 0.4), (0.45, 0.45, 0.75), (0.45, 0.5, 0.75), (0.0, 0.2, 1.0)),)
    * 2,
    "tiny": (target((0.15, -0.95, 0.3), (-0.5, 0.55, 0.65), (-0.4, 0.4, 0.8), (-0.8, 0.3, 0.0)),)
    * 2,
    "down": (target((0.25, -0.95, 0.2), (0.25, -0.15, 0.95), (0.3, -0.1, 0.95), (0.0, -1.0, 0.0)),)
    * 2,
    "everyone": (target((0.45, -0.75, 0.5), (0.35, 0.05, 0.93), (0.4, 0.05, 0.9), (0.0, 1.0, 0.0)),)
    * 2,
    "up": (
        REST_ARM,
        target((0.85, -0.05, 0.3), (0.05, 1.0, 0.12), (0.0, 1.0, 0.1), (-1.0, 0.0, 0.3)),
    ),
    "me": (
        REST_ARM,
        target((0.2, -0.95, 0.25), (-0.75, 0.5, 0.45), (-0.95, 0.25, 0.0), (0.0, 0.0, -1.0)),
    ),
    "you": (
        REST_ARM,
        target((0.2, -0.3, 0.93), (0.05, 0.05, 1.0), (0.0, 0.05, 1.0), (-0.4, -1.0, 0.0)),
    ),
}
_HANDS: dict[str, tuple[HandShape, HandShape]] = {
    "huge": (OPEN, OPEN),
    "tiny": (PINCH, PINCH),
    "down": (FLAT, FLAT),
    "everyone": (OPEN, OPEN),
    "up": (HandShape(), POINT),
    "me": (HandShape(), FLAT),
    "you": (HandShape(), POINT),
}
_EXPRESSION: dict[str, dict[int, float]] = {
    "huge": {BROW_RAISE: 1.2, SMILE: 0.5},
    "tiny": {BROW_FURROW: 0.6},
    "up": {BROW_RAISE: 0.8},
    "down": {BROW_FURROW: 0.4},
    "me": {SMILE: 0.6},
    "you": {SMILE: 0.4, BROW_RAISE: 0.4},
    "everyone": {SMILE: 0.9, BROW_RAISE: 0.6},
}
WAVE_SECONDS = 1.4
NO_SECONDS = 1.0


def still_pose(word: str) -> np.ndarray:
    """(106,) float32 — the key pose of a still key word."""
    pose = rest_pose()[None].copy()
    left, right = _ARMS[word]
    set_arm(pose, "left", left)
    set_arm(pose, "right", right)
    lh, rh = _HANDS[word]
    pose[0, pl.LEFT_HAND] = hand_coefficients(lh)
    pose[0, pl.RIGHT_HAND] = hand_coefficients(rh)
    for k, v in _EXPRESSION[word].items():
        pose[0, pl.EXPRESSION.start + k] = v
    if word in ("up", "everyone", "huge"):
        pose[0, joint_columns("neck")] = [-0.06, 0.0, 0.0]  # chin up a little
    if word in ("me", "down", "tiny"):
        pose[0, joint_columns("head")] = [0.1, 0.0, 0.0]  # looking down a little
    return pose[0]


def wave_motion(fps: float) -> np.ndarray:
    """(L, 106) float32 — the right hand raised beside the head, waving side to side."""
    n = max(2, round(WAVE_SECONDS * fps))
    t = np.arange(n) / fps
    pose = np.repeat(rest_pose()[None], n, axis=0)
    swing = np.sin(2 * np.pi * 2.2 * t)  # ~2 waves per second
    raised = target((0.85, -0.15, 0.3), (0.2, 1.0, 0.15), (0.2, 1.0, 0.1), (0.0, 0.0, 1.0))
    fore = np.stack([0.15 + 0.45 * swing, np.ones(n), np.full(n, 0.15)], axis=1)
    arm = ArmTarget(
        np.repeat(raised.upper[None], n, 0), fore, fore, np.repeat(raised.palm[None], n, 0)
    )
    set_arm(pose, "right", arm)
    pose[:, pl.RIGHT_HAND] = hand_coefficients(OPEN)
    pose[:, pl.EXPRESSION.start + SMILE] = 1.0
    pose[:, pl.EXPRESSION.start + BROW_RAISE] = 0.6
    return pose.astype(np.float32)


def no_motion(fps: float) -> np.ndarray:
    """(L, 106) float32 — a head shake (neck and head turning) with a slight frown."""
    n = max(2, round(NO_SECONDS * fps))
    t = np.arange(n) / fps
    pose = np.repeat(rest_pose()[None], n, axis=0)
    shake = 0.22 * np.sin(2 * np.pi * 2.5 * t) * np.sin(np.pi * (t + 0.5 / fps) / NO_SECONDS)
    pose[:, joint_columns("neck").start + 1] = 0.4 * shake
    pose[:, joint_columns("head").start + 1] = 0.6 * shake
    pose[:, pl.EXPRESSION.start + FROWN] = 0.8
    pose[:, pl.EXPRESSION.start + BROW_FURROW] = 0.7
    return pose.astype(np.float32)


STILL_WORDS: tuple[str, ...] = tuple(_ARMS)
MOTION_WORDS: tuple[str, ...] = ("wave", "no")
KEY_WORDS: tuple[str, ...] = STILL_WORDS + MOTION_WORDS


def true_dictionary(fps: float, speaker: str = "demo") -> KeyPoseDictionary:
    """The dictionary the demo speaker's ground truth was generated with (probability 1)."""
    entries: dict[str, KeyPoseEntry] = {}
    for word in STILL_WORDS:
        entries[word] = KeyPoseEntry(word, 1.0, still_pose(word)[None], is_motion=False)
    entries["wave"] = KeyPoseEntry("wave", 1.0, wave_motion(fps), is_motion=True)
    entries["no"] = KeyPoseEntry("no", 1.0, no_motion(fps), is_motion=True)
    return KeyPoseDictionary(speaker, entries)
