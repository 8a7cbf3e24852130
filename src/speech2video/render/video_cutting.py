"""Cutting recordings into pieces and sampling frames without decoding a whole video.

:func:`sample_frames` seeks to each requested time (decoding from the nearest key frame), so
checking a ten-minute recording costs a few dozen decoded frames. :func:`cut_video` re-encodes
``[start, end)`` of a recording frame by frame (H.264 + AAC through :class:`VideoWriter`), so a
piece starts exactly where asked and memory stays at one frame.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from speech2video.audio.io import Audio, decode
from speech2video.errors import InputError
from speech2video.render.video_io import VideoWriter, _open, probe


def sample_frames(path: str | Path, times_s: list[float]) -> list[tuple[float, np.ndarray]]:
    """The frame shown at each of ``times_s`` (sorted, seconds from the start).

    returns: (frame time s, (H, W, 3) uint8 RGB) per time the video reaches
    """
    import av

    out: list[tuple[float, np.ndarray]] = []
    with _open(path) as container:
        stream = container.streams.video[0]
        tb = float(stream.time_base or 0) or 1e-6
        start = float(stream.start_time or 0) * tb
        for t in sorted(times_s):
            target = start + max(float(t), 0.0)
            container.seek(int(target / tb), stream=stream, backward=True, any_frame=False)
            shown: tuple[float, np.ndarray] | None = None
            try:
                for frame in container.decode(stream):
                    at = frame.pts * tb if frame.pts is not None else target
                    if shown is not None and at > target + 1e-6:
                        break  # the previous frame is the one on screen at ``t``
                    shown = (at - start, frame.to_ndarray(format="rgb24"))
            except av.error.FFmpegError as exc:
                raise InputError(f"video file {Path(path).name} is damaged ({exc})") from None
            if shown is not None and shown[0] + 1e-6 >= float(t) - 1.0 / max(_fps(stream), 1e-6):
                out.append(shown)
    return out


def _fps(stream) -> float:  # (av.VideoStream) -> float
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    return float(rate) if rate else 0.0


def cut_video(
    path: str | Path,
    out_path: str | Path,
    start_s: float,
    end_s: float,
    audio: Audio | None = None,
) -> int:
    """Write frames ``[start_s, end_s)`` of ``path`` and the matching speech to ``out_path``.

    audio: the recording's decoded audio (16 kHz mono) when the caller cuts several pieces of
    one file; decoded here otherwise. Returns the number of frames written.
    """
    import av

    info = probe(path)
    if not 0 <= start_s < end_s:
        raise InputError(f"cut of {Path(path).name}: need 0 <= start < end; got {start_s}-{end_s}")
    first, last = math.floor(start_s * info.fps + 1e-6), math.floor(end_s * info.fps + 1e-6)
    last = min(last, info.frames)
    if last <= first:
        raise InputError(f"cut of {Path(path).name}: no frames in {start_s:.2f}-{end_s:.2f} s")
    if audio is None:
        audio = decode(path, max_seconds=None)
    lo, hi = round(first / info.fps * audio.rate), round(last / info.fps * audio.rate)
    piece = Audio(audio.samples[lo:hi], audio.rate)
    written = 0
    with (
        _open(path) as container,
        VideoWriter(out_path, info.fps, info.width, info.height, piece) as writer,
    ):
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        tb = float(stream.time_base or 0) or 1e-6
        origin = float(stream.start_time or 0) * tb
        container.seek(int((origin + first / info.fps) / tb), stream=stream, backward=True)
        try:
            for n, frame in enumerate(container.decode(stream)):
                # A frame's index from its time (after the seek); counted when pts is missing.
                i = round((frame.pts * tb - origin) * info.fps) if frame.pts is not None else n
                if i >= last:
                    break
                if i >= first:
                    writer.write(frame.to_ndarray(format="rgb24"))
                    written += 1
        except av.error.FFmpegError as exc:
            raise InputError(f"video file {Path(path).name} is damaged ({exc})") from None
    return written
