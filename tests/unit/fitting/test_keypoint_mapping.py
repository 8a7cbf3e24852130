"""The mediapipe → SMPL-X mapping tables and conversions."""

from __future__ import annotations

import numpy as np

from speech2video.body.joint_tree import (
    FACE_REGIONS,
    JOINT_INDEX,
    LEFT_HAND_JOINTS,
    NUM_FACE_LANDMARKS,
    NUM_JOINTS,
)
from speech2video.fitting import keypoint_mapping as km


def test_tables_have_the_right_sizes_and_ids() -> None:
    assert len(km.FACE_MESH_TO_IBUG51) == NUM_FACE_LANDMARKS
    assert len(set(km.FACE_MESH_TO_IBUG51)) == NUM_FACE_LANDMARKS
    assert all(0 <= i < 468 for i in km.FACE_MESH_TO_IBUG51)
    assert sum(len(r) for r in FACE_REGIONS.values()) == NUM_FACE_LANDMARKS
    assert len(km.HAND_TO_SMPLX) == 15 and len(set(km.HAND_TO_SMPLX)) == 15
    assert all(1 <= i <= 20 and i % 4 != 0 for i in km.HAND_TO_SMPLX)  # no fingertips
    assert set(km.POSE_TO_SMPLX) <= set(JOINT_INDEX)
    assert all(0 <= i < km.NUM_POSE_LANDMARKS for i in km.POSE_TO_SMPLX.values())
    # person's left ↔ mediapipe's odd (left) pose landmarks
    for name, k in km.POSE_TO_SMPLX.items():
        if name.startswith("left_") and name != "left_eye":
            assert k % 2 == 1


def test_map_pose_zeroes_unmapped_and_outside_points() -> None:
    pose = np.full((33, 2), 50.0, np.float32)
    pose[27] = (50, 500)  # left ankle below a 100x100 image
    joints, conf = km.map_pose(pose, np.ones(33), 100, 100)
    assert joints.shape == (NUM_JOINTS, 2) and conf.shape == (NUM_JOINTS,)
    assert conf[JOINT_INDEX["left_ankle"]] == 0.0
    assert conf[JOINT_INDEX["pelvis"]] == 0.0 and conf[JOINT_INDEX["neck"]] == 0.0
    assert conf[JOINT_INDEX["left_elbow"]] == 1.0
    assert conf[JOINT_INDEX["head"]] == km.DERIVED_HEAD_CONFIDENCE


def test_hands_follow_the_pose_wrists_and_fill_fingers() -> None:
    pose_wrists = np.array([[80.0, 50.0], [20.0, 50.0]])  # person's left on the image right
    sides = km.assign_hands(np.array([[22.0, 52.0], [78.0, 49.0]]), ["Left", "Left"],
                            pose_wrists, np.ones(2))  # fmt: skip
    assert sides == ["right", "left"]
    # without pose wrists, mediapipe's mirrored labels are un-mirrored
    assert km.assign_hands(np.zeros((1, 2)), ["Left"], pose_wrists, np.zeros(2)) == ["right"]
    joints, conf = np.zeros((NUM_JOINTS, 2)), np.zeros(NUM_JOINTS)
    hand = np.arange(42, dtype=np.float32).reshape(21, 2)
    km.map_hand(joints, conf, hand, 0.9, "left")
    assert np.allclose(conf[list(LEFT_HAND_JOINTS)], 0.9)
    assert np.allclose(joints[JOINT_INDEX["left_index1"]], hand[5])
    assert np.allclose(joints[JOINT_INDEX["left_thumb1"]], hand[1])
    assert np.allclose(joints[JOINT_INDEX["left_wrist"]], hand[0])


def test_map_face_picks_the_51_points() -> None:
    mesh = np.stack([np.arange(478), np.zeros(478)], axis=1).astype(np.float32)
    lm = km.map_face(mesh)
    assert lm.shape == (NUM_FACE_LANDMARKS, 2)
    assert lm[0, 0] == km.FACE_MESH_TO_IBUG51[0]
