"""A request pinned to the versions the gateway resolved: every stage uses exactly those, even
while the alias moves and before the stage itself has followed it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from speech2video.errors import InputError, NotFoundError

pytestmark = pytest.mark.integration
COMPONENTS = ("audio_to_pose", "body_model", "key_pose_dictionary", "renderer")


def _component(directory: Path, text: str) -> Path:
    directory.mkdir(parents=True)
    (directory / "config.json").write_text(text)
    return directory


def test_pinned_versions_are_served_exactly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from services import speaker_models
    from services.model_pins import ModelSetVersions
    from services.speaker_models import SpeakerModels, pins_from_metadata, pins_to_metadata
    from speech2video_mlops.registry import ModelRegistry

    monkeypatch.setenv("S2V_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setattr(speaker_models, "_REGISTRY", None)
    registry = ModelRegistry()
    for component in COMPONENTS:
        registry.register("alice", component, _component(tmp_path / component / "1", "v1"),
                          alias="production")  # fmt: skip

    def loader(component: str, path: Path) -> str:
        return (path / "config.json").read_text()

    async def scenario() -> None:
        stage = await SpeakerModels.open(
            "alice", ("audio_to_pose", "body_model"), loader=loader, refresh_s=3600
        )
        resolver = ModelSetVersions(refresh_s=0)
        before = await resolver.resolve("alice")
        assert before == dict.fromkeys(COMPONENTS, "1")
        registry.register(
            "alice", "audio_to_pose", _component(tmp_path / "a2p2", "v2"), alias="production"
        )  # fmt: skip — the alias moves
        after = await resolver.resolve("alice")
        assert after["audio_to_pose"] == "2"
        assert stage.snapshot().get("audio_to_pose") == "v1"  # the stage has not followed yet
        pinned = await stage.pinned(after)  # a request resolved after the move
        assert pinned.get("audio_to_pose") == "v2" and pinned.get("body_model") == "v1"
        assert {m["version"] for m in pinned.lineage("audio_to_pose").models} == {"2"}
        assert pinned.lineage().models[0]["alias"] == "production"
        assert await stage.pinned(before) is stage.snapshot()  # one resolved before: as loaded
        assert await stage.pinned(after) is pinned  # kept for the next request
        with pytest.raises(NotFoundError, match="unknown speaker 'nobody'"):
            await resolver.resolve("nobody")

    asyncio.run(scenario())
    assert pins_from_metadata([("s2v-model-versions", pins_to_metadata({"renderer": "3"}))]) == {
        "renderer": "3"
    }
    for bad in ("renderer=x", "vocoder=1", "renderer"):
        with pytest.raises(InputError):
            pins_from_metadata([("s2v-model-versions", bad)])
