"""Audio-to-pose on real motion capture: ``python -m benchmarks.motion_real`` prints the tables.

Trains the audio-to-pose LSTM on the first ``--train-s`` seconds of the shared BEAT2 recording
(``../shared/data/motion/BEAT2_2_scott_0_1_1_first40s.{wav,npz,TextGrid}``: 40 s of one speaker's
conversational English with SMPL-X + FLAME capture, converted by ``body/mocap.py``, the hand PCA
fitted on the training part only) and scores the last ``--val-s`` seconds, predicted from their
audio alone, beside the baselines: the training mean pose held still, and the same model fed
other speech of the same speaker (``../shared/data/speech/BEAT2_2_scott_0_2_2.wav``). The
validation part is never seen in training (early stopping uses held-out blocks of the training
part). ``--speaker demo`` runs the same on the synthetic demo speaker (generated into a temporary
folder; its ground-truth poses, held-out recordings by ``split_recordings``). ``--speaker
workspace --workspace PATH`` runs it on an enrolled speaker's workspace after its ``features``
stage (poses fitted from video; its own held-out recordings). ``--set pretrain='{epochs: 20}'``
pre-trains on the shared BEAT2 capture first, as the stage's ``pretrain`` does
(``pipelines/mocap_pretraining.py``): the capture's body and jaw, then the speaker's data.

The recipe is ``params.yaml``'s ``train_audio_to_pose`` section (what ``dvc repro`` trains), with
``--set key=value`` overrides (YAML values), e.g. ``--set target_normalization=none --set
loss_weights='{}'`` for the paper's plain training, ``--set embedding=''`` for the paper's model
without the Whisper readout of the mouth (the recipe's default reads it), or ``--set phones=viseme``
for phonetic input (``benchmarks/motion_real_data.py``: phones aligned from the transcript for
training; for the held-out audio from the transcript or, ``--phones-from recognised``, from the
words the speech recogniser hears, as in serving). ``--variant 'label:key=value;key=value'``
(repeatable) compares recipes, each over every ``--seeds`` seed: the summary table gives mean ± std
over seeds, and the columns to choose settings by are the ``inner-val`` ones (the validation blocks
inside the training part), never the held-out ones. A single run prints the learning curve (train
and validation loss per epoch), the per-part errors and gains, jaw-opening correlation, beat
consistency and diversity, and the training time on ``--threads`` torch threads. Figures under
``--out`` (``<label>/`` per variant when there are several): ``learning_curve.png`` (every seed),
``jaw_trajectory.png`` (first seed). ``--mlflow [URI]`` logs each run's learning curve and results
to the experiment ``motion_real``. With several seeds a variant is also scored as an ensemble: the
mean of its seeds' predicted poses.

Targets (issue 11): jaw and face error >= 40 % below the better baseline, jaw-opening correlation
>= 0.5, body and hands not worse than the mean pose.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from benchmarks.motion_real_data import (
    PHONES_FROM,
    REPO,
    BenchmarkData,
    beat2_capture_folder,
    beat2_data,
    demo_data,
    workspace_data,
)
from benchmarks.table import print_table
from pipelines.pose_model_training import ARCH as STAGE_ARCH

PARTS = ("jaw", "face", "body", "hands")
ARCH = (*STAGE_ARCH, "phones")  # the stage's model keys, and phones (a benchmark option)


def recipe(overrides: list[str]) -> dict:
    """``params.yaml`` ``train_audio_to_pose`` with ``key=value`` overrides."""
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    p = dict(params.get("train_audio_to_pose") or {})
    for item in overrides:
        key, _, value = item.partition("=")
        p[key.strip()] = yaml.safe_load(value)
    p["progress"] = False
    return p


def parse_variant(text: str) -> tuple[str, list[str]]:
    """``'label:k=v;k=v'`` → (label, ["k=v", "k=v"])."""
    label, _, sets = text.partition(":")
    if not label.strip():
        sys.exit(f"motion_real: --variant {text!r} needs a label before ':'")
    return label.strip(), [s for s in (x.strip() for x in sets.split(";")) if s]


def train(utterances: list, p: dict, threads: int, callback=None):  # -> (model, TrainResult)
    import torch

    from pipelines.mocap_pretraining import pretrain, pretrain_settings
    from speech2video.motion.lstm import SequenceToPoseLSTM, audio_to_pose_config
    from speech2video.motion.training import PoseSequenceDataset, TrainConfig, train_lstm

    torch.set_num_threads(threads)
    torch.manual_seed(int(p.get("seed", 0)))
    model = SequenceToPoseLSTM(audio_to_pose_config(**{k: p[k] for k in ARCH if p.get(k)}))
    config = TrainConfig.from_params(p)
    spec = pretrain_settings(p)
    if spec is not None:  # the stage's pre-training, on the shared BEAT2 capture
        if p.get("phones"):
            sys.exit("motion_real: pretrain takes the 28 audio features only (no phones)")
        figures = pretrain(model, spec, p, beat2_capture_folder())
        print(f"pre-trained: {figures}", file=sys.stderr, flush=True)

    def show(epoch: int, m: dict[str, float]) -> None:
        val = m.get("val_loss", float("nan"))
        print(f"epoch {epoch}: loss {m['loss']:.4g} val {val:.4g} ({m['seconds']:.1f} s)",
              file=sys.stderr, flush=True)  # fmt: skip
        if callback is not None:
            callback(epoch, m)

    result = train_lstm(model, PoseSequenceDataset(utterances), config, callback=show)
    return model, result


def inner_val_corr(model, utterances: list, p: dict) -> float:
    """Jaw-opening correlation on the training part's own validation blocks (what picks)."""
    from speech2video.evaluation import motion_metrics as mm
    from speech2video.motion.training import PoseSequenceDataset, TrainConfig

    cfg = TrainConfig.from_params(p)
    data = PoseSequenceDataset(utterances)
    if cfg.val_block_s is not None and cfg.val_fraction > 0:
        val = data.split_blocks(cfg.val_fraction, cfg.val_block_s, cfg.seed).val
    else:
        val = data.split(cfg.val_fraction, cfg.seed).val
    if val is None:
        return float("nan")
    pred, true = [], []
    for u in val.utterances:
        n = u.usable_frames(val.input_rate)
        pred.append(mm.jaw_opening(model.predict(u.features, u.fps)[:n]))
        true.append(mm.jaw_opening(u.poses[:n]))
    return mm.correlation(np.concatenate(pred), np.concatenate(true))


@dataclass
class Run:
    label: str
    seed: int
    result: object
    ev: object
    seconds: float
    inner_corr: float
    model: object = None

    def row(self) -> dict[str, float]:
        m = self.ev.metrics
        out = {f"{part} gain": m[f"pose_mae_{part}_gain"] for part in PARTS}
        for part in ("body", "hands"):
            k = f"pose_mae_{part}"
            out[f"{part} vs mean pose"] = 1.0 - m[k] / m[f"{k}_mean_pose"]
        out["jaw corr"] = m["jaw_opening_corr"]
        out["jaw corr other audio"] = m.get("jaw_opening_corr_other_audio", float("nan"))
        out["inner-val jaw corr"] = self.inner_corr
        out["inner-val loss"] = float(self.result.best_loss)
        out["epochs"] = float(len(self.result.history))
        out["seconds"] = self.seconds
        return out


def run_one(label: str, data: BenchmarkData, p: dict, threads: int, mlflow: str | None) -> Run:
    """Train, score on the held-out clips; with ``mlflow`` (a URI, "" the default store) log it."""
    import contextlib

    from speech2video.evaluation.baselines import mean_pose
    from speech2video.evaluation.motion_evaluation import evaluate_motion

    with contextlib.ExitStack() as stack:
        tracking = None
        if mlflow is not None:
            from speech2video_mlops.registry import ModelRegistry
            from speech2video_mlops.tracking import TrainingRun

            registry = ModelRegistry(mlflow or None)
            tags = {"variant": label, "benchmark": "motion_real"}
            run_ctx = TrainingRun("motion_real", "benchmark", p, registry=registry, tags=tags)
            tracking = stack.enter_context(run_ctx)
        start = time.perf_counter()
        model, result = train(data.train, p, threads, tracking.log_epoch if tracking else None)
        seconds = time.perf_counter() - start
        base = mean_pose([u.poses for u in data.train])
        ev = evaluate_motion(data.clips, model, None, None, base, "audio", 0, 0.1, "", data.other)
        inner = inner_val_corr(model, data.train, p)
        run = Run(label, int(p.get("seed", 0)), result, ev, seconds, inner, model)
        if tracking is not None:
            summary = {k.replace(" ", "_"): v for k, v in run.row().items()}
            tracking.log_metrics({**{f"heldout_{k}": v for k, v in ev.metrics.items()}, **summary})
    return run


def print_single(run: Run, threads: int) -> None:
    """The detailed tables of one run."""
    m, result = run.ev.metrics, run.result
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
        ("threads", "epochs run", "best epoch", "seconds", "inner-val jaw corr"),
        [(threads, len(result.history), result.best_epoch, round(run.seconds, 1),
          run.inner_corr)],
    )  # fmt: skip
    if result.shrinkage:
        shrink = ", ".join(f"{k} {v:.3g}" for k, v in result.shrinkage.items())
        print(f"\nshrinkage toward the mean pose (1 = the model's motion kept): {shrink}")
    if result.readout is not None:
        fit = result.readout
        errs = ", ".join(
            f"{k} {fit.val_error[k]:.3g} (LSTM {fit.lstm_error[k]:.3g})" for k in fit.val_error
        )
        print(f"speech-embedding readout: ridge {fit.ridge:g}, used for {list(fit.used)}; "
              f"validation error in part spreads: {errs}")  # fmt: skip


def _percent(key: str) -> bool:
    return "gain" in key or "vs mean" in key


def _cell(key: str, value: float) -> str | float:
    return f"{value:+.1%}" if _percent(key) else value


def print_summary(runs: list[Run], threads: int) -> None:
    """Per-run rows, then mean ± std over seeds per variant."""
    keys = list(runs[0].row())
    print_table(
        f"Every run (held-out split; gains are 1 - error / better baseline; {threads} threads)",
        ("variant", "seed", *keys),
        [(r.label, r.seed, *(_cell(k, r.row()[k]) for k in keys)) for r in runs],
    )
    labels = list(dict.fromkeys(r.label for r in runs))
    rows = []
    for label in labels:
        mine = [r.row() for r in runs if r.label == label]
        cells = []
        for k in keys:
            v = np.array([row[k] for row in mine], np.float64)
            if _percent(k):
                cells.append(f"{v.mean() * 100:+.1f} ± {v.std() * 100:.1f} %")
            else:
                cells.append(f"{v.mean():.3g} ± {v.std():.2g}")
        rows.append((label, len(mine), *cells))
    print_table("Mean ± std over seeds", ("variant", "seeds", *keys), rows)


class PoseEnsemble:
    """The mean of several audio-to-pose models' predicted poses (members: ``predict(features,
    fps) -> (T, 106)``, the same inputs)."""

    def __init__(self, members: list) -> None:
        self.members = members

    def predict(self, features: np.ndarray, fps: float) -> np.ndarray:
        """features: (N, D) → (T, 106) float32, the members' mean."""
        poses = [np.asarray(m.predict(features, fps), np.float32) for m in self.members]
        frames = min(p.shape[0] for p in poses)
        return np.mean([p[:frames] for p in poses], axis=0).astype(np.float32)


def print_ensembles(runs: list[Run], data_by_label: dict[str, BenchmarkData]) -> None:
    """Per variant with several seeds: the mean of the seeds' predictions, scored the same way."""
    from speech2video.evaluation.baselines import mean_pose
    from speech2video.evaluation.motion_evaluation import evaluate_motion

    rows = []
    for label in dict.fromkeys(r.label for r in runs):
        mine = [r for r in runs if r.label == label]
        if len(mine) < 2:
            continue
        data = data_by_label[label]
        base = mean_pose([u.poses for u in data.train])
        ensemble = PoseEnsemble([r.model for r in mine])
        ev = evaluate_motion(
            data.clips, ensemble, None, None, base, "audio", 0, 0.1, "", data.other
        )
        m = ev.metrics
        cells = [f"{m[f'pose_mae_{part}_gain']:+.1%}" for part in PARTS]
        for part in ("body", "hands"):
            k = f"pose_mae_{part}"
            cells.append(f"{1.0 - m[k] / m[f'{k}_mean_pose']:+.1%}")
        cells += [m["jaw_opening_corr"], m.get("jaw_opening_corr_other_audio", float("nan"))]
        rows.append((label, len(mine), *cells))
    if rows:
        print_table(
            "Ensembles: the mean of the seeds' predicted poses (held-out split)",
            ("variant", "members", *(f"{p} gain" for p in PARTS), "body vs mean pose",
             "hands vs mean pose", "jaw corr", "jaw corr other audio"),
            rows,
        )  # fmt: skip


def write_figures(out: Path, runs: list[Run], fps: float) -> None:
    from speech2video.evaluation import figures

    out.mkdir(parents=True, exist_ok=True)
    curve = {}
    for r in runs:
        curve[f"s{r.seed} train"] = np.array([m["loss"] for m in r.result.history])
        curve[f"s{r.seed} val"] = np.array([m.get("val_loss", np.nan) for m in r.result.history])
    img = figures.line_plot(curve, f"learning curve (loss per epoch), {runs[0].label}", 1.0,
                            "epoch")  # fmt: skip
    figures.write_png(out / "learning_curve.png", img)
    ev = runs[0].ev
    names = {"fitted": "truth", "mean_pose": "mean pose", "other_audio": "other audio"}
    order = ("model", "fitted", "mean_pose", "other_audio")
    series = {names.get(k, k): ev.jaw_opening[k] for k in order if k in ev.jaw_opening}
    img = figures.line_plot(series, f"jaw opening (rad), held out, seed {runs[0].seed}",
                            1.0 / fps, "seconds")  # fmt: skip
    figures.write_png(out / "jaw_trajectory.png", img)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speaker", choices=("beat2", "demo", "workspace"), default="beat2")
    parser.add_argument("--workspace", type=Path, default=None,
                        help="with --speaker workspace: a workspace after features")  # fmt: skip
    parser.add_argument("--demo-config", default="demo", help="demo speaker preset (tiny|demo)")
    parser.add_argument("--train-s", type=float, default=30.0)
    parser.add_argument("--val-s", type=float, default=10.0)
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--variant", action="append", default=[], metavar="LABEL:K=V;K=V")
    parser.add_argument("--seeds", type=int, nargs="+", default=None, help="default: the recipe's")
    parser.add_argument("--phones-from", choices=PHONES_FROM, default="transcript")
    parser.add_argument("--out", type=Path, default=None, help="folder for the figures")
    parser.add_argument("--mlflow", nargs="?", const="", default=None, metavar="URI",
                        help="log runs to MLflow (no URI: the default store)")  # fmt: skip
    args = parser.parse_args()

    variants = [parse_variant(v) for v in args.variant] or [("recipe", [])]
    cache: dict[str, BenchmarkData] = {}
    data_by_label: dict[str, BenchmarkData] = {}
    runs: list[Run] = []
    for label, sets in variants:
        base = recipe(args.set + sets)
        phones, emb = str(base.get("phones") or ""), str(base.get("embedding") or "")
        key = f"{phones}|{emb}"
        if key not in cache:
            if args.speaker == "beat2":
                cache[key] = beat2_data(args.train_s, args.val_s, phones, args.phones_from, emb)
            elif args.speaker == "demo":
                cache[key] = demo_data(args.demo_config, phones, args.phones_from, emb)
            else:
                if args.workspace is None or phones:
                    sys.exit("motion_real: --speaker workspace needs --workspace, and no phones")
                cache[key] = workspace_data(args.workspace, emb)
        data = cache[key]
        data_by_label[label] = data
        for seed in args.seeds if args.seeds is not None else [int(base.get("seed", 0))]:
            p = {**base, "seed": seed}
            print(f"\n[{label} seed {seed}] {data.description}\nrecipe: {p}", flush=True)
            runs.append(run_one(label, data, p, args.threads, args.mlflow))
            if len(variants) == 1 and args.seeds is None:
                print_single(runs[-1], args.threads)
    print_summary(runs, args.threads)
    print_ensembles(runs, data_by_label)
    if args.out is not None:
        fps = next(iter(cache.values())).clips[0].fps
        for label in dict.fromkeys(r.label for r in runs):
            folder = args.out / label if len(variants) > 1 else args.out
            write_figures(folder, [r for r in runs if r.label == label], fps)
            print(f"figures: {folder}/learning_curve.png, {folder}/jaw_trajectory.png")


if __name__ == "__main__":
    main()
