"""The promotion gate against a real MLflow sqlite registry: pass, refuse, force, roll back."""

from __future__ import annotations

from pathlib import Path

import pytest

from speech2video.errors import InputError, NotFoundError
from speech2video_mlops.promotion import (
    PromotionRefusedError,
    alias_set,
    gate,
    promote,
    rollback,
)
from speech2video_mlops.registry import ModelRegistry

pytestmark = pytest.mark.integration


@pytest.fixture()
def registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModelRegistry:
    monkeypatch.setenv("S2V_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return ModelRegistry()


def _register_set(registry: ModelRegistry, tmp_path: Path, metrics: dict[str, float]) -> None:
    """One candidate set: audio_to_pose and renderer, both carrying the set's metrics."""
    for component in ("audio_to_pose", "renderer"):
        d = tmp_path / f"{component}-{len(list(tmp_path.iterdir()))}"
        d.mkdir()
        (d / "config.json").write_text("{}")
        registry.register("demo", component, d, metrics=metrics, alias="candidate")


def _versions(registry: ModelRegistry, alias: str = "production") -> dict[str, str]:
    return {c: r.version for c, r in alias_set(registry, "demo", alias).items()}


GOOD = {"mouth_px": 2.0, "psnr": 30.0, "mouth_px_shuffled": 5.0}


def test_first_promotion_passes_then_gate_refuses_naming_the_metric(
    registry: ModelRegistry, tmp_path: Path
) -> None:
    _register_set(registry, tmp_path, GOOD)
    first = promote(registry, "demo", by="tester")
    assert first.applied and first.checks == () and first.previous == {}
    assert _versions(registry) == {"audio_to_pose": "1", "renderer": "1"}
    tags = registry.version("demo", "renderer", "1").tags
    assert tags["promotion.by"] == "tester" and "promotion.at" in tags

    # mouth error 10 % worse (> 5 % tolerance); psnr within tolerance; baselines not gated
    _register_set(registry, tmp_path, {"mouth_px": 2.2, "psnr": 29.0, "mouth_px_shuffled": 99.0})
    with pytest.raises(PromotionRefusedError) as err:
        promote(registry, "demo")
    message = str(err.value)
    assert "mouth_px (lower is better): current 2, candidate 2.2, tolerance 0.05" in message
    assert "psnr" not in message and "shuffled" not in message
    assert _versions(registry) == {"audio_to_pose": "1", "renderer": "1"}  # nothing moved
    assert [c.name for c in err.value.decision.failures] == ["mouth_px"]
    # a looser tolerance lets it through
    ok = promote(registry, "demo", tolerance=0.2)
    assert ok.applied and ok.previous == {"audio_to_pose": "1", "renderer": "1"}
    assert _versions(registry) == {"audio_to_pose": "2", "renderer": "2"}


def test_force_needs_a_reason_and_records_it(registry: ModelRegistry, tmp_path: Path) -> None:
    _register_set(registry, tmp_path, GOOD)
    promote(registry, "demo")
    _register_set(registry, tmp_path, {"mouth_px": 3.0})  # worse, and psnr missing
    with pytest.raises(InputError, match="needs --reason"):
        promote(registry, "demo", force=True)
    with pytest.raises(PromotionRefusedError, match=r"psnr .*candidate missing"):
        promote(registry, "demo")
    decision = promote(registry, "demo", force=True, reason="hotfix for a demo", by="ops")
    assert decision.forced and {c.name for c in decision.failures} == {"mouth_px", "psnr"}
    tags = registry.version("demo", "audio_to_pose", "2").tags
    assert tags["promotion.forced_reason"] == "hotfix for a demo"
    assert tags["promotion.by"] == "ops"
    assert _versions(registry) == {"audio_to_pose": "2", "renderer": "2"}


def test_rollback_walks_the_alias_history(registry: ModelRegistry, tmp_path: Path) -> None:
    _register_set(registry, tmp_path, GOOD)
    promote(registry, "demo")
    _register_set(registry, tmp_path, {**GOOD, "mouth_px": 1.5})
    promote(registry, "demo")
    _register_set(registry, tmp_path, {**GOOD, "mouth_px": 1.4})
    promote(registry, "demo")
    assert _versions(registry) == {"audio_to_pose": "3", "renderer": "3"}
    back = rollback(registry, "demo")
    assert back.replaced == {"audio_to_pose": "3", "renderer": "3"}
    assert _versions(registry) == {"audio_to_pose": "2", "renderer": "2"}
    rollback(registry, "demo")
    assert _versions(registry) == {"audio_to_pose": "1", "renderer": "1"}
    rollback(registry, "demo")  # before the first promotion: no production alias at all
    assert _versions(registry) == {}
    with pytest.raises(NotFoundError, match="no model at alias 'production'"):
        rollback(registry, "demo")


def test_explicit_versions_unknown_speaker_and_pure_gate(
    registry: ModelRegistry, tmp_path: Path
) -> None:
    with pytest.raises(NotFoundError, match="no registered models for speaker 'nobody'"):
        promote(registry, "nobody")
    _register_set(registry, tmp_path, GOOD)
    _register_set(registry, tmp_path, {**GOOD, "mouth_px": 1.0})
    decision = promote(registry, "demo", versions={"audio_to_pose": "1"})
    assert decision.candidate == {"audio_to_pose": "1"}
    assert _versions(registry) == {"audio_to_pose": "1"}
    checks = gate({"ssim": 0.9, "diversity_body": 3.0}, {"ssim": 0.86, "diversity_body": 0.1}, 0.05)
    assert [(c.name, c.passed) for c in checks] == [("ssim", True)]  # 0.86 >= 0.9 - 0.045
    assert not gate({"ssim": 0.9}, {"ssim": 0.85}, 0.05)[0].passed
