"""Training a speaker's sequence-to-pose LSTM from audio or text inputs (shared by two stages)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from pipelines.mocap_pretraining import pretrain, pretrain_settings
from pipelines.recordings import (
    FEATURES_DIR,
    FIT_DIR,
    METRICS_DIR,
    MODELS_DIR,
    audio_inputs,
    ingested_recordings,
    keyword_clips,
    speaker_info,
    split_recordings,
)
from pipelines.stage_io import StageError, load_params, stage_file, stage_output

#: Params keys that shape the model (the rest are TrainConfig's).
ARCH = ("hidden", "layers", "delay_s", "dropout", "embedding", "readout_parts",
        "readout_context_s", "readout_stride_s")  # fmt: skip


def train_pose_model(stage: str, component: str, source: str) -> None:
    """Train on (features, fitted poses) of the training recordings; write the component.

    source: "audio" (data/interim/features/<rec>.npy) or "text"
    (data/interim/features/text/<rec>.npy)
    """
    from speech2video.audio.text_encoding import text_to_pose_config
    from speech2video.body.motion_file import load_motion
    from speech2video.errors import InputError
    from speech2video.motion.lstm import SequenceToPoseLSTM, audio_to_pose_config
    from speech2video.motion.training import PoseSequenceDataset, TrainConfig, train_lstm
    from speech2video_mlops.tracking import TrainingRun

    params = load_params()
    p = dict(params.get(stage) or {})
    if p.get("phones"):  # a benchmark option only (docs/data-science.md): say so, not ignore it
        raise StageError(
            f"params.yaml {stage}: phones {p['phones']!r}: phonetic input is measured by "
            "benchmarks.motion_real only; the pipeline and the serving stages do not give the "
            "audio model its words yet (remove the key)"
        )
    split = params.get("split") or {}
    speaker = speaker_info(params["speaker_dir"])["speaker"]
    posing = {c.recording for c in keyword_clips(params["speaker_dir"])}
    train_ids, _ = split_recordings(
        ingested_recordings(), split.get("holdout", 0.1), int(split.get("seed", 0)), posing
    )
    if p.get("embedding") and source != "audio":
        raise StageError(f"params.yaml {stage}: embedding is for the audio model only")
    embedding = str(p.get("embedding") or "")
    feat_dir = FEATURES_DIR if source == "audio" else FEATURES_DIR / "text"
    utterances = []
    for rec in train_ids:
        if source == "audio":
            rows = audio_inputs(rec, embedding)
        else:
            path = feat_dir / f"{rec}.npy"
            rows = np.load(path) if path.is_file() else None
        if rows is None:
            continue
        motion = load_motion(FIT_DIR / "motion" / f"{rec}.npz")
        utterances.append((rows, motion.poses, motion.fps))
    if not utterances:
        raise StageError(f"{feat_dir}: no {source} inputs for the training recordings")
    arch = {k: p[k] for k in ARCH if p.get(k) is not None}
    try:
        config = audio_to_pose_config(**arch) if source == "audio" else text_to_pose_config(**arch)
    except InputError as exc:
        raise StageError(f"params.yaml {stage}: {exc}") from None
    torch_seed = int(p.get("seed", 0))
    import torch

    torch.manual_seed(torch_seed)
    model = SequenceToPoseLSTM(config)
    try:
        train_config = TrainConfig.from_params({**p, "seed": torch_seed})
    except (TypeError, ValueError) as exc:
        raise StageError(f"params.yaml {stage}: {exc}") from None
    dataset = PoseSequenceDataset(utterances, config.input_rate)
    spec = pretrain_settings(p)
    if spec is not None and source != "audio":
        raise StageError(f"params.yaml {stage}: pretrain is for the audio model only")
    with TrainingRun(stage, speaker, {**p, "recordings": len(utterances)}) as run:
        pre = {}
        if spec is not None:  # motion capture first (pipelines/mocap_pretraining.py)
            folder = Path(params["speaker_dir"]) / str(spec["folder"])
            pre = pretrain(model, spec, p, folder, run.log_epoch)
        result = train_lstm(model, dataset, train_config, callback=run.log_epoch)
        with stage_output(MODELS_DIR / component) as out:
            model.save(out)
        run.log_artifacts(MODELS_DIR / component, f"model/{component}")
        summary = {
            "best_epoch": result.best_epoch,
            "epochs_run": len(result.history),
            "best_val_loss": result.best_loss,
            "train_seconds": result.seconds,
            "recordings": len(utterances),
            **pre,
            **_readout_summary(result.readout),
        }
        run.log_metrics({k: float(v) for k, v in summary.items()})
        if result.readout is not None:  # the readout's validation curve over ridge strengths
            for i, (ridge, err) in enumerate(result.readout.curve, start=1):
                run.log_epoch(i, {"readout_path_ridge": ridge, "readout_path_val_error": err})
        run.set_tags({"component": component})
    METRICS_DIR.mkdir(exist_ok=True)
    with stage_file(METRICS_DIR / f"{stage}.json") as tmp:
        Path(tmp).write_text(json.dumps(summary, indent=2) + "\n")


def _readout_summary(fit: object) -> dict[str, float]:
    """The speech-embedding readout's figures for the stage's metrics (none without one)."""
    if fit is None:
        return {}
    out = {"readout_ridge": fit.ridge}
    for part, err in fit.val_error.items():
        out[f"readout_val_error_{part}"] = err
        out[f"readout_lstm_val_error_{part}"] = fit.lstm_error[part]
        out[f"readout_used_{part}"] = float(part in fit.used)
    return out
