"""``s2v train-renderer`` and ``s2v render``: train a tiny renderer, render a motion to mp4."""

from __future__ import annotations

import argparse
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import soundfile as sf
import torch

from speech2video.body.motion_file import Motion, save_motion
from speech2video.body.pose_layout import POSE_DIM
from speech2video.errors import InputError, NotFoundError
from speech2video.render import checkpoint as ckpt
from speech2video.render.renderer_data import write_sequence
from speech2video_cli import render_command, train_renderer_command


def run(module: ModuleType, argv: list[str]) -> int:
    p = argparse.ArgumentParser()
    sub = p.add_subparsers()
    module.register(sub)
    args = p.parse_args(argv)
    return module.run(args)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cli")
    rng = np.random.default_rng(0)
    skels = rng.integers(0, 255, (4, 32, 32, 3), dtype=np.uint8)
    write_sequence(root / "data" / "seq", skels, 255 - skels)
    argv = ["train-renderer", str(root / "data"), "-o", str(root / "ckpt")]
    assert run(train_renderer_command, [*argv, "--config", "tiny", "--steps", "2", "--quiet"]) == 0
    return root / "ckpt"


def test_train_renderer_writes_a_checkpoint(trained: Path) -> None:
    assert ckpt.has_training_checkpoint(trained)
    assert ckpt.load_config_file(trained).training.steps == 2


def test_render_writes_mp4_with_frames_and_audio(trained: Path, tmp_path: Path) -> None:
    from speech2video.render.video_io import probe

    motion = Motion(np.zeros((6, POSE_DIM), np.float32), fps=12.0)
    save_motion(tmp_path / "m.npz", motion)
    sf.write(tmp_path / "a.wav", np.zeros(8000, np.float32), 16000)  # 0.5 s = 6 frames
    out = tmp_path / "out.mp4"
    argv = ["render", "--motion", str(tmp_path / "m.npz"), "--renderer", str(trained)]
    argv += ["--audio", str(tmp_path / "a.wav"), "-o", str(out), "--size", "32", "--chunk", "4"]
    assert run(render_command, argv) == 0
    info = probe(out)
    assert info.frames == 6 and (info.width, info.height) == (32, 32)
    assert info.has_audio and info.audio_duration == pytest.approx(0.5, abs=0.1)


def test_bad_arguments_are_input_errors(trained: Path, tmp_path: Path) -> None:
    base = ["train-renderer", str(tmp_path / "absent"), "-o", str(tmp_path / "o")]
    with pytest.raises(InputError, match="not found"):
        run(train_renderer_command, [*base, "--config", "tiny", "--quiet"])
    with pytest.raises(InputError, match="neither a preset"):
        run(train_renderer_command, [*base, "--config", "gigantic"])
    with pytest.raises(InputError, match="--steps"):
        run(train_renderer_command, [*base, "--config", "tiny", "--steps", "0"])
    save_motion(tmp_path / "m.npz", Motion(np.zeros((2, POSE_DIM), np.float32), fps=10.0))
    argv = ["render", "--motion", str(tmp_path / "m.npz"), "-o", str(tmp_path / "o.mp4")]
    with pytest.raises(NotFoundError, match="checkpoint"):
        run(render_command, [*argv, "--renderer", str(tmp_path / "none")])
    with pytest.raises(InputError, match="--size"):
        run(render_command, [*argv, "--renderer", str(trained), "--size", "8"])
    if not torch.cuda.is_available():
        with pytest.raises(InputError, match="CUDA is not available"):
            run(render_command, [*argv, "--renderer", str(trained), "--device", "cuda"])
