"""The registry's files moved away while serving, then back: nothing is made in their place,
loaded speakers keep serving, others get UNAVAILABLE, and replicas recover with no restart."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import grpc
import pytest

pytestmark = pytest.mark.integration


def _component(directory: Path, text: str) -> Path:
    directory.mkdir(parents=True)
    (directory / "config.json").write_text(text)
    return directory


def test_serving_rides_out_a_registry_outage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from services import speaker_models
    from services.errors import status_of
    from services.speaker_models import SpeakerModels
    from speech2video_mlops.registry import ModelRegistry, RegistryUnavailableError

    home = tmp_path / "home"
    monkeypatch.setenv("S2V_HOME", str(home))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setattr(speaker_models, "_REGISTRY", None)
    writer = ModelRegistry()
    for speaker in ("alice", "bob"):
        component = _component(tmp_path / speaker / "v1", f'{{"speaker": "{speaker}"}}')
        writer.register(speaker, "audio_to_pose", component, alias="production")

    def loader(component: str, path: Path) -> str:
        return (path / "config.json").read_text()

    def open_speaker(speaker: str) -> object:
        return SpeakerModels.open(speaker, ("audio_to_pose",), loader=loader, refresh_s=0)

    stored = [home / "mlflow.db", home / "mlartifacts"]
    away = tmp_path / "away"

    async def scenario() -> None:
        alice = await open_speaker("alice")
        away.mkdir()
        for path in stored:  # the outage
            path.rename(away / path.name)
        assert await alice.refresh() is False  # loaded: keeps serving
        assert "alice" in alice.snapshot().get("audio_to_pose")
        with pytest.raises(RegistryUnavailableError) as info:
            await open_speaker("bob")  # never loaded: needs the registry
        assert status_of(info.value) == (
            grpc.StatusCode.UNAVAILABLE,
            "model registry unavailable; retry later",
        )
        assert not (home / "mlflow.db").exists()  # nothing was made in its place
        for path in stored:  # back, as copies (new files under the same names)
            shutil.copytree(away / path.name, path) if path.is_dir() or (
                away / path.name
            ).is_dir() else shutil.copy2(away / path.name, path)
        bob = await open_speaker("bob")  # the same process reconnects by itself
        assert "bob" in bob.snapshot().get("audio_to_pose")
        v2 = _component(tmp_path / "alice" / "v2", '{"speaker": "alice", "version": 2}')
        ModelRegistry().register("alice", "audio_to_pose", v2, alias="production")
        assert await alice.refresh() is True  # promotions are followed again
        assert '"version": 2' in alice.snapshot().get("audio_to_pose")

    asyncio.run(scenario())
