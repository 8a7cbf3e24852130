"""``s2v features AUDIO -o OUT.npy``: end to end through the CLI entry point."""

from __future__ import annotations

import numpy as np
import soundfile

from speech2video.audio.features import compute_features
from speech2video.audio.io import decode
from speech2video_cli.main import main


def test_features_command_writes_100_rows_per_second(tmp_path, capsys) -> None:
    t = np.arange(44_100) / 44_100
    tone = 0.3 * np.sin(2 * np.pi * 440 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 2 * t))
    wav = tmp_path / "tone.wav"
    soundfile.write(str(wav), np.stack([tone, tone], axis=1), 44_100)  # stereo 44.1 kHz
    out = tmp_path / "sub" / "feats.npy"

    assert main(["features", str(wav), "-o", str(out)]) == 0

    feats = np.load(out)
    assert feats.shape == (100, 28)
    assert feats.dtype == np.float32
    np.testing.assert_allclose(feats, compute_features(decode(wav).samples), atol=1e-6)
    assert "100x28" in capsys.readouterr().out


def test_features_command_reports_a_missing_file(tmp_path, capsys) -> None:
    missing = tmp_path / "nope.wav"
    assert main(["features", str(missing), "-o", str(tmp_path / "x.npy")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("s2v: error:")
    assert "nope.wav" in err
    assert not (tmp_path / "x.npy").exists()
