"""Pre-training the audio-to-pose model on motion capture before the speaker's own recordings.

A speaker enrolled from video may have only seconds of speech; motion capture of other speech
(AMASS/BEAT2 SMPL-X with its audio) gives the LSTM minutes of audio → motion first.
``train_audio_to_pose.pretrain`` in ``params.yaml``::

    pretrain:
      folder: pretrain      # under the speaker folder: mocap/<rec>.npz + audio/<rec>.wav
      epochs: 20            # the pre-training's own budget (early stopping on its blocks)
      parts: [body, mouth]  # the loss parts that transfer between people (default)

The capture is converted to the 106-float contract (``body/mocap.py``; hand PCA basis fitted
on the capture itself) and the model trains on it with the stage's own settings, except that
only ``parts`` carry loss: body and jaw rotations mean the same in any SMPL-X speaker, while
the hand coefficients are in the capture's PCA basis (not the speaker's) and the face
coefficients (eyes + FLAME expression) depend on who is captured and how. No shrinkage is
fitted on the capture. Then the stage trains on the speaker's own recordings as without
pre-training, starting from these weights; input and output normalisation are set again from
the speaker's data, so the pre-trained layers see inputs and targets on the same scale.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from pipelines.mocap_ingest import mocap_files
from pipelines.stage_io import StageError

#: Loss parts that carry over from another person's capture (pose_layout.LOSS_GROUPS names).
TRANSFERABLE = ("body", "mouth")
DEFAULTS: dict[str, Any] = {"folder": "pretrain", "epochs": 20, "parts": list(TRANSFERABLE)}


def pretrain_settings(p: dict[str, Any]) -> dict[str, Any] | None:
    """``train_audio_to_pose.pretrain`` with defaults filled; None when it is absent or null."""
    spec = p.get("pretrain")
    if spec in (None, False):
        return None
    if spec is True:
        spec = {}
    if not isinstance(spec, dict):
        raise StageError(f"params pretrain must be a mapping or null; got {spec!r}")
    unknown = sorted(set(spec) - set(DEFAULTS))
    if unknown:
        raise StageError(f"params pretrain: unknown key(s) {unknown}; known {sorted(DEFAULTS)}")
    out = {**DEFAULTS, **spec}
    from speech2video.body.pose_layout import LOSS_GROUPS

    parts = list(out["parts"])
    bad = sorted(set(parts) - set(LOSS_GROUPS))
    if bad or not parts:
        raise StageError(f"params pretrain.parts: {bad or parts} (use {', '.join(LOSS_GROUPS)})")
    if int(out["epochs"]) < 1:
        raise StageError(f"params pretrain.epochs must be >= 1; got {out['epochs']}")
    return out


def pretraining_utterances(
    folder: Path, speaker: str, embedding: str = ""
) -> tuple[list[tuple[np.ndarray, np.ndarray, float]], dict[str, Any]]:
    """(inputs (N, 28 [+ E]), poses (T, 106), fps) per capture in ``folder``, and a report;
    the inputs carry the speech ``embedding``'s columns when the model reads one."""
    from speech2video.audio.features import compute_features
    from speech2video.audio.io import decode
    from speech2video.audio.speech_embedding import with_embedding
    from speech2video.body.mocap import (
        check_audio_length,
        fit_mocap_hand_basis,
        load_mocap,
        mocap_to_motion,
    )
    from speech2video.errors import InputError

    if not folder.is_dir():
        raise StageError(f"{folder}: no pre-training folder (mocap/<rec>.npz + audio/<rec>.wav)")
    files = mocap_files(folder)
    try:
        captures = {rec: load_mocap(npz) for rec, (npz, _) in files.items()}
        basis = fit_mocap_hand_basis(list(captures.values()))
        utterances, seconds = [], 0.0
        for rec, (_, audio_path) in files.items():
            samples = decode(audio_path).samples
            feats = compute_features(samples)
            check_audio_length(captures[rec], feats.shape[0] / 100.0)
            feats = with_embedding(feats, samples, embedding)
            conv = mocap_to_motion(captures[rec], basis, speaker)
            utterances.append((feats, conv.motion.poses, conv.motion.fps))
            seconds += conv.motion.num_frames / conv.motion.fps
    except InputError as exc:
        raise StageError(f"pre-training capture: {exc}") from None
    return utterances, {"recordings": len(utterances), "seconds": round(seconds, 2)}


def pretrain(
    model: Any, spec: dict[str, Any], p: dict[str, Any], folder: Path, log: Any = None
) -> dict[str, float]:
    """Train ``model`` (a SequenceToPoseLSTM) in place on the capture in ``folder`` (the stage
    passes ``<speaker_dir>/<spec["folder"]>``); ``p``: the stage's settings (TrainConfig
    fields); ``log(epoch, metrics)`` gets each epoch, ``pretrain_``-prefixed. Returns
    ``pretrain_*`` summary figures."""
    from speech2video.body.pose_layout import DEFAULT_LOSS_WEIGHTS
    from speech2video.motion.training import PoseSequenceDataset, TrainConfig, train_lstm

    utterances, report = pretraining_utterances(folder, folder.name, model.config.embedding)
    stage_weights = {**DEFAULT_LOSS_WEIGHTS, **(p.get("loss_weights") or {})}
    weights = {k: (w if k in spec["parts"] else 0.0) for k, w in stage_weights.items()}
    settings = {**p, "epochs": int(spec["epochs"]), "shrink_to_mean": False}
    config = TrainConfig.from_params({**settings, "loss_weights": weights})
    dataset = PoseSequenceDataset(utterances, model.config.input_rate)

    def callback(epoch: int, metrics: dict[str, float]) -> None:
        if log is not None:
            log(epoch, {f"pretrain_{k}": v for k, v in metrics.items()})

    result = train_lstm(model, dataset, config, callback=callback)
    return {
        "pretrain_recordings": float(report["recordings"]),
        "pretrain_seconds_of_capture": float(report["seconds"]),
        "pretrain_best_epoch": float(result.best_epoch),
        "pretrain_epochs_run": float(len(result.history)),
        "pretrain_train_seconds": float(result.seconds),
    }
