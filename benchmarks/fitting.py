"""Keypoints and fitting on a real recording: ``python -m benchmarks.fitting`` prints a table.

On ``../shared/data/video/SHOW_half_oliver.mp4`` (7 s, 1280x720, 30 fps, upper body; skipped
when absent): frames with full keypoints (body + both hands + face), mediapipe detection
ms/frame, speaker calibration and per-frame fit ms/frame, mean reprojection error (px) per part.
``--overlays DIR`` writes a few fitted skeletons painted over their frames as PNGs.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from benchmarks.table import print_table

VIDEO = Path(__file__).resolve().parents[1].parent / "shared/data/video/SHOW_half_oliver.mp4"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path, default=VIDEO)
    parser.add_argument("--frames", type=int, default=0, help="first N frames only (0: all)")
    parser.add_argument("--overlays", type=Path, default=None, help="write overlay PNGs here")
    args = parser.parse_args()
    if not args.video.is_file():
        print(f"skipped: {args.video} not found")
        return

    from speech2video.fitting.fitter import FitConfig, fit_poses
    from speech2video.fitting.keypoint_detector import KeypointDetector
    from speech2video.fitting.speaker_calibration import calibrate_speaker
    from speech2video.render.video_io import iter_frames, probe

    info = probe(args.video)
    frames = list(iter_frames(args.video))
    if args.frames:
        frames = frames[: args.frames]
    start = time.perf_counter()
    with KeypointDetector() as detector:
        kp = detector.detect_frames(frames, info.fps)
    detect_ms = 1000 * (time.perf_counter() - start) / len(frames)
    config = FitConfig()
    start = time.perf_counter()
    cal = calibrate_speaker([kp], info.width, info.height, config)
    calib_s = time.perf_counter() - start
    start = time.perf_counter()
    fit = fit_poses(cal.model, cal.camera, kp, config)
    fit_ms = 1000 * (time.perf_counter() - start) / len(frames)
    full = int(kp.full_frames().sum())
    e = fit.errors
    print_table(
        f"Keypoints and fitting: {args.video.name} ({len(frames)} frames, "
        f"{info.width}x{info.height}, CPU)",
        ["metric", "value"],
        [
            ["frames with full keypoints (body+hands+face)", f"{full}/{len(frames)}"],
            ["frames with a person", f"{int(kp.person_frames().sum())}/{len(frames)}"],
            ["detection ms/frame (pose+hands+face)", detect_ms],
            ["speaker calibration s (shape, camera, face)", calib_s],
            ["fit ms/frame", fit_ms],
            ["reprojection error body px", e["body"] if e["body"] is not None else "-"],
            ["reprojection error hands px", e["hands"] if e["hands"] is not None else "-"],
            ["reprojection error face px", e["face"] if e["face"] is not None else "-"],
            ["face model", "speaker" if cal.face_refitted else "default"],
        ],
    )
    if args.overlays is not None:
        write_overlays(args.overlays, frames, cal.model, cal.camera, fit.poses, kp)


def write_overlays(out: Path, frames: list[np.ndarray], model, camera, poses, kp) -> None:
    """Fitted skeletons (SkeletonPainter) blended over 4 frames, detections as white dots."""
    import cv2

    from speech2video.render.skeleton_painter import SkeletonPainter

    out.mkdir(parents=True, exist_ok=True)
    h, w = frames[0].shape[:2]
    painter = SkeletonPainter(w, h, draw_legs=False)
    for i in np.linspace(0, len(frames) - 1, 4).astype(int):
        body = model.forward(poses[i : i + 1])
        sk = painter.paint(camera.project(body.joints[0]), camera.project(body.landmarks[0]))
        img = frames[i].copy()
        mask = sk.any(axis=2)
        img[mask] = (0.35 * img[mask] + 0.65 * sk[mask]).astype(np.uint8)
        for p, c in zip(kp.joints[i], kp.joint_conf[i], strict=True):
            if c >= 0.3:
                cv2.circle(img, (int(p[0]), int(p[1])), 3, (255, 255, 255), -1)
        cv2.imwrite(str(out / f"overlay_{i:04d}.png"), img[:, :, ::-1])


if __name__ == "__main__":
    main()
