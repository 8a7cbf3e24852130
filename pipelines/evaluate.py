"""Stage ``evaluate``: score the speaker's model set on the held-out recordings.

Reads ``models/*`` (absent components are skipped), ``data/interim/{fit,features,keypoints,
skeletons}``, the speaker folder's ``transcripts/`` and params ``split`` and ``evaluate``;
writes ``metrics/evaluation.json`` (flat: ``mouth_px``, ``mouth_px_mean_pose``,
``mouth_px_shuffled``, ``pose_mae_*``, ``diversity_*``, ``beat_consistency*``, ``psnr``,
``ssim``, ``face_crop_l1``, ``hands_crop_l1``, ``keypose_within_1f``, ``text_*`` ...) and
``reports/evaluation/`` (report.md + figures), and logs both as the MLflow run ``evaluate``.
Metric definitions: ``src/speech2video/evaluation``.

Beside the mean-pose and shuffled-audio baselines, the model is scored fed other recordings of
the speaker (the training recordings' audio, ``_other_audio``). A synthetic speaker's figures are
labelled as the quick check they are (its mouth is a formula of its own audio); with
``motion_source: mocap`` the truth is the converted motion capture and there are no frames, so
mouth pixels and the renderer are not scored.

Mouth pixels are measured in the keypoints' image (the ingested frames): the mouth is projected
with the fitted speaker profile (``data/interim/fit/body_model``), falling back to
``models/body_model`` when the fit's is absent.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from pipelines.recordings import (
    FEATURES_DIR,
    FIT_DIR,
    KEYPOINTS_DIR,
    METRICS_DIR,
    MODELS_DIR,
    SKELETONS_DIR,
    WORDS_DIR,
    audio_inputs,
    ingested_recordings,
    keyword_clips,
    speaker_info,
    split_recordings,
)
from pipelines.stage_io import StageError, load_params, run_stage, stage_file, stage_output

STAGE = "evaluate"
REPORT_DIR = Path("reports/evaluation")
DEFAULTS: dict[str, Any] = {
    "seed": 0,
    "beat_sigma_s": 0.1,
    "max_render_frames": 16,
    "readability_frames": 60,
    "crop_size": 64,
    "keypose_tolerance_frames": 1,
    "reference_lag_s": 0.2,
    "reference_training_frames": 300,
}


def _mouth_keypoints(rec: str) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(T, 20, 2) detected mouth landmarks and (T, 20) confidences, or (None, None)."""
    from speech2video.body.joint_tree import MOUTH_LANDMARKS

    path = KEYPOINTS_DIR / f"{rec}.npz"
    if not path.is_file():
        return None, None
    try:
        with np.load(path, allow_pickle=False) as data:
            lm = np.asarray(data["landmarks"], np.float32)[:, list(MOUTH_LANDMARKS)]
            conf = np.asarray(data["landmark_conf"], np.float32)[:, list(MOUTH_LANDMARKS)]
    except (KeyError, ValueError, OSError) as exc:
        raise StageError(f"{path}: unreadable keypoints ({exc})") from None
    return lm, conf


def load_clips(held: list[str], speaker_dir: Path, embedding: str = "") -> list:
    """HeldOutClip per held-out recording with a fitted motion; its audio inputs carry the
    ``embedding``'s columns when the audio model reads one."""
    from speech2video.body.motion_file import load_motion
    from speech2video.evaluation.motion_evaluation import HeldOutClip
    from speech2video.motion.words import load_words

    clips = []
    for rec in held:
        motion_path = FIT_DIR / "motion" / f"{rec}.npz"
        if not motion_path.is_file():
            continue
        motion = load_motion(motion_path)
        inputs = {}
        audio = audio_inputs(rec, embedding)
        if audio is not None:
            inputs["audio"] = audio
        if (FEATURES_DIR / "text" / f"{rec}.npy").is_file():
            inputs["text"] = np.load(FEATURES_DIR / "text" / f"{rec}.npy", allow_pickle=False)
        mouth, conf = _mouth_keypoints(rec)
        words_path = WORDS_DIR / f"{rec}.json"  # supplied or transcribed (the features stage)
        if not words_path.is_file():
            words_path = speaker_dir / "transcripts" / f"{rec}.json"
        words = tuple(load_words(words_path)) if words_path.is_file() else ()
        clips.append(HeldOutClip(rec, inputs, motion.poses, motion.fps, mouth, conf, words))
    return clips


def _profile():  # -> SpeakerProfile
    from speech2video.model_set import load_speaker_profile

    for directory in (FIT_DIR / "body_model", MODELS_DIR / "body_model"):
        if directory.is_dir():
            return load_speaker_profile(directory)
    raise StageError(f"{FIT_DIR / 'body_model'}: no speaker profile (run the fit stage first)")


def _audio_model_embedding() -> str:
    """The speech embedding the trained audio model reads ("" for none or no model)."""
    from speech2video.motion.lstm import SequenceToPoseLSTM

    if not _has_component("audio_to_pose"):
        return ""
    return SequenceToPoseLSTM.read_config(MODELS_DIR / "audio_to_pose").embedding


def _has_component(component: str) -> bool:
    """A non-empty ``models/<component>`` (a skipped stage leaves an empty one)."""
    directory = MODELS_DIR / component
    return directory.is_dir() and any(directory.iterdir())


def _read_frames(directory: Path, limit: int) -> list[np.ndarray]:
    from speech2video.render.renderer_data import read_rgb

    return [read_rgb(p) for p in sorted(directory.glob("*.png"))[:limit]]


def evaluate_renderer(
    held: list[str], p: dict[str, Any], int8: bool = False
):  # -> RenderScores | None
    """Render the held-out skeleton images (data/interim/skeletons) and score them; ``int8``:
    with the component's int8 step (None when it carries none)."""
    from speech2video.evaluation.render_metrics import render_frames, score_frames
    from speech2video.render.checkpoint import load_renderer

    recs = [r for r in held if (SKELETONS_DIR / r / "skeleton").is_dir()]
    if not recs:
        return None
    loaded = load_renderer(MODELS_DIR / "renderer")
    generator, step = loaded.generator, loaded.int8 if int8 else None
    if int8 and step is None:
        return None
    per_clip = max(1, int(p["max_render_frames"]) // len(recs))
    real, generated, skeletons = [], [], []
    for rec in recs:
        sk = _read_frames(SKELETONS_DIR / rec / "skeleton", per_clip)
        fr = _read_frames(SKELETONS_DIR / rec / "frames", len(sk))
        sk = sk[: len(fr)]
        if not sk:
            continue
        generated += render_frames(generator, sk, step, loaded.refiner)
        real += fr
        skeletons += sk
    if not real:
        return None
    return score_frames(real, generated, skeletons, crop_size=int(p["crop_size"]))


def evaluate(params: dict[str, Any]) -> tuple[dict[str, float], dict[str, Any]]:
    """All metrics of the model set and what the report draws."""
    from speech2video.evaluation.baselines import mean_pose
    from speech2video.evaluation.keypose_metrics import keypose_timing
    from speech2video.evaluation.motion_evaluation import evaluate_motion
    from speech2video.model_set import load_component

    p = {**DEFAULTS, **(params.get(STAGE) or {})}
    split = params.get("split") or {}
    speaker_dir = Path(params["speaker_dir"])
    posing = {c.recording for c in keyword_clips(speaker_dir)}
    train_ids, held = split_recordings(
        ingested_recordings(), split.get("holdout", 0.1), int(split.get("seed", 0)), posing
    )
    embedding = _audio_model_embedding()
    clips = load_clips(held, speaker_dir, embedding)
    if not clips:
        raise StageError(f"{FIT_DIR / 'motion'}: no fitted motion for held-out recordings {held}")
    profile = _profile()
    metrics: dict[str, float] = {}
    extra: dict[str, Any] = {"fps": clips[0].fps, "notes": [f"held-out recordings: {held}"]}
    info = speaker_info(speaker_dir)
    if info.get("synthetic"):
        extra["notes"].insert(
            0,
            "synthetic speaker: a quick check only (its mouth is a formula of its own audio and "
            "its gestures generated rhythms); fidelity on real speech needs a real speaker",
        )
    if params.get("motion_source") == "mocap":
        extra["notes"].insert(0, "motion source: motion capture (truth = converted capture)")
    other = [x for x in (audio_inputs(r, embedding) for r in train_ids) if x is not None]
    from speech2video.body.motion_file import load_motion

    train_poses = [
        load_motion(FIT_DIR / "motion" / f"{r}.npz").poses
        for r in train_ids
        if (FIT_DIR / "motion" / f"{r}.npz").is_file()
    ]
    seed, sigma = int(p["seed"]), float(p["beat_sigma_s"])
    base = mean_pose(train_poses) if train_poses else None
    predictions: dict[str, np.ndarray] = {}
    for component, source, prefix, baseline in (
        ("audio_to_pose", "audio", "", base),
        ("text_to_pose", "text", "text_", None),
    ):
        if not _has_component(component) or not any(source in c.inputs for c in clips):
            extra["notes"].append(f"{component}: skipped (no model or no {source} inputs)")
            continue
        model = load_component(component, MODELS_DIR / component)
        ev = evaluate_motion(
            clips, model, profile.body_model, profile.camera, baseline, source, seed, sigma, prefix,
            other if source == "audio" else (),
        )  # fmt: skip
        metrics.update(ev.metrics)
        if not prefix:
            extra["motion"] = ev
            predictions = ev.predictions
    if _has_component("key_pose_dictionary"):
        dictionary = load_component("key_pose_dictionary", MODELS_DIR / "key_pose_dictionary")
        pairs = [(predictions.get(c.name, c.fitted), list(c.words)) for c in clips if c.words]
        timing = keypose_timing(
            pairs, dictionary, clips[0].fps, seed, float(p["keypose_tolerance_frames"])
        )
        metrics["keypose_insertions"] = float(timing.count)
        if timing.count:
            metrics["keypose_within_1f"] = timing.fraction
    if _has_component("renderer"):
        render = evaluate_renderer(held, p)
        if render is not None:
            metrics.update(render.metrics())
            extra["render"] = render
            quantized = evaluate_renderer(held, p, int8=True)  # what CPU serving runs
            if quantized is not None:
                scores = quantized.metrics()
                scores.pop("num_render_frames", None)
                metrics.update({f"{k}_int8": v for k, v in scores.items()})
        from pipelines.render_evaluation import (
            evaluate_readability,
            readability_settings,
            reference_psnr,
        )

        if render is not None:
            metrics.update(reference_psnr(held, train_ids, p, clips[0].fps))
        readable, pairs = evaluate_readability(held, readability_settings(p), clips[0].fps)
        metrics.update(readable)
        extra["contact_sheet"] = pairs
    return metrics, {**extra, "speaker": info["speaker"], "params": p}


def _add_contact_sheet(out: Path, pairs: list) -> None:
    """Held-out frames, generated above real, as ``contact_sheet.png`` linked from the report."""
    from pipelines.render_evaluation import save_contact_sheet

    if save_contact_sheet(pairs, out / "contact_sheet.png") is None:
        return
    with (out / "report.md").open("a", encoding="utf-8") as report:
        report.write(
            "\n## Generated beside real (held-out frames)\n\n"
            "Top row: rendered from the poses fitted to the held-out frames; bottom row: the "
            "real frames.\n\n![generated above real](contact_sheet.png)\n"
        )


def main() -> None:
    from speech2video.evaluation.report import finite_metrics, write_report
    from speech2video_mlops.tracking import TrainingRun

    params = load_params()
    if "speaker_dir" not in params:
        raise StageError("params.yaml: lacks the key 'speaker_dir'")
    metrics, extra = evaluate(params)
    metrics = finite_metrics(metrics)
    with TrainingRun(STAGE, extra["speaker"], extra["params"]) as run:
        with stage_output(REPORT_DIR) as out:
            write_report(
                out,
                metrics,
                extra["speaker"],
                extra.get("motion"),
                extra.get("render"),
                extra["fps"],
                extra["notes"],
            )
            _add_contact_sheet(out, extra.get("contact_sheet") or [])
        with stage_file(METRICS_DIR / "evaluation.json") as tmp:
            tmp.write_text(json.dumps(metrics, indent=2) + "\n")
        run.log_metrics(metrics)
        run.log_artifacts(REPORT_DIR, "report")
        run.log_artifact(METRICS_DIR / "evaluation.json")
    print(f"stage {STAGE}: {len(metrics)} metrics; mouth_px={metrics.get('mouth_px', 'n/a')}")


if __name__ == "__main__":
    run_stage(STAGE, main)
