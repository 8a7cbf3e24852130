"""Recording checks for enrolment (fitting/recording_checks.py) and cutting/sampling
(render/video_cutting.py), on videos made here and on the shared real clip when present."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from speech2video.audio.io import Audio
from speech2video.fitting.recording_checks import CheckLimits, camera_shift, check_recording
from speech2video.render.video_cutting import cut_video, sample_frames
from speech2video.render.video_io import probe, write_video

W, H, FPS = 160, 96, 15.0


def _texture(seed: int = 0, size: tuple[int, int] = (H, 3 * W)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 255, (size[0] // 8, size[1] // 8, 3), dtype=np.uint8)
    return np.kron(small, np.ones((8, 8, 1), np.uint8))


def _video(path: Path, frames: list[np.ndarray], audio: bool = True) -> Path:
    n = len(frames)
    t = np.arange(int(16000 * n / FPS)) / 16000
    sound = Audio((0.2 * np.sin(2 * np.pi * 200 * t)).astype(np.float32), 16000)
    write_video(path, frames, FPS, sound if audio else None)
    return path


def _panning(n: int = 45, step: int = 4) -> list[np.ndarray]:
    tex = _texture()
    return [np.ascontiguousarray(tex[:, i * step : i * step + W]) for i in range(n)]


def _fixed(n: int = 45) -> list[np.ndarray]:
    tex = _texture()[:, :W].copy()
    frames = []
    for i in range(n):  # something moves in front of a fixed background
        f = tex.copy()
        f[30:60, 10 + i : 40 + i] = 255
        frames.append(f)
    return frames


def test_camera_shift_tells_a_pan_from_a_fixed_camera() -> None:
    assert camera_shift(_fixed()[::4]) < 0.005
    assert camera_shift(_panning()[::4]) > 0.05
    assert camera_shift(_fixed()[:1]) == 0.0


def test_sampling_and_cutting_keep_times_frames_and_audio(tmp_path: Path) -> None:
    frames = [np.full((H, W, 3), 8 * i, np.uint8) for i in range(30)]  # brightness = index
    src = _video(tmp_path / "src.mp4", frames)
    sampled = sample_frames(src, [0.0, 1.0, 1.9, 5.0])
    assert [round(t * FPS) for t, _ in sampled] == [0, 15, 28]  # 5 s is past the end
    assert [round(float(f.mean()) / 8) for _, f in sampled] == [0, 15, 28]
    out = tmp_path / "piece.mp4"
    assert cut_video(src, out, 1.0, 1.6) == 9
    info = probe(out)
    assert info.frames == 9 and info.has_audio and info.audio_duration == pytest.approx(0.6, 0.1)
    first = sample_frames(out, [0.0])[0][1]
    assert round(float(first.mean()) / 8) == 15
    with pytest.raises(ValueError, match="no frames"):
        cut_video(src, tmp_path / "none.mp4", 2.5, 3.0)


def test_a_panning_camera_and_no_person_are_named(tmp_path: Path) -> None:
    check = check_recording(_video(tmp_path / "pan.mp4", _panning()), CheckLimits(samples=6))
    assert not check.ok and check.frames_sampled == 6
    text = " ".join(check.problems)
    assert "the camera moves" in text and "face is visible in 0 %" in text
    assert "both hands are visible in 0 %" in text


def test_no_audio_too_short_and_unreadable_are_named(tmp_path: Path) -> None:
    silent = check_recording(_video(tmp_path / "mute.mp4", _fixed(20), audio=False))
    assert any("no audio stream" in p for p in silent.problems)
    assert any("need at least 2 s" in p for p in silent.problems)
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video")
    assert check_recording(junk).problems[0].startswith("cannot be read")


@pytest.mark.slow
def test_the_real_host_clip_is_usable(shared_data: Path) -> None:
    clip = shared_data / "video" / "SHOW_half_oliver.mp4"
    if not clip.is_file():
        pytest.skip(f"{clip} absent")
    check = check_recording(clip, CheckLimits(samples=8))
    assert check.ok, check.problems
    assert check.face_rate == 1.0 and check.hands_rate >= 0.5 and check.people_rate == 0.0
    assert check.camera_shift < 0.005


@pytest.mark.slow
def test_a_full_body_portrait_clip_shows_its_face_and_names_its_hands(shared_data: Path) -> None:
    """1080×1920, the face ~7 % of the width: found through the head crop (0 % without)."""
    clip = shared_data / "video" / "MusePose_dance.mp4"
    if not clip.is_file():
        pytest.skip(f"{clip} absent")
    check = check_recording(clip)
    assert check.face_rate >= 0.8 and check.people_rate == 0.0
    assert check.camera_shift < 0.005
    # a dancer's hands blur and leave the frame: named, with the measured share
    assert [p for p in check.problems if "both hands are visible in" in p] == list(check.problems)
    relaxed = check_recording(clip, CheckLimits(min_hands_rate=0.3))
    assert relaxed.ok, relaxed.problems
