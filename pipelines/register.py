"""Stage ``register``: every component under ``models/`` becomes a new registered version.

Each ``models/<component>/`` is logged as artifacts of the MLflow run ``register`` and
registered as a version of ``s2v-<speaker>-<component>`` with the evaluation metrics
(``metrics/evaluation.json``) as tags ``metric.*``, the git commit (``git.commit``) and the
``dvc.lock`` hashes of the inputs of the stage that produced it and of this stage
(``data.<path>``), and alias ``register.alias`` (``candidate``). When ``register.promote_to``
is set, the speaker's set is then promoted to it through the evaluation gate
(``speech2video_mlops.promotion``, tolerance ``register.tolerance``); a refusal is reported in
``metrics/registered.json`` and on stdout, not a stage failure (the candidate stays registered).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pipelines.recordings import METRICS_DIR, MODELS_DIR, speaker_info
from pipelines.stage_io import StageError, load_params, run_stage, stage_file

STAGE = "register"
EVALUATION = METRICS_DIR / "evaluation.json"
DEFAULTS: dict[str, Any] = {"alias": "candidate", "promote_to": "production", "tolerance": 0.05}
#: The stage that writes each component (its dvc.lock inputs become the version's data tags).
PRODUCED_BY: dict[str, str] = {
    "audio_to_pose": "train_audio_to_pose",
    "text_to_pose": "train_text_to_pose",
    "renderer": "train_renderer",
    "key_pose_dictionary": "build_key_pose_dictionary",
    "body_model": "skeletons",
}


def component_dirs(models_dir: Path = MODELS_DIR) -> dict[str, Path]:
    """Known, non-empty component directories under ``models/``, in component order."""
    from speech2video.model_set import COMPONENTS

    return {
        c: models_dir / c
        for c in COMPONENTS
        if (models_dir / c).is_dir() and any((models_dir / c).iterdir())
    }


def read_metrics(path: Path = EVALUATION) -> dict[str, float]:
    """The numeric metrics of ``metrics/evaluation.json`` (empty when the file is absent)."""
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise StageError(f"{path}: invalid JSON ({exc})") from None
    return {k: float(v) for k, v in data.items() if isinstance(v, int | float)}


def main() -> None:
    from speech2video_mlops.promotion import PromotionRefusedError, promote
    from speech2video_mlops.registry import ModelRegistry
    from speech2video_mlops.tracking import TrainingRun, dvc_lock_hashes, git_commit

    params = load_params()
    p = {**DEFAULTS, **(params.get(STAGE) or {})}
    if "speaker_dir" not in params:
        raise StageError("params.yaml: lacks the key 'speaker_dir'")
    speaker = speaker_info(params["speaker_dir"])["speaker"]
    components = component_dirs()
    if not components:
        raise StageError(f"{MODELS_DIR}: no component directories to register")
    metrics = read_metrics()
    registry = ModelRegistry()
    commit = git_commit()
    own = dvc_lock_hashes(STAGE)
    versions: dict[str, int] = {}
    with TrainingRun(STAGE, speaker, p, registry=registry) as run:
        run.log_metrics(metrics)
        for component, directory in components.items():
            hashes = {**dvc_lock_hashes(PRODUCED_BY.get(component, "")), **own}
            tags = {"git.commit": commit, **{f"data.{k}": v for k, v in hashes.items()}}
            ref = registry.register(
                speaker,
                component,
                directory,
                run_id=run.run_id,
                metrics=metrics,
                tags=tags,
                alias=p["alias"] or None,
            )
            versions[component] = int(ref.version)
            print(f"stage {STAGE}: {ref.name} version {ref.version} ({p['alias']})")
        result: dict[str, Any] = {"speaker": speaker, "alias": p["alias"], "versions": versions}
        if p.get("promote_to"):
            try:
                decision = promote(
                    registry,
                    speaker,
                    alias=p["promote_to"],
                    source=p["alias"],
                    tolerance=float(p["tolerance"]),
                )
                result["promoted"] = 1
                print(
                    f"stage {STAGE}: promoted {speaker} to {p['promote_to']}: {decision.candidate}"
                )
            except PromotionRefusedError as exc:
                result["promoted"] = 0
                result["refused"] = str(exc)
                print(f"stage {STAGE}: {exc}")
            run.set_tags({"promotion.promoted": str(result["promoted"])})
    with stage_file(METRICS_DIR / "registered.json") as tmp:
        tmp.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    run_stage(STAGE, main)
