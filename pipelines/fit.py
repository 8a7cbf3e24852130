"""Stage fit: the open skeleton fitted to every recording's keypoints (paper §3.2).

params: ``speaker_dir``; ``fit: {use_ground_truth: false, iterations: 300,
lr: 0.05, smoothness: 0.05, init_frames: 10, batch_frames: 128, ...}`` (every field of
``speech2video.fitting.fitter.FitConfig``). Reads ``data/interim/ingest/<rec>/meta.json``
and ``data/interim/keypoints/<rec>.npz``; writes ``data/interim/fit/``: ``motion/<rec>.npz``
(Motion at the ingest frame rate), ``body_model/`` (the body_model component) and ``report.json``.

With ``use_ground_truth`` the synthetic speaker's true motion (subsampled like the frames) and
body model (``${speaker_dir}/ground_truth/``) are copied instead.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from pipelines.recordings import speaker_info
from pipelines.stage_io import StageError, load_params, run_stage, stage_output

INGEST = Path("data/interim/ingest")
KEYPOINTS = Path("data/interim/keypoints")
OUTPUT = Path("data/interim/fit")


def _inputs() -> list[tuple[str, dict[str, Any], Path]]:
    recs = []
    for meta_file in sorted(INGEST.glob("*/meta.json")):
        name = meta_file.parent.name
        kp = KEYPOINTS / f"{name}.npz"
        if not kp.is_file():
            raise StageError(f"{kp}: keypoints missing (run the keypoints stage)")
        recs.append((name, json.loads(meta_file.read_text()), kp))
    if not recs:
        raise StageError(f"{INGEST}: no ingested recordings (run the ingest stage)")
    return recs


def main() -> None:
    from speech2video.body.motion_file import Motion, load_motion, save_motion
    from speech2video.fitting.fitter import FitConfig, fit_poses, reprojection_errors
    from speech2video.fitting.keypoint_set import load_keypoints
    from speech2video.fitting.speaker_calibration import calibrate_speaker
    from speech2video.model_set import SpeakerProfile, load_speaker_profile, save_speaker_profile

    params = load_params()
    from pipelines.mocap_ingest import fit_mocap, motion_source

    if motion_source(params) == "mocap":  # converted motion capture instead of a video fit
        with stage_output(OUTPUT) as tmp:
            fit_mocap(params, tmp)
        return
    settings = dict(params.get("fit") or {})
    speaker_dir = Path(params.get("speaker_dir", "."))
    speaker = str(speaker_info(speaker_dir)["speaker"])
    config = FitConfig.from_params(settings)
    recs = _inputs()
    meta0 = recs[0][1]
    keypoints = [load_keypoints(kp) for _, _, kp in recs]
    report: dict[str, Any] = {"recordings": {}}
    with stage_output(OUTPUT) as tmp:
        (tmp / "motion").mkdir()
        if settings.get("use_ground_truth", False):
            truth = load_speaker_profile(speaker_dir / "ground_truth" / "body_model")
            model, camera = truth.body_model, truth.camera
            report["source"] = "ground_truth"
        else:
            start = time.perf_counter()
            cal = calibrate_speaker(keypoints, int(meta0["width"]), int(meta0["height"]), config)
            model, camera = cal.model, cal.camera
            report["source"] = "fit"
            report["face_model"] = "speaker" if cal.face_refitted else "default"
            report["calibration_seconds"] = round(time.perf_counter() - start, 2)
        for (name, meta, _), kp in zip(recs, keypoints, strict=True):
            start = time.perf_counter()
            if settings.get("use_ground_truth", False):
                gt = load_motion(speaker_dir / "ground_truth" / f"{name}.npz")
                poses = gt.poses[:: int(meta.get("frame_step", 1))][: kp.num_frames]
                errors = reprojection_errors(model, camera, poses, kp, config)
            else:
                fit = fit_poses(model, camera, kp, config)
                poses, errors = fit.poses, fit.errors
            orient = np.asarray(getattr(model, "global_orient", np.zeros(3)), np.float32)
            save_motion(
                tmp / "motion" / f"{name}.npz",
                Motion(poses, float(meta["fps"]), global_orient=orient, speaker=speaker),
            )
            report["recordings"][name] = {
                "frames_fitted": int(poses.shape[0]),
                "reprojection_error_px": errors,
                "seconds": round(time.perf_counter() - start, 2),
            }
        save_speaker_profile(
            tmp / "body_model",
            SpeakerProfile(
                speaker, float(meta0["fps"]), int(meta0["width"]), int(meta0["height"]), model,
                camera,
            ),
        )  # fmt: skip
        (tmp / "report.json").write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    run_stage("fit", main)
