"""Stage keypoints: 2D whole-body keypoints of every ingested frame (mediapipe, VIDEO mode).

params: ``speaker_dir``; ``keypoints: {use_ground_truth: false, min_person_fraction: 0.5,
detection_confidence: 0.5}``. Reads ``data/interim/ingest/<rec>/`` and writes
``data/interim/keypoints/<rec>.npz`` (format: ``speech2video.fitting.keypoint_set``).

With ``use_ground_truth`` (synthetic speakers), the true poses
``${speaker_dir}/ground_truth/<rec>.npz`` (at the source frame rate) are projected with
the true body model and camera ``${speaker_dir}/ground_truth/body_model/`` instead, confidence 1.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pipelines.stage_io import StageError, load_params, run_stage, stage_output

INGEST = Path("data/interim/ingest")
OUTPUT = Path("data/interim/keypoints")
DEFAULTS: dict[str, Any] = {
    "use_ground_truth": False,
    "min_person_fraction": 0.5,
    "detection_confidence": 0.5,
}


def recordings() -> list[Path]:
    """Ingested recording directories, sorted."""
    dirs = sorted(p for p in INGEST.glob("*") if (p / "meta.json").is_file())
    if not dirs:
        raise StageError(f"{INGEST}: no ingested recordings (run the ingest stage)")
    return dirs


def detect(rec: Path, meta: dict[str, Any], settings: dict[str, Any]) -> Any:
    """Keypoints of one ingested recording's frames; fails when no person is in most frames."""
    import cv2

    from speech2video.fitting.keypoint_detector import KeypointDetector

    files = sorted((rec / "frames").glob("*.png"))

    def frames() -> Any:
        for f in files:
            yield cv2.imread(str(f), cv2.IMREAD_COLOR)[:, :, ::-1]

    with KeypointDetector(float(settings["detection_confidence"])) as detector:
        kp = detector.detect_frames(frames(), float(meta["fps"]))
    fraction = float(kp.person_frames().mean())
    if fraction < float(settings["min_person_fraction"]):
        raise StageError(
            f"{meta.get('source', rec)}: no detectable person in most frames "
            f"({fraction:.0%} of {kp.num_frames} frames show one)"
        )
    return kp


def ground_truth(speaker_dir: Path, rec: Path, meta: dict[str, Any]) -> Any:
    """Projected true poses of one recording, subsampled like its ingested frames."""
    from speech2video.body.motion_file import load_motion
    from speech2video.fitting.keypoint_set import project_keypoints
    from speech2video.model_set import load_speaker_profile

    profile = load_speaker_profile(speaker_dir / "ground_truth" / "body_model")
    motion = load_motion(speaker_dir / "ground_truth" / f"{rec.name}.npz")
    poses = motion.poses[:: int(meta.get("frame_step", 1))][: int(meta["frames"])]
    if poses.shape[0] < int(meta["frames"]):
        raise StageError(
            f"{speaker_dir / 'ground_truth' / rec.name}.npz: {poses.shape[0]} poses "
            f"for {meta['frames']} frames"
        )
    return project_keypoints(profile.body_model, profile.camera, poses)


def main() -> None:
    from speech2video.fitting.keypoint_set import save_keypoints

    params = load_params()
    settings = DEFAULTS | dict(params.get("keypoints") or {})
    speaker_dir = Path(params.get("speaker_dir", "."))
    from pipelines.mocap_ingest import motion_source

    with stage_output(OUTPUT) as tmp:
        if motion_source(params) == "mocap":
            return  # motion capture: no video frames to detect keypoints in
        for rec in recordings():
            meta = json.loads((rec / "meta.json").read_text())
            if settings["use_ground_truth"]:
                kp = ground_truth(speaker_dir, rec, meta)
            else:
                kp = detect(rec, meta, settings)
            save_keypoints(tmp / f"{rec.name}.npz", kp)


if __name__ == "__main__":
    run_stage("keypoints", main)
