"""The SMPL-X kinematic tree: 55 joints, their names and parents (shared by every body model)."""

from __future__ import annotations

NUM_JOINTS = 55

JOINT_NAMES: tuple[str, ...] = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2",
    "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot", "neck", "left_collar",
    "right_collar", "head", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "jaw", "left_eye", "right_eye",
    "left_index1", "left_index2", "left_index3", "left_middle1", "left_middle2", "left_middle3",
    "left_pinky1", "left_pinky2", "left_pinky3", "left_ring1", "left_ring2", "left_ring3",
    "left_thumb1", "left_thumb2", "left_thumb3",
    "right_index1", "right_index2", "right_index3", "right_middle1", "right_middle2",
    "right_middle3", "right_pinky1", "right_pinky2", "right_pinky3", "right_ring1", "right_ring2",
    "right_ring3", "right_thumb1", "right_thumb2", "right_thumb3",
)  # fmt: skip

#: Parent index of each joint; -1 for the root (pelvis).
PARENTS: tuple[int, ...] = (
    -1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 15, 15, 15,
    20, 25, 26, 20, 28, 29, 20, 31, 32, 20, 34, 35, 20, 37, 38,
    21, 40, 41, 21, 43, 44, 21, 46, 47, 21, 49, 50, 21, 52, 53,
)  # fmt: skip

JOINT_INDEX: dict[str, int] = {name: i for i, name in enumerate(JOINT_NAMES)}

LEFT_WRIST = JOINT_INDEX["left_wrist"]
RIGHT_WRIST = JOINT_INDEX["right_wrist"]
HEAD = JOINT_INDEX["head"]
JAW_JOINT = JOINT_INDEX["jaw"]
#: Finger joints of each hand, in SMPL-X order (index, middle, pinky, ring, thumb; 3 each).
LEFT_HAND_JOINTS: tuple[int, ...] = tuple(range(25, 40))
RIGHT_HAND_JOINTS: tuple[int, ...] = tuple(range(40, 55))

#: Bones as (parent, child) pairs, excluding the root.
BONES: tuple[tuple[int, int], ...] = tuple((p, c) for c, p in enumerate(PARENTS) if p >= 0)

#: Face landmarks (51, the SMPL-X/iBUG-68 subset without the jaw line), by region.
NUM_FACE_LANDMARKS = 51
FACE_REGIONS: dict[str, tuple[int, ...]] = {
    "right_brow": tuple(range(0, 5)),
    "left_brow": tuple(range(5, 10)),
    "nose_bridge": tuple(range(10, 14)),
    "nose_base": tuple(range(14, 19)),
    "right_eye": tuple(range(19, 25)),
    "left_eye": tuple(range(25, 31)),
    "outer_lips": tuple(range(31, 43)),
    "inner_lips": tuple(range(43, 51)),
}
#: Mouth landmarks (outer + inner lips) used by the mouth keypoint error (paper Table 3).
MOUTH_LANDMARKS: tuple[int, ...] = FACE_REGIONS["outer_lips"] + FACE_REGIONS["inner_lips"]
#: Closed contours among the regions (drawn as loops).
CLOSED_FACE_REGIONS = frozenset({"right_eye", "left_eye", "outer_lips", "inner_lips"})
