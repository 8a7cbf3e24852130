"""Stage ``skeletons``: the renderer's training set — skeleton images paired with real frames.

Draws every fitted frame with the speaker's body model and camera (the painter of paper §3.5)
next to the ingested frame, at the render size: frames larger than ``skeletons.max_side`` are
scaled down (camera intrinsics scaled with them). Also writes ``models/body_model``: the speaker
profile at the render size, the component the renderer is served with.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from pathlib import Path

import cv2

from pipelines.recordings import FIT_DIR, INGEST_DIR, MODELS_DIR, SKELETONS_DIR
from pipelines.stage_io import StageError, load_params, run_stage, stage_output


def render_size(width: int, height: int, max_side: int) -> tuple[int, int, float]:
    """(width, height, scale) with the longer side at most ``max_side``, both even."""
    scale = min(1.0, max_side / max(width, height))
    w = max(2, round(width * scale / 2) * 2)
    h = max(2, round(height * scale / 2) * 2)
    return w, h, scale


def _link_or_copy(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def main() -> None:
    from speech2video.body.motion_file import load_motion
    from speech2video.model_set import SpeakerProfile, load_speaker_profile, save_speaker_profile
    from speech2video.render.skeleton_painter import SkeletonPainter
    from speech2video.render.skeleton_video import draw_motion

    p = load_params().get("skeletons") or {}
    profile = load_speaker_profile(FIT_DIR / "body_model")
    width, height, scale = render_size(profile.width, profile.height, int(p.get("max_side", 512)))
    cam = profile.camera
    camera = dataclasses.replace(
        cam, fx=cam.fx * scale, fy=cam.fy * scale, cx=cam.cx * scale, cy=cam.cy * scale
    )
    painter = SkeletonPainter(width, height)
    motions = sorted((FIT_DIR / "motion").glob("*.npz"))
    if not motions:
        raise StageError(f"{FIT_DIR / 'motion'}: no fitted motion (run the fit stage first)")
    with stage_output(SKELETONS_DIR) as out:
        for path in motions:
            rec = path.stem
            motion = load_motion(path)
            frames = sorted((INGEST_DIR / rec / "frames").glob("*.png"))
            count = min(len(frames), motion.num_frames)
            (out / rec / "skeleton").mkdir(parents=True)
            (out / rec / "frames").mkdir()
            images = draw_motion(
                motion.with_poses(motion.poses[:count]), profile.body_model, camera, painter
            )
            for i, (image, frame_path) in enumerate(zip(images, frames[:count], strict=True)):
                name = f"{i:06d}.png"
                cv2.imwrite(str(out / rec / "skeleton" / name), image[:, :, ::-1])
                frame = cv2.imread(str(frame_path))
                if frame.shape[:2] != (height, width):
                    frame = cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA)
                    cv2.imwrite(str(out / rec / "frames" / name), frame)
                else:
                    _link_or_copy(frame_path, out / rec / "frames" / name)
        (out / "size.json").write_text(json.dumps({"width": width, "height": height}) + "\n")
    served = SpeakerProfile(profile.speaker, profile.fps, width, height, profile.body_model, camera)
    with stage_output(MODELS_DIR / "body_model") as out:
        save_speaker_profile(out, served)


if __name__ == "__main__":
    run_stage("skeletons", main)
