"""``s2v synthesize --live`` without a server: the live flow in this process, recognition in a
worker process (services/transcription_process.py), on a registered tiny model set."""

from __future__ import annotations

import numpy as np
import pytest

from speech2video.audio.io import write_wav
from speech2video.audio.tts import synthesize
from speech2video_cli.main import main


def test_live_synthesis_in_process_writes_every_frame(tmp_path, monkeypatch, capsys) -> None:
    from speech2video_mlops.registry import ModelRegistry
    from tests.fixtures.model_sets import register_model_set

    monkeypatch.setenv("S2V_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    register_model_set(ModelRegistry(), "alice", tmp_path / "sets", seed=0)
    speech = synthesize("A huge wave of good news for everyone listening today.")
    wav = tmp_path / "speech.wav"
    write_wav(wav, speech.audio)
    out = tmp_path / "live.mp4"
    argv = ["synthesize", "--live", "--speaker", "alice", "--audio", str(wav), "-o", str(out)]
    assert main([*argv, "--speed", "0"]) == 0
    printed = capsys.readouterr().out
    assert "piece   0" in printed and f"wrote {out}" in printed
    import json

    summary = json.loads(printed.split(f"wrote {out}: ", 1)[1])
    assert summary["words"] >= 5  # the worker recognised the speech
    assert summary["frames"] == pytest.approx(speech.audio.duration * summary["fps"], abs=1)
    import av

    with av.open(str(out)) as video:
        assert sum(1 for _ in video.decode(video=0)) == summary["frames"]
    assert np.isfinite(summary["wall_s"])
