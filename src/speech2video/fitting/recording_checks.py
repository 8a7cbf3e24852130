"""Is a recording usable to enrol a speaker? Checked on a few sampled frames before any training.

The method needs a fixed camera (the renderer learns one background and one framing), one
person, the face and both hands in view (the skeleton images carry them), speech, and enough of
it. :func:`check_recording` probes the file, samples ``samples`` frames spread over it and
measures:

- ``camera_shift``: the median global shift between consecutive sampled frames (phase
  correlation of the grey images, as a fraction of the frame diagonal): ~0 for a fixed camera,
  however the person moves;
- ``face_rate`` / ``hands_rate``: the share of sampled frames where the keypoint detector finds
  the face, and both hands;
- ``people_rate``: the share of sampled frames where a second person is found.

Each failed limit becomes one problem sentence naming the measured figure and the limit.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from speech2video.body.joint_tree import LEFT_HAND_JOINTS, RIGHT_HAND_JOINTS
from speech2video.errors import InputError


@dataclass(frozen=True)
class CheckLimits:
    """What a usable recording must meet (defaults suit a person filmed for enrolment)."""

    min_seconds: float = 2.0
    max_seconds: float = 1800.0
    samples: int = 12
    min_face_rate: float = 0.8
    min_hands_rate: float = 0.5
    max_people_rate: float = 0.2
    max_camera_shift: float = 0.01


@dataclass(frozen=True)
class RecordingCheck:
    """What was measured on one recording, and what is wrong with it (empty when usable)."""

    path: Path
    duration_s: float
    fps: float
    width: int
    height: int
    frames_sampled: int = 0
    face_rate: float = 0.0
    hands_rate: float = 0.0
    people_rate: float = 0.0
    camera_shift: float = 0.0
    problems: tuple[str, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return not self.problems


def camera_shift(frames: list[np.ndarray]) -> float:
    """Median global shift between consecutive frames, as a fraction of the frame diagonal.

    frames: (H, W, 3) uint8 RGB, in time order (at least 2)
    """
    import cv2

    if len(frames) < 2:
        return 0.0
    h, w = frames[0].shape[:2]
    scale = 256.0 / max(h, w)
    size = (max(8, round(w * scale)), max(8, round(h * scale)))
    grey = [
        cv2.resize(cv2.cvtColor(f, cv2.COLOR_RGB2GRAY), size, interpolation=cv2.INTER_AREA)
        for f in frames
    ]
    window = cv2.createHanningWindow(size, cv2.CV_64F)
    shifts = []
    for a, b in itertools.pairwise(grey):
        (dx, dy), _ = cv2.phaseCorrelate(a.astype(np.float64), b.astype(np.float64), window)
        shifts.append(np.hypot(dx, dy) / np.hypot(*size))
    return float(np.median(shifts))


def _people_counter():  # -> a callable (frame) -> int
    """A mediapipe pose landmarker that counts up to two people in a still image."""
    import mediapipe as mp
    from mediapipe.tasks.python import BaseOptions, vision

    from speech2video.fitting.keypoint_detector import model_path

    landmarker = vision.PoseLandmarker.create_from_options(
        vision.PoseLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(model_path("pose"))),
            running_mode=vision.RunningMode.IMAGE,
            num_poses=2,
            min_pose_detection_confidence=0.5,
            min_pose_presence_confidence=0.5,
        )
    )

    def count(frame: np.ndarray) -> int:
        image = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(frame))
        return len(landmarker.detect(image).pose_landmarks)

    return landmarker, count


def check_recording(path: str | Path, limits: CheckLimits | None = None) -> RecordingCheck:
    """Measure ``path`` and list what makes it unusable for enrolment (see the module doc)."""
    from speech2video.fitting.keypoint_detector import KeypointDetector
    from speech2video.render.video_cutting import sample_frames
    from speech2video.render.video_io import probe

    limits = limits or CheckLimits()
    path = Path(path)
    try:
        info = probe(path)
    except InputError as exc:
        return RecordingCheck(path, 0.0, 0.0, 0, 0, problems=(f"cannot be read ({exc})",))
    base = RecordingCheck(path, info.duration, info.fps, info.width, info.height)
    problems: list[str] = []
    if info.frames == 0 or info.fps <= 0:
        return _with(base, problems=("has no video frames",))
    if not info.has_audio:
        problems.append("has no audio stream (the speech is what the model learns from)")
    if info.variable_frame_rate:
        problems.append("has a variable frame rate (re-encode it at a constant rate)")
    if info.duration < limits.min_seconds:
        problems.append(f"is {info.duration:.1f} s long; need at least {limits.min_seconds:g} s")
    if info.duration > limits.max_seconds:
        problems.append(f"is {info.duration:.0f} s long; the limit is {limits.max_seconds:g} s")
    count = max(2, int(limits.samples))
    times = list(np.linspace(0.0, max(info.duration - 1.0 / info.fps, 0.0), count))
    sampled = sample_frames(path, times)
    frames = [f for _, f in sampled]
    if len(frames) < 2:
        return _with(base, problems=(*problems, "too few frames could be decoded"))
    shift = camera_shift(frames)
    face = hands = people = 0
    landmarker, count_people = _people_counter()
    try:
        with KeypointDetector(stills=True) as detector:
            for i, frame in enumerate(frames):
                _, conf, _, lconf = detector.detect(frame, 1000 * (i + 1))
                face += bool(lconf.any())
                hands += bool(conf[list(LEFT_HAND_JOINTS)].any()) and bool(
                    conf[list(RIGHT_HAND_JOINTS)].any()
                )
                people += count_people(frame) > 1
    finally:
        landmarker.close()
    n = len(frames)
    measured = _with(
        base,
        frames_sampled=n,
        face_rate=face / n,
        hands_rate=hands / n,
        people_rate=people / n,
        camera_shift=shift,
    )
    if shift > limits.max_camera_shift:
        problems.append(
            f"the camera moves (median shift {100 * shift:.1f} % of the frame between samples; "
            f"the limit is {100 * limits.max_camera_shift:.1f} %): film with a fixed camera"
        )
    if measured.face_rate < limits.min_face_rate:
        problems.append(
            f"the face is visible in {100 * measured.face_rate:.0f} % of sampled frames; "
            f"need {100 * limits.min_face_rate:.0f} %"
        )
    if measured.hands_rate < limits.min_hands_rate:
        problems.append(
            f"both hands are visible in {100 * measured.hands_rate:.0f} % of sampled frames; "
            f"need {100 * limits.min_hands_rate:.0f} %"
        )
    if measured.people_rate > limits.max_people_rate:
        problems.append(
            f"more than one person is in {100 * measured.people_rate:.0f} % of sampled frames; "
            f"the limit is {100 * limits.max_people_rate:.0f} % (one speaker per recording)"
        )
    return _with(measured, problems=tuple(problems))


def _with(check: RecordingCheck, **changes: object) -> RecordingCheck:
    from dataclasses import replace

    return replace(check, **changes)
