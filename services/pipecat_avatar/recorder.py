"""A Pipecat sink that keeps the avatar's synchronized video frames and audio and writes an MP4.

Frames are placed by their presentation timestamps (``pts``, ns, the avatar service's clock) at
``fps`` (given, or read off the first two frames' pts); a slot no frame fills repeats the frame
before it, so video and audio stay aligned when a stream's video failed or a rounding left a
slot empty. Audio frames are joined in arrival order (``OutputAudioRawFrame``s, one sample rate
and channel count). Everything is held in memory until the ``EndFrame`` (a minute of 256×256
video at 15 fps is about 180 MB), then written by :func:`speech2video.render.video_io.write_video`
(H.264 + AAC). Every frame is passed on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from pipecat.frames.frames import EndFrame, Frame, OutputAudioRawFrame, OutputImageRawFrame
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from services.pcm import PCM_SCALE


class AvatarRecorder(FrameProcessor):
    """Collects ``OutputImageRawFrame``s (RGB) and output audio; writes ``path`` at the end.

    images: (pts ns, width, height, rgb bytes) in arrival order; audio: the joined PCM bytes.
    """

    def __init__(self, path: str | Path | None = None, fps: float | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.path = Path(path) if path else None
        self.fps = fps
        self.images: list[tuple[int, int, int, bytes]] = []
        self.audio = bytearray()
        self.sample_rate = 0
        self.channels = 0
        self.written = 0  # frames in the file

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, OutputImageRawFrame) and frame.format == "RGB":
            w, h = frame.size
            self.images.append((frame.pts or 0, w, h, bytes(frame.image)))
        elif isinstance(frame, OutputAudioRawFrame):
            if self.sample_rate and (frame.sample_rate, frame.num_channels) != (
                self.sample_rate,
                self.channels,
            ):
                await self.push_error(
                    f"AvatarRecorder: audio changed from {self.sample_rate} Hz × {self.channels} "
                    f"to {frame.sample_rate} Hz × {frame.num_channels}; the rest is not recorded"
                )
            else:
                self.sample_rate, self.channels = frame.sample_rate, frame.num_channels
                self.audio.extend(frame.audio)
        elif isinstance(frame, EndFrame) and self.path is not None and self.images:
            self.written = self.write(self.path)
        await self.push_frame(frame, direction)

    @property
    def audio_s(self) -> float:
        """Seconds of audio kept."""
        if not self.sample_rate:
            return 0.0
        return len(self.audio) / (2 * self.channels) / self.sample_rate

    def frame_rate(self) -> float:
        """``fps`` if given, else the first two frames' pts apart (15 with fewer frames)."""
        if self.fps:
            return float(self.fps)
        if len(self.images) >= 2 and self.images[1][0] > self.images[0][0]:
            return round(1e9 / (self.images[1][0] - self.images[0][0]), 3)
        return 15.0

    def video(self) -> tuple[np.ndarray, float]:
        """The frames on the audio's timeline: ((T, H, W, 3) uint8, fps), T = audio × fps."""
        fps = self.frame_rate()
        _, w, h, _ = self.images[0]
        slots = max(round(self.audio_s * fps), round(self.images[-1][0] * fps / 1e9) + 1)
        out = np.zeros((slots, h, w, 3), np.uint8)
        filled = np.zeros(slots, bool)
        for pts, fw, fh, rgb in self.images:
            k = min(round(pts * fps / 1e9), slots - 1)
            if (fw, fh) == (w, h):
                out[k] = np.frombuffer(rgb, np.uint8).reshape(h, w, 3)
                filled[k] = True
        for k in range(1, slots):
            if not filled[k]:
                out[k] = out[k - 1]
        return out, fps

    def mono_audio(self) -> Any:
        """The audio kept, mixed to mono, as a :class:`speech2video.audio.io.Audio`."""
        from speech2video.audio.io import Audio

        pcm = np.frombuffer(bytes(self.audio), "<i2").reshape(-1, self.channels)
        samples = pcm.astype(np.float32).mean(axis=1) / PCM_SCALE
        return Audio(samples.astype(np.float32), self.sample_rate)

    def write(self, path: str | Path) -> int:
        """Write the video with its audio to ``path`` (H.264 + AAC mp4); the frame count."""
        from speech2video.render.video_io import write_video

        frames, fps = self.video()
        audio = self.mono_audio() if self.audio else None
        return write_video(path, frames, fps, audio)
