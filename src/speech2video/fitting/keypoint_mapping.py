"""The documented mapping from mediapipe's landmark sets to SMPL-X-ordered keypoints.

mediapipe gives three landmark sets per frame (DEPENDENCIES.md "2D whole-body keypoints"):

- pose, 33 landmarks (0 nose, 1-6 eyes, 7-8 ears, 9-10 mouth, 11-12 shoulders, 13-14 elbows,
  15-16 wrists, 17-22 hand tips, 23-24 hips, 25-26 knees, 27-28 ankles, 29-30 heels,
  31-32 foot index), each with a visibility score;
- hands, 21 landmarks each (0 wrist; thumb 1 CMC, 2 MCP, 3 IP, 4 tip; index 5 MCP, 6 PIP, 7 DIP,
  8 tip; middle 9-12; ring 13-16; pinky 17-20) with a handedness score;
- face mesh, 478 landmarks (468-477 the irises).

They become the 55 SMPL-X joints (``joint_tree.JOINT_NAMES``) and the 51 iBUG-68 face landmarks
without the jaw line (``joint_tree.FACE_REGIONS``):

- body: :data:`POSE_TO_SMPLX` (hips, knees, ankles, feet, shoulders, elbows, wrists, eyes map
  one to one); the ``head`` joint is the midpoint of the ears at half confidence
  (:data:`DERIVED_HEAD_CONFIDENCE`). pelvis, spine1-3, neck, collars and jaw have no keypoint
  (confidence 0): the fit places them through the skeleton.
- hands: :data:`HAND_TO_SMPLX` — wrist from hand landmark 0 (replacing the pose wrist), each
  finger's joints 1-3 from its MCP, PIP, DIP (thumb: CMC, MCP, IP); fingertips are not SMPL-X
  joints. Confidence is the hand's handedness score.
- face: :data:`FACE_MESH_TO_IBUG51`, the usual face-mesh → iBUG-68 correspondence (points
  17-67). When a face is found, the eye joints are the centres of the eye contours.

Coordinates are pixels (x right, y down). Landmarks outside the image by more than
:data:`OUTSIDE_MARGIN` of its size get confidence 0.
"""

from __future__ import annotations

import numpy as np

from speech2video.body.joint_tree import (
    FACE_REGIONS,
    JOINT_INDEX,
    LEFT_HAND_JOINTS,
    NUM_JOINTS,
    RIGHT_HAND_JOINTS,
)
from speech2video.errors import InputError

NUM_POSE_LANDMARKS = 33
NUM_HAND_LANDMARKS = 21
NUM_FACE_MESH_LANDMARKS = 478
#: Fraction of the image size a landmark may lie outside it and still count.
OUTSIDE_MARGIN = 0.02
#: Confidence factor of the ``head`` joint, which the ears only approximate.
DERIVED_HEAD_CONFIDENCE = 0.5

#: SMPL-X joint → mediapipe pose landmark, for joints observed one to one.
POSE_TO_SMPLX: dict[str, int] = {
    "left_hip": 23,
    "right_hip": 24,
    "left_knee": 25,
    "right_knee": 26,
    "left_ankle": 27,
    "right_ankle": 28,
    "left_foot": 31,
    "right_foot": 32,
    "left_shoulder": 11,
    "right_shoulder": 12,
    "left_elbow": 13,
    "right_elbow": 14,
    "left_wrist": 15,
    "right_wrist": 16,
    "left_eye": 2,
    "right_eye": 5,
}
#: Pose landmarks of the ears, whose midpoint stands for the ``head`` joint.
POSE_EARS: tuple[int, int] = (7, 8)
#: Pose landmarks of the wrists (person's left, right), used to tell which hand is which.
POSE_WRISTS: tuple[int, int] = (15, 16)

#: Hand landmark of each of a hand's 15 SMPL-X finger joints, in SMPL-X order
#: (index 1-3, middle 1-3, pinky 1-3, ring 1-3, thumb 1-3).
HAND_TO_SMPLX: tuple[int, ...] = (5, 6, 7, 9, 10, 11, 17, 18, 19, 13, 14, 15, 1, 2, 3)
HAND_WRIST = 0

#: Face-mesh index of each of the 51 landmarks (iBUG-68 points 17-67), in
#: ``joint_tree.FACE_REGIONS`` order: brows (subject's right, then left; outer → inner → outer),
#: nose bridge (top → tip), nose base (right → left), eyes (iBUG order from each outer/inner
#: corner), outer lips (right corner, upper lip, left corner, lower lip), inner lips.
FACE_MESH_TO_IBUG51: tuple[int, ...] = (
    71, 63, 105, 66, 107,  # right brow
    336, 296, 334, 293, 301,  # left brow
    168, 197, 5, 4,  # nose bridge
    75, 97, 2, 326, 305,  # nose base
    33, 160, 158, 133, 153, 144,  # right eye
    362, 385, 387, 263, 373, 380,  # left eye
    61, 39, 37, 0, 267, 269, 291, 405, 314, 17, 84, 181,  # outer lips
    78, 82, 13, 312, 308, 317, 14, 87,  # inner lips
)  # fmt: skip


def _inside(points: np.ndarray, width: int, height: int) -> np.ndarray:
    """points: (K, 2) px → (K,) bool, within the image grown by OUTSIDE_MARGIN."""
    mx, my = OUTSIDE_MARGIN * width, OUTSIDE_MARGIN * height
    x, y = points[:, 0], points[:, 1]
    ok = (x >= -mx) & (x <= width + mx) & (y >= -my) & (y <= height + my)
    return ok & np.all(np.isfinite(points), axis=1)


def map_pose(
    pose: np.ndarray, visibility: np.ndarray, width: int, height: int
) -> tuple[np.ndarray, np.ndarray]:
    """Body joints from the pose landmarks.

    pose: (33, 2) px; visibility: (33,) in [0, 1]
    returns: joints (55, 2) px (0 where unobserved), confidence (55,)
    """
    pose = np.asarray(pose, np.float32)
    vis = np.clip(np.asarray(visibility, np.float32), 0.0, 1.0)
    if pose.shape != (NUM_POSE_LANDMARKS, 2) or vis.shape != (NUM_POSE_LANDMARKS,):
        raise InputError(f"pose landmarks must be (33, 2) with (33,) visibility; got {pose.shape}")
    vis = np.where(_inside(pose, width, height), vis, 0.0)
    joints = np.zeros((NUM_JOINTS, 2), np.float32)
    conf = np.zeros(NUM_JOINTS, np.float32)
    for name, k in POSE_TO_SMPLX.items():
        joints[JOINT_INDEX[name]] = pose[k]
        conf[JOINT_INDEX[name]] = vis[k]
    a, b = POSE_EARS
    head = JOINT_INDEX["head"]
    joints[head] = (pose[a] + pose[b]) / 2
    conf[head] = DERIVED_HEAD_CONFIDENCE * min(vis[a], vis[b])
    return joints, conf


def map_hand(
    joints: np.ndarray, conf: np.ndarray, hand: np.ndarray, score: float, side: str
) -> None:
    """Write one hand's wrist and 15 finger joints into ``joints``/``conf`` in place.

    joints: (55, 2); conf: (55,); hand: (21, 2) px; score: handedness score; side: left|right
    (the person's).
    """
    hand = np.asarray(hand, np.float32)
    if hand.shape != (NUM_HAND_LANDMARKS, 2):
        raise InputError(f"hand landmarks must be (21, 2); got {hand.shape}")
    if side not in ("left", "right"):
        raise InputError(f"side must be 'left' or 'right'; got {side!r}")
    wrist = JOINT_INDEX[f"{side}_wrist"]
    ids = LEFT_HAND_JOINTS if side == "left" else RIGHT_HAND_JOINTS
    joints[wrist] = hand[HAND_WRIST]
    conf[wrist] = score
    joints[list(ids)] = hand[list(HAND_TO_SMPLX)]
    conf[list(ids)] = score


def assign_hands(
    hand_wrists: np.ndarray, labels: list[str], pose_wrists: np.ndarray, pose_conf: np.ndarray
) -> list[str]:
    """Which of the person's hands each detected hand is.

    hand_wrists: (H, 2) px wrist of each detected hand (H ≤ 2); labels: mediapipe handedness
    labels ('Left'/'Right', which assume a mirrored selfie image); pose_wrists: (2, 2) px the
    pose's left and right wrists; pose_conf: (2,) their visibility
    returns: 'left'/'right' per detected hand, distinct. The pose's wrists decide when they are
    visible (nearest assignment); otherwise the label, un-mirrored.
    """
    h = len(labels)
    if h == 0:
        return []
    if np.all(pose_conf >= 0.3):
        d = np.linalg.norm(hand_wrists[:, None, :] - pose_wrists[None, :, :], axis=-1)  # (H, 2)
        if h == 1:
            return ["left" if d[0, 0] <= d[0, 1] else "right"]
        straight = d[0, 0] + d[1, 1]
        crossed = d[0, 1] + d[1, 0]
        return ["left", "right"] if straight <= crossed else ["right", "left"]
    sides = ["right" if lab.lower() == "left" else "left" for lab in labels]
    if h == 2 and sides[0] == sides[1]:
        sides[1] = "right" if sides[0] == "left" else "left"
    return sides


def map_face(mesh: np.ndarray) -> np.ndarray:
    """mesh: (≥468, 2) face-mesh landmarks px → (51, 2) iBUG-style landmarks px."""
    mesh = np.asarray(mesh, np.float32)
    if mesh.ndim != 2 or mesh.shape[0] < 468 or mesh.shape[1] != 2:
        raise InputError(f"face mesh must be (478, 2); got {mesh.shape}")
    return mesh[list(FACE_MESH_TO_IBUG51)]


def eye_centres(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """landmarks: (51, 2) → (left eye centre (2,), right eye centre (2,)), the contour means."""
    left = landmarks[list(FACE_REGIONS["left_eye"])].mean(axis=0)
    right = landmarks[list(FACE_REGIONS["right_eye"])].mean(axis=0)
    return left, right
