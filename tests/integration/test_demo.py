"""`s2v demo`, the main job on the embedded defaults, as a new user runs it (in a subprocess).

The model set is the tiny one the serving tests use (training the demo set takes the pipeline
minutes); everything else is real: the local sqlite registry, Ray Serve with every application,
the gRPC gateway, the bundled speech, the streamed mp4.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from services.deploy import free_ports

pytestmark = [pytest.mark.integration, pytest.mark.e2e, pytest.mark.slow]


def test_demo_enrols_serves_and_writes_a_playable_mp4(tmp_path: Path) -> None:
    from speech2video.render.video_io import probe
    from tests.fixtures.model_sets import build_model_set

    build_model_set(tmp_path / "models", "demo")
    env = {**os.environ, "S2V_HOME": str(tmp_path / "home"), "HF_HUB_OFFLINE": "1"}
    for key in ("MLFLOW_TRACKING_URI", "S2V_GATEWAY_TOKEN", "S2V_GATEWAY_TOKEN_FILE"):
        env.pop(key, None)  # a fresh machine: no registry elsewhere, an open local gateway
    env.pop("S2V_STAGE_TOKEN_FILE", None)
    out = tmp_path / "demo.mp4"
    port = free_ports(1)[0]
    cmd = [sys.executable, "-m", "speech2video_cli.main", "demo", "--models",
           str(tmp_path / "models"), "-o", str(out), "--grpc-port", str(port)]  # fmt: skip
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"video: {out}" in proc.stdout
    steps = [line for line in proc.stderr.splitlines() if line.startswith("[")]
    assert [s[:5] for s in steps] == ["[1/5]", "[2/5]", "[3/5]", "[4/5]", "[5/5]"]
    # Quiet by default: the demo's own lines only; Ray's and Serve's logs stay in their files.
    others = [
        line
        for line in (proc.stdout + proc.stderr).splitlines()
        if line.strip() and not line.startswith(("[", "video: ", "framework logs: "))
    ]
    assert not others, others[:10]
    logs = next(ln for ln in proc.stderr.splitlines() if ln.startswith("framework logs: "))
    log = Path(logs.split(": ", 1)[1])
    assert log.is_file() and log.stat().st_size > 0  # what the frameworks said is kept there
    info = probe(out)
    assert info.has_audio and abs(info.audio_duration - 11.0) < 0.2
    assert info.frames == round(11.0 * 15)  # the bundled speech is 11.0 s; the set is 15 fps


def test_enrolling_twice_registers_nothing_new(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from speech2video_cli.demo_command import Progress, enrol
    from speech2video_mlops.registry import ModelRegistry
    from tests.fixtures.model_sets import build_model_set

    monkeypatch.setenv("S2V_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    build_model_set(tmp_path / "models", "demo")
    first = enrol(tmp_path / "models", Progress(2))
    second = enrol(tmp_path / "models", Progress(2))
    assert first == second and set(first) >= {"audio_to_pose", "renderer", "body_model"}
    registry = ModelRegistry()
    assert [r.version for r in registry.versions("demo", "renderer")] == ["1"]
    assert registry.by_alias("demo", "renderer", "production").version == "1"
