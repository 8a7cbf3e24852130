"""Mono speech muxed as AAC beside an H.264 stream, written up to a time as the video advances.

Shared by the file writer (:mod:`speech2video.render.video_io`) and the streaming encoder
(:mod:`speech2video.render.mp4_stream`).
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np

from speech2video.audio.io import Audio
from speech2video.errors import InputError

#: Samples per AAC frame: the audio length after a round trip is within this many samples.
AAC_FRAME_SAMPLES = 1024
#: Samples handed to the encoder at a time.
BLOCK_SAMPLES = AAC_FRAME_SAMPLES * 8


class AacTrack:
    """An AAC stream of ``audio`` (mono samples (N,), its own rate) in a PyAV output container."""

    def __init__(self, container: Any, audio: Audio) -> None:
        if audio.samples.ndim != 1 or audio.samples.size == 0:
            raise InputError("audio to mux must be non-empty mono samples (N,)")
        self.audio = audio
        self.position = 0  # samples already sent to the encoder
        self._container = container
        self._stream = container.add_stream("aac", rate=int(audio.rate))
        self._stream.layout = "mono"

    def write_until(self, seconds: float | None) -> None:
        """Encode and mux the samples up to ``seconds`` (None: all of them)."""
        import av

        samples, rate = self.audio.samples, int(self.audio.rate)
        end = samples.size if seconds is None else min(samples.size, int(seconds * rate))
        while self.position < end:
            stop = min(end, self.position + BLOCK_SAMPLES)
            block = np.ascontiguousarray(samples[self.position : stop], np.float32)[None, :]
            frame = av.AudioFrame.from_ndarray(block, format="fltp", layout="mono")
            frame.sample_rate = rate
            frame.pts, frame.time_base = self.position, Fraction(1, rate)
            self._container.mux(self._stream.encode(frame))
            self.position = stop

    def flush(self) -> None:
        """Encode the rest of the samples and drain the encoder."""
        self.write_until(None)
        self._container.mux(self._stream.encode(None))


def finish(container: Any, video: Any, audio: AacTrack | None) -> None:
    """Drain the video encoder, then the audio, and close the container (even on an error)."""
    try:
        container.mux(video.encode(None))
        if audio is not None:
            audio.flush()
    finally:
        container.close()
