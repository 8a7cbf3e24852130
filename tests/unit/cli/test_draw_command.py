"""``s2v draw``: motion → skeleton mp4, with and without audio; one-line errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from speech2video.audio.io import Audio, write_wav
from speech2video.body.motion_file import Motion, save_motion
from speech2video.render.video_io import probe
from speech2video_cli.main import main


@pytest.fixture
def motion_path(tmp_path: Path) -> Path:
    poses = np.zeros((24, 106), np.float32)
    poses[:, 47], poses[:, 50] = -1.1, 1.1
    poses[:, 63] = np.linspace(0, 0.3, 24)
    path = tmp_path / "m.npz"
    save_motion(path, Motion(poses, 24.0))
    return path


def test_draw_writes_skeleton_video_with_audio(tmp_path: Path, motion_path: Path, capsys) -> None:
    wav = tmp_path / "a.wav"
    write_wav(wav, Audio(np.full(16000, 0.1, np.float32), 16000))
    out = tmp_path / "out" / "skel.mp4"
    argv = ["draw", "--motion", str(motion_path), "-o", str(out), "--size", "128"]
    assert main([*argv, "--audio", str(wav)]) == 0
    info = probe(out)
    assert (info.frames, info.fps, info.width, info.height) == (24, 24.0, 128, 128)
    assert info.has_audio and info.audio_duration == pytest.approx(1.0, abs=1024 / 16000)
    assert "24 frames" in capsys.readouterr().out


def test_draw_without_audio(tmp_path: Path, motion_path: Path) -> None:
    out = tmp_path / "skel.mp4"
    assert main(["draw", "--motion", str(motion_path), "-o", str(out), "--size", "64"]) == 0
    info = probe(out)
    assert info.frames == 24 and not info.has_audio


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("bad_motion", "s2v: error: motion file m.npz lacks the key 'poses'"),
        ("bad_size", "s2v: error: --size must be between 16 and 4096 pixels; got 8"),
        ("missing_audio", "s2v: error: audio file not found"),
    ],
)
def test_errors_are_one_line(
    tmp_path: Path, motion_path: Path, capsys, setup: str, message: str
) -> None:
    argv = ["draw", "--motion", str(motion_path), "-o", str(tmp_path / "o.mp4")]
    if setup == "bad_motion":
        np.savez(motion_path, fps=np.float32(30))
    elif setup == "bad_size":
        argv += ["--size", "8"]
    else:
        argv += ["--audio", str(tmp_path / "nope.wav")]
    assert main(argv) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith(message) and "\n" not in err
    assert not (tmp_path / "o.mp4").exists()
