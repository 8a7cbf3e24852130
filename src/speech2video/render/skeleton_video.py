"""Motion → skeleton images → skeleton video (the vid2vid input, paper §3.5).

Pose vectors go through the body model (3D joints and face landmarks), a fixed camera (2D pixel
positions) and the :class:`~speech2video.render.skeleton_painter.SkeletonPainter`. Frames are
produced lazily, a chunk of poses at a time, so long motions never sit in memory as images.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from speech2video.errors import InputError
from speech2video.render.skeleton_painter import SkeletonPainter

if TYPE_CHECKING:
    from speech2video.audio.io import Audio
    from speech2video.body.body_model import BodyModel
    from speech2video.body.motion_file import Motion

#: Pose frames sent to the body model at once.
DEFAULT_CHUNK = 256


class Projector(Protocol):
    """A camera: 3D points in metres → 2D pixel positions (x right, y down)."""

    def project(self, points: np.ndarray) -> np.ndarray:
        """points: (..., 3) → (..., 2)"""
        ...


def draw_motion(
    motion: Motion,
    body_model: BodyModel,
    camera: Projector,
    painter: SkeletonPainter,
    chunk: int = DEFAULT_CHUNK,
) -> Iterator[np.ndarray]:
    """Skeleton images of a motion, one per pose frame.

    motion: poses (T, 106); body_model: the speaker's body model; camera: fixed projection
    yields: T images, each (painter.height, painter.width, 3) uint8 RGB
    """
    if chunk < 1:
        raise InputError(f"chunk must be >= 1; got {chunk}")
    poses = motion.poses
    blocks = (poses[start : start + chunk] for start in range(0, poses.shape[0], chunk))
    return draw_pose_blocks(blocks, body_model, camera, painter)


def draw_pose_blocks(
    blocks: Iterable[np.ndarray],
    body_model: BodyModel,
    camera: Projector,
    painter: SkeletonPainter,
) -> Iterator[np.ndarray]:
    """Skeleton images of poses given in consecutive blocks (T_i, 106), one per pose frame,
    each block drawn as soon as it arrives."""
    for block in blocks:
        if len(block) == 0:
            continue
        body = body_model.forward(block)
        joints2d = np.asarray(camera.project(body.joints))
        landmarks2d = np.asarray(camera.project(body.landmarks))
        yield from painter.paint_sequence(joints2d, landmarks2d)


def frame_camera(body_model: BodyModel, width: int, height: int) -> Projector:
    """A fixed front pinhole camera framing the speaker's upper body (talking-speaker shot).

    Framed on the body model's zero pose (its rest pose under the speaker's fixed global
    orientation and translation), so the shot is the same for every motion of a speaker.
    """
    from speech2video.body.camera import PinholeCamera
    from speech2video.body.pose_layout import POSE_DIM

    rest = body_model.forward(np.zeros((1, POSE_DIM), np.float32)).joints[0]
    return PinholeCamera.framing(width, height, joints=rest)


def write_skeleton_video(
    path: str | Path,
    motion: Motion,
    body_model: BodyModel,
    size: int | tuple[int, int] = 512,
    audio: Audio | None = None,
    camera: Projector | None = None,
) -> int:
    """Draw a motion and write it as an H.264 mp4 at the motion's frame rate.

    size: square side, or (width, height), in pixels; camera: None uses :func:`frame_camera`
    returns: frames written (the motion's T)
    """
    from speech2video.render.video_io import write_video

    width, height = (size, size) if isinstance(size, int) else size
    painter = SkeletonPainter(width, height)
    cam = camera if camera is not None else frame_camera(body_model, width, height)
    return write_video(path, draw_motion(motion, body_model, cam, painter), motion.fps, audio)
