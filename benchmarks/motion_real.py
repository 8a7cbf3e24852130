"""Audio-to-pose on real motion capture: ``python -m benchmarks.motion_real`` prints the tables.

Trains the audio-to-pose LSTM on the first ``--train-s`` seconds of the shared BEAT2 recording
(``../shared/data/motion/BEAT2_2_scott_0_1_1_first40s.{wav,npz}``: 40 s of one speaker's
conversational English with SMPL-X + FLAME capture, converted by ``body/mocap.py``, the hand PCA
fitted on the training part only) and scores the last ``--val-s`` seconds, predicted from their
audio alone, beside the baselines: the training mean pose held still, and the same model fed
other speech of the same speaker (``../shared/data/speech/BEAT2_2_scott_0_2_2.wav``). The
validation part is never seen in training (early stopping uses held-out blocks of the training
part). ``--speaker demo`` runs the same on the synthetic demo speaker (generated into a temporary
folder; its ground-truth poses, held-out recordings by ``split_recordings``).

The recipe is ``params.yaml``'s ``train_audio_to_pose`` section (what ``dvc repro`` trains), with
``--set key=value`` overrides (YAML values), e.g. ``--set target_normalization=none --set
loss_weights='{}'`` for the paper's plain training. Prints the learning curve (train and
validation loss per epoch), the per-part errors and gains, jaw-opening correlation, beat
consistency and diversity, and the training time on ``--threads`` torch threads; writes
``learning_curve.png`` and ``jaw_trajectory.png`` (and the report) under ``--out``.

Targets (issue 11): jaw and face error >= 40 % below the better baseline, jaw-opening correlation
>= 0.5, body and hands not worse than the mean pose.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

from benchmarks.table import print_table

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("S2V_SHARED_DATA", REPO.parent / "shared" / "data"))
MOCAP = "motion/BEAT2_2_scott_0_1_1_first40s"
OTHER_AUDIO = "speech/BEAT2_2_scott_0_2_2.wav"
PARTS = ("jaw", "face", "body", "hands")


def _features(path: Path) -> np.ndarray:
    from speech2video.audio.features import compute_features
    from speech2video.audio.io import decode

    return compute_features(decode(path).samples)


def beat2_data(train_s: float, val_s: float) -> tuple[list, list, list[np.ndarray], str]:
    """(training utterances, held-out clips, other-audio inputs, description) of the BEAT2 file."""
    from speech2video.body.mocap import (
        check_audio_length,
        fit_mocap_hand_basis,
        load_mocap,
        mocap_to_motion,
    )
    from speech2video.evaluation.motion_evaluation import HeldOutClip
    from speech2video.motion.training import Utterance

    npz, wav = SHARED / f"{MOCAP}.npz", SHARED / f"{MOCAP}.wav"
    for path in (npz, wav, SHARED / OTHER_AUDIO):
        if not path.is_file():
            sys.exit(f"motion_real: {path} not found (set S2V_SHARED_DATA)")
    feats = _features(wav)
    rec = load_mocap(npz)
    check_audio_length(rec, feats.shape[0] / 100.0)
    cut = round(train_s * rec.fps)
    end = min(rec.num_frames, cut + round(val_s * rec.fps))
    if cut < 2 or end - cut < 2:
        sys.exit(f"motion_real: --train-s {train_s} / --val-s {val_s} leave no frames to use")
    basis = fit_mocap_hand_basis([dataclasses.replace(rec, poses=rec.poses[:cut])])
    conv = mocap_to_motion(rec, basis, "scott")
    poses, fps = conv.motion.poses, rec.fps
    step = lambda f: round(f * 100 / fps)  # noqa: E731 - frame → feature row
    train = [Utterance(feats[: step(cut)], poses[:cut], fps, "beat2[train]")]
    clip = HeldOutClip("beat2[val]", {"audio": feats[step(cut) : step(end)]}, poses[cut:end], fps)
    desc = (
        f"BEAT2 scott 0_1_1: train 0-{cut / fps:g} s, validate {cut / fps:g}-{end / fps:g} s; "
        f"hand PCA keeps {conv.hand_variance_kept:.1%} of finger variance, first 10 FLAME "
        f"coefficients {conv.expression_kept:.1%} of expression-coefficient variance"
    )
    return train, [clip], [_features(SHARED / OTHER_AUDIO)], desc


def demo_data(config: str) -> tuple[list, list, list[np.ndarray], str]:
    """The synthetic demo speaker (a quick check: its mouth is a formula of its own audio)."""
    from pipelines.recordings import keyword_clips, split_recordings
    from speech2video.body.motion_file import load_motion
    from speech2video.evaluation.motion_evaluation import HeldOutClip
    from speech2video.motion.training import Utterance
    from speech2video.synthetic.config import get_config
    from speech2video.synthetic.demo_speaker import generate_demo_speaker

    root = Path(tempfile.mkdtemp(prefix="s2v-demo-")) / "demo_speaker"
    generate_demo_speaker(root, get_config(config), 0)
    ids = sorted(p.stem for p in (root / "recordings").glob("*.mp4"))
    posing = {c.recording for c in keyword_clips(root)}
    train_ids, held = split_recordings(ids, 0.1, 0, posing)
    data = {}
    for rec in train_ids + held:
        motion = load_motion(root / "ground_truth" / f"{rec}.npz")
        data[rec] = (_features(root / "recordings" / f"{rec}.mp4"), motion.poses, motion.fps)
    train = [Utterance(*data[r], r) for r in train_ids]
    clips = [HeldOutClip(r, {"audio": data[r][0]}, data[r][1], data[r][2]) for r in held]
    other = [data[r][0] for r in train_ids[:4]]
    desc = f"synthetic demo speaker ({config}, quick check): {len(train)} train, held out {held}"
    return train, clips, other, desc


def recipe(overrides: list[str]) -> dict:
    """``params.yaml`` ``train_audio_to_pose`` with ``key=value`` overrides."""
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    p = dict(params.get("train_audio_to_pose") or {})
    for item in overrides:
        key, _, value = item.partition("=")
        p[key.strip()] = yaml.safe_load(value)
    p["progress"] = False
    return p


def train(utterances: list, p: dict, threads: int):  # -> (model, TrainResult)
    import torch

    from speech2video.motion.lstm import SequenceToPoseLSTM, audio_to_pose_config
    from speech2video.motion.training import PoseSequenceDataset, TrainConfig, train_lstm

    torch.set_num_threads(threads)
    torch.manual_seed(int(p.get("seed", 0)))
    arch = {k: p[k] for k in ("hidden", "layers", "delay_s", "dropout") if k in p}
    model = SequenceToPoseLSTM(audio_to_pose_config(**arch))
    config = TrainConfig.from_params(p)

    def show(epoch: int, m: dict[str, float]) -> None:
        val = m.get("val_loss", float("nan"))
        print(f"epoch {epoch}: loss {m['loss']:.4g} val {val:.4g} ({m['seconds']:.1f} s)",
              file=sys.stderr, flush=True)  # fmt: skip

    result = train_lstm(model, PoseSequenceDataset(utterances), config, callback=show)
    return model, result


def write_figures(out: Path, result, ev, fps: float) -> None:
    from speech2video.evaluation import figures

    out.mkdir(parents=True, exist_ok=True)
    curve = {
        "train loss": np.array([m["loss"] for m in result.history]),
        "val loss": np.array([m.get("val_loss", np.nan) for m in result.history]),
    }
    img = figures.line_plot(curve, "learning curve (loss per epoch)", 1.0, "epoch")
    figures.write_png(out / "learning_curve.png", img)
    names = {"fitted": "truth", "mean_pose": "mean pose", "other_audio": "other audio"}
    order = ("model", "fitted", "mean_pose", "other_audio")
    series = {names.get(k, k): ev.jaw_opening[k] for k in order if k in ev.jaw_opening}
    img = figures.line_plot(series, "jaw opening (rad), validation", 1.0 / fps, "seconds")
    figures.write_png(out / "jaw_trajectory.png", img)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speaker", choices=("beat2", "demo"), default="beat2")
    parser.add_argument("--demo-config", default="demo", help="demo speaker preset (tiny|demo)")
    parser.add_argument("--train-s", type=float, default=30.0)
    parser.add_argument("--val-s", type=float, default=10.0)
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--out", type=Path, default=None, help="folder for the figures")
    args = parser.parse_args()

    from speech2video.evaluation.baselines import mean_pose
    from speech2video.evaluation.motion_evaluation import evaluate_motion

    if args.speaker == "beat2":
        utterances, clips, other, desc = beat2_data(args.train_s, args.val_s)
    else:
        utterances, clips, other, desc = demo_data(args.demo_config)
    p = recipe(args.set)
    start = time.perf_counter()
    model, result = train(utterances, p, args.threads)
    seconds = time.perf_counter() - start
    base = mean_pose([u.poses for u in utterances])
    ev = evaluate_motion(clips, model, None, None, base, "audio", 0, 0.1, "", other)
    m = ev.metrics
    print(f"\n{desc}\nrecipe: {p}")
    print_table(
        "Learning curve (loss in the training's units; val = held-out blocks of the training part)",
        ("epoch", "train loss", "val loss", "val mouth", "lr"),
        [
            (i + 1, h["loss"], h.get("val_loss", float("nan")), h.get("val_loss_mouth", 0.0),
             h["lr"])
            for i, h in enumerate(result.history)
        ],
    )  # fmt: skip
    rows = []
    for part in PARTS:
        k = f"pose_mae_{part}"
        rows.append((part, m[k], m[f"{k}_mean_pose"], m.get(f"{k}_other_audio", float("nan")),
                     m.get(f"{k}_shuffled", float("nan")), f"{m[f'{k}_gain']:+.1%}"))  # fmt: skip
    print_table(
        "Validation pose error (MAE, pose units) and gain over the better baseline",
        ("part", "model", "mean pose", "other audio", "shuffled", "gain"),
        rows,
    )
    systems = (("model", ""), ("other audio", "_other_audio"), ("shuffled", "_shuffled"),
               ("mean pose", "_mean_pose"), ("truth", "_fitted"))  # fmt: skip
    print_table(
        "Jaw-opening correlation, beat consistency, diversity (validation)",
        ("system", "jaw corr", "beat consistency", "diversity body", "diversity jaw"),
        [
            (name, m.get(f"jaw_opening_corr{s}", float("nan")),
             m.get(f"beat_consistency{s}", float("nan")), m.get(f"diversity_body{s}", 0.0),
             m.get(f"diversity_jaw{s}", 0.0))
            for name, s in systems
        ],
    )  # fmt: skip
    print_table(
        "Training",
        ("threads", "epochs run", "best epoch", "seconds"),
        [(args.threads, len(result.history), result.best_epoch, round(seconds, 1))],
    )
    if result.shrinkage:
        shrink = ", ".join(f"{k} {v:.3g}" for k, v in result.shrinkage.items())
        print(f"\nshrinkage toward the mean pose (1 = the model's motion kept): {shrink}")
    if args.out is not None:
        write_figures(args.out, result, ev, clips[0].fps)
        print(f"\nfigures: {args.out}/learning_curve.png, {args.out}/jaw_trajectory.png")


if __name__ == "__main__":
    main()
