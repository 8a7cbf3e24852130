"""Fragmented MP4 (H.264 + AAC) encoded to byte pieces as frames arrive, for streaming.

The muxer runs with ``movflags=frag_keyframe+delay_moov+default_base_moof``: the header (``ftyp``
+ ``moov``) is written with the first fragment (so it can carry the edit list that skips the AAC
encoder's priming samples: without it the video's first frame would last 64 ms longer and the
file would probe as variable frame rate), then one ``moof``+``mdat`` fragment per keyframe
interval.
Every :meth:`Mp4StreamEncoder.write_chunk` starts with a forced keyframe, so a chunk of frames
becomes one fragment; the bytes the muxer has written so far are handed back as a piece. The
pieces, concatenated in order, are one playable mp4 (players and PyAV read it as a whole file).

The muxer writes a fragment out when the next one starts (its first keyframe arrives): with
:meth:`Mp4StreamEncoder.write_chunk` a chunk's frames travel in the piece of the following chunk
(or of :meth:`finish`). :func:`encode_pieces` hands a chunk's piece back as soon as the first frame
of the next chunk is encoded, so each piece holds exactly its own chunk's fragment. x264 runs with
``tune=zerolatency`` so no frame is held back by look-ahead. Audio (mono, its own rate) is muxed
:data:`AUDIO_LEAD_S` ahead of the last frame, so the muxer's interleaving never holds back the
keyframe that closes a fragment.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from speech2video.audio.io import Audio
from speech2video.errors import InputError
from speech2video.render.aac_track import AacTrack, finish

MOVFLAGS = "frag_keyframe+delay_moov+default_base_moof"
#: Audio is encoded this far ahead of the video (covers the AAC encoder delay).
AUDIO_LEAD_S = 0.3


class _Sink:
    """A write-only file object collecting what the muxer writes."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._pos = 0

    def write(self, data: bytes) -> int:
        self._parts.append(bytes(data))
        self._pos += len(data)
        return len(data)

    def tell(self) -> int:
        return self._pos

    def flush(self) -> None:
        return None

    def take(self) -> bytes:
        out = b"".join(self._parts)
        self._parts.clear()
        return out


@dataclass(frozen=True)
class Mp4Piece:
    """Bytes of the stream and the frames encoded (not necessarily flushed) when it was cut."""

    data: bytes
    first_frame: int
    num_frames: int
    last: bool


class Mp4StreamEncoder:
    """Encode RGB frames, (height, width, 3) uint8, into fragmented-MP4 pieces.

    fps: frames per second; width, height: pixels (even numbers); audio: optional mono audio
    muxed as AAC; crf/preset: x264 quality and speed.
    """

    def __init__(
        self,
        fps: float,
        width: int,
        height: int,
        audio: Audio | None = None,
        crf: int = 23,
        preset: str = "veryfast",
    ) -> None:
        import av

        if not np.isfinite(fps) or fps <= 0:
            raise InputError(f"fps must be a positive number; got {fps}")
        if width <= 0 or height <= 0 or width % 2 or height % 2:
            raise InputError(f"video size must be positive and even; got {width}x{height}")
        self.fps, self.width, self.height, self.audio = float(fps), width, height, audio
        self.rate = Fraction(fps).limit_denominator(1001)
        self.frames_written = 0
        self._piece_start = 0
        self._sink = _Sink()
        self._container: Any = av.open(
            self._sink, mode="w", format="mp4", options={"movflags": MOVFLAGS}
        )
        video = self._container.add_stream("libx264", rate=self.rate)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.options = {"crf": str(crf), "preset": preset, "tune": "zerolatency"}
        self._video = video
        self._audio: AacTrack | None = None
        if audio is not None:
            try:
                self._audio = AacTrack(self._container, audio)
            except InputError:
                self._container.close()
                raise

    def write_chunk(self, frames: Iterable[np.ndarray]) -> Mp4Piece:
        """Encode frames (the first as a keyframe); return the bytes written since the last
        piece (possibly empty)."""
        for i, frame in enumerate(frames):
            self.write_frame(frame, keyframe=i == 0)
        return self._cut(last=False)

    def write_frame(self, frame: np.ndarray, keyframe: bool = False) -> None:
        """Encode one frame; ``keyframe`` forces an I frame (which starts a new fragment)."""
        import av

        if self._container is None:
            raise InputError("the stream is finished")
        arr = np.asarray(frame)
        if arr.shape != (self.height, self.width, 3) or arr.dtype != np.uint8:
            raise InputError(
                f"frame {self.frames_written} must be ({self.height}, {self.width}, 3) "
                f"uint8; got {arr.shape} {arr.dtype}"
            )
        vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(arr), format="rgb24")
        vf.pts, vf.time_base = self.frames_written, 1 / self.rate
        if keyframe:
            vf.pict_type = av.video.frame.PictureType.I
        self._container.mux(self._video.encode(vf))
        self.frames_written += 1
        if self._audio is not None:
            self._audio.write_until(self.frames_written / self.fps + AUDIO_LEAD_S)

    def take(self, first_frame: int, num_frames: int, last: bool = False) -> Mp4Piece:
        """The bytes written since the last piece, labelled with the given frames."""
        self._piece_start = first_frame + num_frames
        return Mp4Piece(self._sink.take(), first_frame, num_frames, last)

    def finish(self) -> Mp4Piece:
        """Flush the encoders and the muxer; the returned piece ends the file."""
        if self._container is None:
            raise InputError("the stream is finished")
        try:
            finish(self._container, self._video, self._audio)
        finally:
            self._container = None
        return self._cut(last=True)

    def close(self) -> None:
        """Abandon the stream (idempotent)."""
        if self._container is not None:
            self._container.close()
            self._container = None

    def _cut(self, last: bool) -> Mp4Piece:
        piece = Mp4Piece(
            self._sink.take(), self._piece_start, self.frames_written - self._piece_start, last
        )
        self._piece_start = self.frames_written
        return piece


def encode_pieces(
    frames: Iterable[np.ndarray],
    fps: float,
    chunk_frames: int,
    audio: Audio | None = None,
    first_chunk_frames: int | None = None,
) -> Iterator[Mp4Piece]:
    """Frames (each (H, W, 3) uint8, size from the first) → fragmented-MP4 pieces.

    The first chunk has ``first_chunk_frames`` frames (None: ``chunk_frames``), the others
    ``chunk_frames``. Each chunk starts with a keyframe; its piece leaves as soon as the first
    frame of the next chunk is encoded (which makes the muxer write the chunk's fragment), so a
    piece holds its own chunk's frames; the last piece (from :meth:`Mp4StreamEncoder.finish`)
    holds the last chunk. Empty pieces are skipped (the last is always given)."""
    first = chunk_frames if first_chunk_frames is None else first_chunk_frames
    if chunk_frames < 1 or first < 1:
        raise InputError(f"chunk sizes must be >= 1; got {first} then {chunk_frames}")
    encoder: Mp4StreamEncoder | None = None
    start, next_start = 0, first
    try:
        for index, frame in enumerate(frames):
            if encoder is None:
                h, w = np.asarray(frame).shape[:2]
                encoder = Mp4StreamEncoder(fps, w, h, audio)
            begins = index == next_start
            encoder.write_frame(frame, keyframe=index == 0 or begins)
            if begins:
                next_start = index + chunk_frames
                piece = encoder.take(start, index - start)
                if piece.data:  # else its frames go with the next piece
                    start = index
                    yield piece
        if encoder is None:
            raise InputError("no frames to encode")
        end = encoder.finish()
        yield Mp4Piece(end.data, start, encoder.frames_written - start, True)
    finally:
        if encoder is not None:
            encoder.close()
