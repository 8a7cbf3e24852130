"""Reading and writing mp4 video with PyAV: H.264 (libx264, yuv420p) + AAC, audio muxed in.

OpenCV's wheel cannot write H.264 or audio (DEPENDENCIES.md), so writing goes through PyAV.
Frames are RGB, (H, W, 3) uint8. yuv420p needs even sizes: an odd width or height is padded
with one black column/row on the right/bottom (the written video is the even size).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from speech2video.audio.io import Audio
from speech2video.errors import InputError
from speech2video.render.aac_track import AAC_FRAME_SAMPLES, AacTrack, finish

#: Relative spread of frame intervals above which a video counts as variable frame rate.
VFR_TOLERANCE = 0.01


def _rate(fps: float) -> Fraction:
    if not math.isfinite(fps) or fps <= 0:
        raise InputError(f"fps must be a positive number; got {fps}")
    return Fraction(fps).limit_denominator(1001)


class VideoWriter:
    """Context manager writing an mp4 frame by frame; on an exception the partial file is removed.

    fps: frames per second; width, height: pixels (odd sizes are padded to even);
    audio: muxed whole as AAC (mono, its own rate), interleaved with the video as frames
    arrive; it is neither cut nor padded to the video's length.
    """

    def __init__(
        self,
        path: str | Path,
        fps: float,
        width: int,
        height: int,
        audio: Audio | None = None,
        crf: int = 18,
        preset: str = "veryfast",
    ) -> None:
        if width <= 0 or height <= 0:
            raise InputError(f"video size must be positive; got {width}x{height}")
        self.path = Path(path)
        self.fps = float(fps)
        self.rate = _rate(fps)
        self.width, self.height = int(width), int(height)
        self.out_width, self.out_height = self.width + self.width % 2, self.height + self.height % 2
        self.audio = audio
        self.crf, self.preset = crf, preset
        self.frames_written = 0
        self._container: Any = None
        self._video: Any = None
        self._audio: AacTrack | None = None

    def __enter__(self) -> VideoWriter:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self.close()
        finally:
            if exc_type is not None:  # do not leave a truncated video behind
                self.path.unlink(missing_ok=True)

    def open(self) -> None:
        import av

        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._container = av.open(str(self.path), mode="w", format="mp4")
        video = self._container.add_stream("libx264", rate=self.rate)
        video.width, video.height = self.out_width, self.out_height
        video.pix_fmt = "yuv420p"
        video.options = {"crf": str(self.crf), "preset": self.preset}
        self._video = video
        if self.audio is not None:
            try:
                self._audio = AacTrack(self._container, self.audio)
            except InputError:
                self._container.close()
                self._container = None
                self.path.unlink(missing_ok=True)
                raise

    def write(self, frame: np.ndarray) -> None:
        """frame: (height, width, 3) uint8 RGB."""
        import av

        if self._container is None:
            raise InputError("VideoWriter is not open (use it as a context manager)")
        arr = np.asarray(frame)
        if arr.shape != (self.height, self.width, 3) or arr.dtype != np.uint8:
            raise InputError(
                f"frame {self.frames_written} must be ({self.height}, {self.width}, 3) uint8; "
                f"got {arr.shape} {arr.dtype}"
            )
        if (self.out_width, self.out_height) != (self.width, self.height):
            padded = np.zeros((self.out_height, self.out_width, 3), np.uint8)
            padded[: self.height, : self.width] = arr
            arr = padded
        vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(arr), format="rgb24")
        vf.pts = self.frames_written
        vf.time_base = 1 / self.rate
        self._container.mux(self._video.encode(vf))
        self.frames_written += 1
        if self._audio is not None:
            self._audio.write_until(self.frames_written / self.fps)

    def close(self) -> None:
        """Flush the encoders and finish the file (idempotent)."""
        if self._container is None:
            return
        try:
            finish(self._container, self._video, self._audio)
        finally:
            self._container = None


def write_video(
    path: str | Path, frames: Iterable[np.ndarray], fps: float, audio: Audio | None = None
) -> int:
    """Write RGB frames (each (H, W, 3) uint8, size taken from the first) to an mp4.

    returns: the number of frames written.
    """
    it = iter(frames)
    first = next(it, None)
    if first is None:
        raise InputError("no frames to write")
    first = np.asarray(first)
    if first.ndim != 3 or first.shape[2] != 3:
        raise InputError(f"frames must be (H, W, 3) uint8; got {first.shape}")
    with VideoWriter(path, fps, first.shape[1], first.shape[0], audio) as writer:
        writer.write(first)
        for frame in it:
            writer.write(frame)
        return writer.frames_written


@dataclass(frozen=True)
class VideoInfo:
    """What :func:`probe` finds without decoding pictures."""

    frames: int
    fps: float
    duration: float
    width: int
    height: int
    has_audio: bool
    audio_duration: float
    variable_frame_rate: bool


@dataclass(frozen=True)
class VideoClip:
    """frames: (T, H, W, 3) uint8 RGB; fps: frames per second; audio: 16 kHz mono or None."""

    frames: np.ndarray
    fps: float
    audio: Audio | None


def _open(path: str | Path) -> Any:
    import av

    path = Path(path)
    if not path.is_file():
        raise InputError(f"video file not found: {path}")
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, ValueError, OSError) as exc:
        raise InputError(f"video file {path.name} could not be opened ({exc})") from None
    if not container.streams.video:
        container.close()
        raise InputError(f"video file {path.name} has no video stream")
    return container


def probe(path: str | Path) -> VideoInfo:
    """Frame count, rate, durations and size; demuxes packets (no decoding) to count frames and
    to tell a variable frame rate (frame intervals differing by more than 1 %)."""
    with _open(path) as container:
        video = container.streams.video[0]
        tb = video.time_base
        pts = [p.pts for p in container.demux(video) if p.pts is not None and p.size > 0]
        frames = len(pts)
        rate = video.average_rate or video.guessed_rate or video.base_rate
        fps = float(rate) if rate else 0.0
        steps = np.diff(np.sort(np.asarray(pts, np.float64))) if frames > 1 else np.zeros(0)
        vfr = bool(steps.size and (steps.max() - steps.min()) > VFR_TOLERANCE * steps.mean())
        if frames > 1 and tb is not None:
            fps = (frames - 1) / float((max(pts) - min(pts)) * tb) if vfr else fps
        duration = frames / fps if fps else 0.0
        has_audio = bool(container.streams.audio)
        audio_duration = 0.0
        if has_audio:
            a = container.streams.audio[0]
            if a.duration is not None and a.time_base is not None:
                audio_duration = float(a.duration * a.time_base)
            elif a.frames and a.rate:
                audio_duration = a.frames * AAC_FRAME_SAMPLES / a.rate
        return VideoInfo(
            frames=frames,
            fps=fps,
            duration=duration,
            width=int(video.width),
            height=int(video.height),
            has_audio=has_audio,
            audio_duration=audio_duration,
            variable_frame_rate=vfr,
        )


def iter_frames(path: str | Path, step: int = 1) -> Iterator[np.ndarray]:
    """Decode every ``step``-th frame (frames 0, step, 2·step, ...).

    yields: (H, W, 3) uint8 RGB
    """
    import av

    if step < 1:
        raise InputError(f"step must be >= 1; got {step}")
    with _open(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        try:
            for i, frame in enumerate(container.decode(stream)):
                if i % step == 0:
                    yield frame.to_ndarray(format="rgb24")
        except av.error.FFmpegError as exc:
            raise InputError(f"video file {Path(path).name} is damaged ({exc})") from None


def read_video(path: str | Path) -> VideoClip:
    """Decode a whole video and its audio (16 kHz mono) into memory."""
    from speech2video.audio.io import decode

    info = probe(path)
    frames = list(iter_frames(path))
    if not frames:
        raise InputError(f"video file {Path(path).name} has no decodable frames")
    audio = decode(path, max_seconds=None) if info.has_audio else None
    return VideoClip(np.stack(frames), info.fps, audio)
