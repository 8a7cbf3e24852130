"""The model registry against a real MLflow sqlite store in a temp dir."""

from __future__ import annotations

from pathlib import Path

import pytest

from speech2video.errors import InputError, NotFoundError
from speech2video_mlops.registry import ModelRegistry, model_name, parse_model_name

pytestmark = pytest.mark.integration


@pytest.fixture()
def registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModelRegistry:
    monkeypatch.setenv("S2V_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return ModelRegistry()


def _component(tmp_path: Path, name: str, payload: str) -> Path:
    d = tmp_path / name
    d.mkdir()
    (d / "config.json").write_text(payload)
    return d


def test_register_alias_resolve_download(registry: ModelRegistry, tmp_path: Path) -> None:
    v1 = registry.register("demo", "audio_to_pose", _component(tmp_path, "a", '{"v": 1}'),
                           metrics={"mouth_px": 2.0}, tags={"data.features": "abc"})  # fmt: skip
    v2 = registry.register("demo", "audio_to_pose", _component(tmp_path, "b", '{"v": 2}'),
                           alias="candidate")  # fmt: skip
    assert (v1.version, v2.version) == ("1", "2")
    assert v1.metrics == {"mouth_px": 2.0} and v1.data_hashes == {"features": "abc"}
    registry.set_alias("demo", "audio_to_pose", "production", "1")
    prod = registry.resolve("demo", "audio_to_pose")
    assert prod.ref.version == "1" and prod.ref.alias == "production"
    assert (prod.path / "config.json").read_text() == '{"v": 1}'
    cand = registry.resolve("demo", "audio_to_pose", "candidate")
    assert (cand.path / "config.json").read_text() == '{"v": 2}'
    # moving the alias is seen at once; the cache is per version
    registry.set_alias("demo", "audio_to_pose", "production", "2")
    assert registry.resolve("demo", "audio_to_pose").path == cand.path
    assert [r.version for r in registry.versions("demo", "audio_to_pose")] == ["2", "1"]
    assert registry.speakers() == {"demo": ["audio_to_pose"]}


def test_not_found_and_bad_names(registry: ModelRegistry, tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="s2v-nobody-renderer@production"):
        registry.resolve("nobody", "renderer")
    registry.register("demo", "renderer", _component(tmp_path, "r", "{}"))
    with pytest.raises(NotFoundError, match="no version 7"):
        registry.set_alias("demo", "renderer", "production", "7")
    with pytest.raises(InputError, match="invalid speaker id"):
        model_name("Bad Name", "renderer")
    with pytest.raises(InputError, match="unknown component"):
        model_name("demo", "vocoder")
    with pytest.raises(InputError, match="missing or empty"):
        registry.register("demo", "renderer", tmp_path / "nothing")


def test_parse_model_name() -> None:
    assert parse_model_name("s2v-demo_2-key_pose_dictionary") == ("demo_2", "key_pose_dictionary")
    assert parse_model_name("other-model") is None
