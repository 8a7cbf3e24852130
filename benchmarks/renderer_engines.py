"""The renderer's CPU engines against float for a trained renderer, on the demo speaker's
held-out recordings (synthetic: a quick check of engine fidelity, not of rendering a person).

    python -m benchmarks.renderer_engines [--models assets/demo/models] [--speaker-dir DIR] [--save]

Generates the synthetic demo speaker (about 40 s; or reads ``--speaker-dir``), draws the
skeletons of its recordings from their true poses with the model set's body model, calibrates the
int8 step on training recordings (render/int8_generator.py) and renders the held-out ones (the
split the pipeline uses) with ONNX Runtime in float, with the int8 step and with OpenVINO
(bfloat16 where the CPU computes it, render/openvino_generator.py), each fed back its own
frames. Prints PSNR, SSIM and face/hand-crop L1 of each against the real frames, the PSNR between
each roll-out and the float one (the first and the last tenth of the frames: whether the error
grows as frames are fed back), and fps per engine on 1 and 2 threads (skeleton drawing not
included). ``--save`` writes the int8 step into the model set's renderer (how the committed demo
models got theirs; ``make repro`` makes it in ``train_renderer``).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from benchmarks.table import print_table


def _skeletons(root: Path, rid: str, profile: object) -> list[np.ndarray]:
    from speech2video.body.motion_file import load_motion
    from speech2video.render.skeleton_painter import SkeletonPainter
    from speech2video.render.skeleton_video import draw_motion

    motion = load_motion(root / "ground_truth" / f"{rid}.npz")
    painter = SkeletonPainter(profile.width, profile.height)  # type: ignore[attr-defined]
    return list(draw_motion(motion, profile.body_model, profile.camera, painter))  # type: ignore[attr-defined]


def _fps(renderer: object, stream: list[np.ndarray], threads: int) -> float:
    torch.set_num_threads(threads)
    list(renderer.render_images(stream[:4], chunk=1))  # type: ignore[attr-defined]  # warm-up
    start = time.perf_counter()
    n = len(list(renderer.render_images(stream, chunk=1)))  # type: ignore[attr-defined]
    return n / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", type=Path, default=Path("assets/demo/models"))
    p.add_argument("--speaker-dir", type=Path, default=None, help="a generated demo speaker")
    p.add_argument("--calibration", type=int, default=4, help="training recordings to calibrate")
    p.add_argument("--save", action="store_true", help="write the int8 step into the renderer")
    args = p.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from pipelines.recordings import split_recordings
    from speech2video.evaluation.render_metrics import psnr, score_frames
    from speech2video.model_set import load_speaker_profile
    from speech2video.render.checkpoint import load_renderer
    from speech2video.render.int8_generator import quantize_step, save_int8, step_fidelity
    from speech2video.render.renderer_inference import InferenceOptions, StreamingRenderer
    from speech2video.render.video_io import iter_frames

    root = args.speaker_dir
    if root is None:
        from speech2video.synthetic.config import get_config
        from speech2video.synthetic.demo_speaker import generate_demo_speaker

        root = Path(tempfile.mkdtemp(prefix="s2v-int8-")) / "demo_speaker"
        print(f"generating the demo speaker into {root} ...", flush=True)
        generate_demo_speaker(root, get_config("demo"), 0)
    ids = sorted(p.stem for p in (root / "recordings").glob("utt_*.mp4"))
    train, held = split_recordings(ids, 0.1, 0)
    profile = load_speaker_profile(args.models / "body_model")
    loaded = load_renderer(args.models / "renderer")
    gen = loaded.generator
    torch.set_num_threads(2)
    pick = np.linspace(0, len(train) - 1, num=min(args.calibration, len(train))).round()
    cal = [train[int(i)] for i in np.unique(pick)]
    t = time.perf_counter()
    int8 = quantize_step(gen, [_skeletons(root, r, profile) for r in cal])
    quantize_s = time.perf_counter() - t
    check = [r for r in train if r not in cal][:2]
    fidelity = step_fidelity(gen, int8, [_skeletons(root, r, profile) for r in check])
    from speech2video.render import openvino_generator

    options = InferenceOptions(device="cpu", engine="onnxruntime")
    engines = {
        "onnxruntime (float)": StreamingRenderer(gen, options),
        "onnxruntime-int8": StreamingRenderer(gen, options, int8),
    }
    streams = {r: _skeletons(root, r, profile) for r in held}
    reals = {r: list(iter_frames(root / "recordings" / f"{r}.mp4")) for r in held}
    if openvino_generator.available():
        ov = StreamingRenderer(gen, InferenceOptions(device="cpu", engine="openvino"))
        list(ov.render_images(streams[held[0]][:1]))  # compiled: named by what it runs in
        engines[ov.engine] = ov
    rows: list[tuple[str, ...]] = []
    generated: dict[str, list[np.ndarray]] = {}
    for name, renderer in engines.items():
        frames, real, sks = [], [], []
        for r in held:
            out = list(renderer.render_images(streams[r], chunk=1))
            n = min(len(out), len(reals[r]))
            frames += out[:n]
            real += reals[r][:n]
            sks += streams[r][:n]
        generated[name] = frames
        s = score_frames(real, frames, sks)
        rows.append((name, f"{s.psnr:.2f}", f"{s.ssim:.3f}", f"{s.face_crop_l1:.1f}"))
        rows[-1] += (f"{s.hands_crop_l1:.1f}",)
        for threads in (1, 2):
            rows[-1] += (f"{_fps(renderer, streams[held[0]], threads):.1f}",)
    reference = generated["onnxruntime (float)"]
    drift: list[tuple[str, str]] = []
    for name, frames in generated.items():
        if name == "onnxruntime (float)":
            continue
        per_frame = [psnr(x, y) for x, y in zip(reference, frames, strict=True)]
        tenth = max(1, len(per_frame) // 10)
        drift.append(
            (
                f"held out: {name} vs float PSNR, first / last tenth / worst frame",
                f"{np.mean(per_frame[:tenth]):.2f} / {np.mean(per_frame[-tenth:]):.2f} / "
                f"{np.min(per_frame):.2f} dB",
            )
        )
    print_table(
        f"Renderer engines vs float, synthetic demo speaker's held-out {held} "
        f"({len(reference)} frames), "
        f"{profile.width}x{profile.height}; skeletons from the true poses",  # type: ignore[attr-defined]
        ("engine", "PSNR dB", "SSIM", "face L1", "hands L1", "fps 1 thread", "fps 2 threads"),
        rows,
    )
    print_table(
        "int8 step and each engine's drift from float",
        ("what", "value"),
        [
            ("calibrated on", f"{cal} ({int8.meta['calibration_samples']} samples)"),
            ("quantisation seconds", f"{quantize_s:.1f}"),
            (f"check on {check}: int8 vs float PSNR mean", f"{fidelity['int8_psnr_mean']:.2f} dB"),
            *drift,
        ],
    )
    if args.save:
        meta = {**int8.meta, **fidelity, "calibrated_on": cal, "checked_on": check}
        import dataclasses

        path = save_int8(args.models / "renderer", dataclasses.replace(int8, meta=meta))
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
