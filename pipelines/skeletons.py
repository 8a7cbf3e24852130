"""Stage ``skeletons``: the renderer's training set — skeleton images paired with real frames.

Draws every fitted frame with the speaker's body model and camera (the painter of paper §3.5)
next to the ingested frame, at the render size. ``skeletons.framing``:

- ``full`` (the default): the whole frame, scaled so its longer side is at most ``max_side``;
- ``speaker``: the crop that holds the speaker's detected keypoints over the training recordings
  (with a margin), scaled so its longer side is ``max_side`` (render/framing.py): a real person
  filmed with room around them keeps their face and hands at several times the pixels. The served
  profile then carries the framing and a background plate from ``plate_frames`` frames, so
  synthesis puts the rendered crop back into the recording's frame; ``plate`` (:data:`PLATES`,
  default ``person_free``) says how it treats the person. Framing and plate come from the
  training recordings only, never ``split``'s held-out ones.

The camera's intrinsics follow the crop and scale. Also writes ``models/body_model``: the
speaker profile at the render size, the component the renderer is served with.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

import cv2

from pipelines.recordings import (
    FIT_DIR,
    INGEST_DIR,
    KEYPOINTS_DIR,
    MODELS_DIR,
    SKELETONS_DIR,
    held_out_recordings,
)
from pipelines.stage_io import StageError, load_params, run_stage, stage_output

#: ``skeletons.plate``: ``person_free``: each pixel from the frames where the person (by their
#: keypoints) did not cover it, every frame's median where they always do; ``inpainted``: the
#: same, inpainted where they always are (the generator paints the whole person); ``median``:
#: every frame's median, the person included (ghosts of the hands where they moved).
PLATES = ("person_free", "inpainted", "median")


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


def speaker_framing(
    max_side: int,
    source: tuple[int, int],
    plate_frames: int = 30,
    held_out: Sequence[str] = (),
    plate: str = "person_free",
):
    """The framing around the speaker's keypoints in the training recordings, with its
    background plate from ``plate_frames`` ingested frames spread over them (``plate``: one of
    :data:`PLATES`). ``held_out`` recordings are left out of both:
    evaluation judges the renderer on them."""
    import numpy as np

    from speech2video.fitting.keypoint_set import load_keypoints
    from speech2video.render.framing import (
        Framing,
        background_plate,
        framing_from_points,
        person_region,
    )

    if plate not in PLATES:
        choices = ", ".join(PLATES)
        raise StageError(f"params skeletons.plate must be one of {choices}; got {plate!r}")
    keypoints = {
        f.stem: load_keypoints(f)
        for f in sorted(KEYPOINTS_DIR.glob("*.npz"))
        if f.stem not in held_out
    }
    if not keypoints:
        raise StageError(f"{KEYPOINTS_DIR}: no keypoints to frame the speaker with")
    points = []
    for kp in keypoints.values():
        points.append(kp.joints[kp.joint_conf > 0.3])
        points.append(kp.landmarks[kp.landmark_conf > 0.3])
    framing = framing_from_points(np.concatenate(points), source, max_side)
    seen = {rec: kp.person_frames() for rec, kp in keypoints.items()}  # (T,) bool each
    frames = sorted(
        f for f in INGEST_DIR.glob("*/frames/*.png") if f.parent.parent.name not in held_out
    )
    count = min(plate_frames, len(frames))
    picked = [frames[int(i)] for i in np.linspace(0, len(frames) - 1, count).round()]
    images, people = [], []
    for path in dict.fromkeys(picked):
        image = cv2.imread(str(path))[:, :, ::-1]
        if image.shape[:2] != source[::-1]:
            continue
        images.append(image)
        kp = keypoints.get(path.parent.parent.name)
        i = int(path.stem)
        if kp is None or i >= kp.num_frames or not seen[path.parent.parent.name][i]:
            people.append(None)  # the person is somewhere unknown: no pixel counts as free
            continue
        joints = kp.joints[i][kp.joint_conf[i] > 0.3]
        face = kp.landmarks[i][kp.landmark_conf[i] > 0.3]
        people.append(person_region(joints, face, framing))
    if plate == "median":
        background = background_plate(images, framing)
    else:
        fill = "inpaint" if plate == "inpainted" else "median"
        background = background_plate(images, framing, people, fill=fill)
    return Framing(**{**framing.to_dict(), "background": background})


def main() -> None:
    from speech2video.body.motion_file import load_motion
    from speech2video.model_set import SpeakerProfile, load_speaker_profile, save_speaker_profile
    from speech2video.render.framing import crop_frame, crop_plate
    from speech2video.render.renderer_data import BACKGROUND_FILE
    from speech2video.render.skeleton_painter import SkeletonPainter
    from speech2video.render.skeleton_video import draw_motion

    params = load_params()
    p = params.get("skeletons") or {}
    profile = load_speaker_profile(FIT_DIR / "body_model")
    max_side = int(p.get("max_side", 512))
    mode = str(p.get("framing", "full"))
    cam = profile.camera
    framing = None
    if mode == "full":
        width, height, scale = render_size(profile.width, profile.height, max_side)
        x0 = y0 = 0
    elif mode == "speaker":
        framing = speaker_framing(
            max_side,
            (profile.width, profile.height),
            int(p.get("plate_frames", 30)),
            held_out_recordings(params),
            str(p.get("plate", "person_free")),
        )
        (width, height), scale = framing.render_size, framing.scale
        x0, y0 = framing.x, framing.y
    else:
        raise StageError(f"params skeletons.framing must be 'full' or 'speaker'; got {mode!r}")
    camera = dataclasses.replace(
        cam,
        fx=cam.fx * scale,
        fy=cam.fy * scale,
        cx=(cam.cx - x0) * scale,
        cy=(cam.cy - y0) * scale,
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
                if framing is not None:
                    cv2.imwrite(str(out / rec / "frames" / name), crop_frame(frame, framing))
                elif frame.shape[:2] != (height, width):
                    frame = cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA)
                    cv2.imwrite(str(out / rec / "frames" / name), frame)
                else:
                    _link_or_copy(frame_path, out / rec / "frames" / name)
        size = {"width": width, "height": height}
        if framing is not None:
            size["framing"] = framing.to_dict()
            plate = crop_plate(framing)
            if plate is not None:  # the renderer composites over it (render/generator.py)
                cv2.imwrite(str(out / BACKGROUND_FILE), plate[:, :, ::-1])
        (out / "size.json").write_text(json.dumps(size) + "\n")
    served = SpeakerProfile(
        profile.speaker, profile.fps, width, height, profile.body_model, camera, framing
    )
    with stage_output(MODELS_DIR / "body_model") as out:
        save_speaker_profile(out, served)


if __name__ == "__main__":
    run_stage("skeletons", main)
