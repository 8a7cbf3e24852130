"""The audio-to-pose model learns the mouth from real speech (shared BEAT2 capture; slow).

Trained on the first 30 s of the shared recording with the committed recipe (``params.yaml``
``train_audio_to_pose``: model, loss, regularisation) on a fixed budget of :data:`EPOCHS` epochs
without the early-stopping split (whose choice of blocks is what varies most between seeds),
the predicted jaw opening on the unseen last 10 s must follow the capture when the model hears
that speech, and clearly less when it hears other speech of the same speaker.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import yaml

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[3]
MOCAP = "motion/BEAT2_2_scott_0_1_1_first40s"
OTHER = "speech/BEAT2_2_scott_0_2_2.wav"
#: Training budget (epochs of ``batches_per_epoch`` batches): where the recipe's early stopping
#: picks its best epoch on most seeds (8 of 14 on seed 0).
EPOCHS = 8
SEED = 0
#: Jaw-opening correlation on the held-out 10 s, own audio, at least; and its lead over other
#: audio. Measured with this budget over seeds 0-3: own 0.54-0.63, other 0.11-0.17, lead
#: 0.40-0.48; the bounds leave about half of the smallest. ~46 s on 2 threads (load ~1.5).
MIN_CORR = 0.3
MIN_LEAD = 0.2
TRAIN_FRAMES = 900  # 30 s at 30 fps


def jaw_correlations(shared: Path, seed: int = SEED, epochs: int = EPOCHS) -> tuple[float, float]:
    """(held-out jaw-opening correlation fed the clip's audio, fed other audio)."""
    import torch

    from speech2video.audio.features import compute_features
    from speech2video.audio.io import decode
    from speech2video.body.mocap import fit_mocap_hand_basis, load_mocap, mocap_to_motion
    from speech2video.evaluation import motion_metrics as mm
    from speech2video.motion.lstm import SequenceToPoseLSTM, audio_to_pose_config
    from speech2video.motion.training import (
        PoseSequenceDataset,
        TrainConfig,
        Utterance,
        train_lstm,
    )

    rec = load_mocap(shared / f"{MOCAP}.npz")
    feats = compute_features(decode(shared / f"{MOCAP}.wav").samples)
    other = compute_features(decode(shared / OTHER).samples)
    train_part = rec.poses[:TRAIN_FRAMES]
    basis = fit_mocap_hand_basis([dataclasses.replace(rec, poses=train_part)])
    poses = mocap_to_motion(rec, basis).motion.poses
    p = dict(yaml.safe_load((REPO / "params.yaml").read_text())["train_audio_to_pose"])
    p.update(epochs=epochs, patience=None, val_fraction=0.0, shrink_to_mean=False, seed=seed)
    p["progress"] = False
    torch.set_num_threads(2)
    torch.manual_seed(seed)
    arch = {k: p[k] for k in ("hidden", "layers", "delay_s", "dropout") if k in p}
    model = SequenceToPoseLSTM(audio_to_pose_config(**arch))
    cut = TRAIN_FRAMES * 100 // 30
    data = PoseSequenceDataset([Utterance(feats[:cut], poses[:TRAIN_FRAMES], rec.fps)])
    train_lstm(model, data, TrainConfig.from_params(p))
    truth = mm.jaw_opening(poses[TRAIN_FRAMES:])
    n = truth.shape[0]
    own = mm.jaw_opening(model.predict(feats[cut:], rec.fps)[:n])
    heard_other = mm.jaw_opening(model.predict(other[: feats.shape[0] - cut], rec.fps)[:n])
    return mm.correlation(own, truth), mm.correlation(heard_other, truth)


def test_held_out_jaw_follows_the_speech_it_hears(shared_data: Path) -> None:
    for name in (f"{MOCAP}.npz", f"{MOCAP}.wav", OTHER):
        if not (shared_data / name).is_file():
            pytest.skip(f"{shared_data / name} not found")
    own, other = jaw_correlations(shared_data)
    assert own >= MIN_CORR, f"jaw-opening correlation {own:.3f} with its own speech"
    assert own - other >= MIN_LEAD, f"own speech {own:.3f} vs other speech {other:.3f}"
    assert np.isfinite(other)
