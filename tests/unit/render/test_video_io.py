"""Video I/O: H.264 + AAC mp4 written with PyAV, read back with PyAV and OpenCV."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from speech2video.audio.io import Audio
from speech2video.errors import InputError
from speech2video.render.video_io import (
    AAC_FRAME_SAMPLES,
    VideoWriter,
    iter_frames,
    probe,
    read_video,
    write_video,
)


def _frames(t: int, h: int, w: int) -> list[np.ndarray]:
    out = []
    for i in range(t):
        f = np.zeros((h, w, 3), np.uint8)
        f[:, : w // 2] = (200, 40, 40)
        f[: h // 2, w // 2 :] = (10 * i) % 250
        out.append(f)
    return out


def _tone(seconds: float, rate: int = 16000) -> Audio:
    n = int(seconds * rate)
    return Audio((0.3 * np.sin(2 * np.pi * 440 * np.arange(n) / rate)).astype(np.float32), rate)


def test_written_mp4_round_trips_frames_and_audio(tmp_path: Path) -> None:
    path = tmp_path / "v.mp4"
    fps, seconds = 25.0, 1.6
    audio = _tone(seconds)
    frames = _frames(round(seconds * fps), 48, 64)
    assert write_video(path, frames, fps, audio) == 40
    info = probe(path)
    assert info.frames == 40 and info.fps == pytest.approx(25.0)
    assert info.duration == pytest.approx(1.6)
    assert (info.width, info.height) == (64, 48) and info.has_audio
    assert not info.variable_frame_rate
    assert abs(info.audio_duration - seconds) <= AAC_FRAME_SAMPLES / 16000
    clip = read_video(path)
    assert clip.frames.shape == (40, 48, 64, 3) and clip.frames.dtype == np.uint8
    assert clip.audio is not None and clip.audio.rate == 16000
    assert abs(clip.audio.samples.size - audio.samples.size) <= AAC_FRAME_SAMPLES
    # lossy, but close: the flat red half survives within a few levels
    assert np.abs(clip.frames[5, 10:40, 5:25].astype(int) - (200, 40, 40)).max() <= 12
    rms = np.sqrt(np.mean(clip.audio.samples[2048:-2048] ** 2))
    assert rms == pytest.approx(0.3 / np.sqrt(2), rel=0.1)  # the tone, not silence


def test_opencv_decodes_it_too(tmp_path: Path) -> None:
    import cv2

    path = tmp_path / "v.mp4"
    write_video(path, _frames(30, 32, 32), 30.0)
    cap = cv2.VideoCapture(str(path))
    try:
        assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 30
        count = 0
        while cap.read()[0]:
            count += 1
    finally:
        cap.release()
    assert count == 30
    info = probe(path)
    assert not info.has_audio and info.audio_duration == 0.0


def test_odd_sizes_are_padded_to_even(tmp_path: Path) -> None:
    path = tmp_path / "odd.mp4"
    frames = _frames(10, 33, 47)
    write_video(path, frames, 30.0)
    info = probe(path)
    assert (info.width, info.height) == (48, 34)
    clip = read_video(path)
    assert clip.frames.shape == (10, 34, 48, 3)
    # the picture keeps its place; the padding column beside a black area stays black
    assert np.abs(clip.frames[:, 4:30, 4:20].astype(int) - (200, 40, 40)).max() <= 12
    assert clip.frames[:, 20:, -1].max() <= 16


def test_probe_flags_variable_frame_rate(tmp_path: Path) -> None:
    import av

    path = tmp_path / "vfr.mp4"
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        stream.codec_context.time_base = Fraction(1, 30)
        for pts in (0, 1, 2, 4, 5, 9, 10):  # irregular frame times
            frame = av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), np.uint8), format="rgb24")
            frame.pts, frame.time_base = pts, Fraction(1, 30)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    info = probe(path)
    assert info.variable_frame_rate and info.frames == 7
    assert info.fps == pytest.approx(6 / (10 / 30))  # mean rate over the span
    write_video(tmp_path / "cfr.mp4", _frames(7, 32, 32), 30.0)
    assert not probe(tmp_path / "cfr.mp4").variable_frame_rate


def test_iter_frames_steps(tmp_path: Path) -> None:
    path = tmp_path / "v.mp4"
    write_video(path, _frames(23, 32, 32), 30.0)
    got = list(iter_frames(path, step=5))
    assert len(got) == 5  # frames 0, 5, 10, 15, 20
    ref = read_video(path).frames
    np.testing.assert_array_equal(got[2], ref[10])
    with pytest.raises(InputError, match="step"):
        list(iter_frames(path, step=0))


def test_writer_rejects_bad_frames_and_files(tmp_path: Path) -> None:
    with VideoWriter(tmp_path / "v.mp4", 30, 32, 32) as writer:
        with pytest.raises(InputError, match=r"frame 0 must be \(32, 32, 3\) uint8"):
            writer.write(np.zeros((32, 31, 3), np.uint8))
        writer.write(np.zeros((32, 32, 3), np.uint8))
    with pytest.raises(InputError, match="fps"):
        VideoWriter(tmp_path / "x.mp4", 0, 32, 32)
    with pytest.raises(InputError, match="no frames"):
        write_video(tmp_path / "y.mp4", [], 30)
    with pytest.raises(InputError, match="not found"):
        probe(tmp_path / "missing.mp4")
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00" * 100)
    with pytest.raises(InputError, match=r"bad\.mp4"):
        probe(bad)
