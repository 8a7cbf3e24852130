"""``s2v render --motion M.npz --renderer CKPT_DIR [--audio A.wav] -o OUT.mp4``: motion →
skeleton images → rendered video (paper §3.5), streamed in chunks, H.264 with the audio muxed."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "render",
        help="motion + trained renderer → video",
        description="Draw the motion as skeleton images and render them with a trained renderer "
        "checkpoint into an H.264 mp4 at the motion's frame rate, optionally with audio. Draw "
        "at the size (and with the body model) the renderer's training skeletons used.",
    )
    p.add_argument("--motion", type=Path, required=True, help="motion .npz (T x 106)")
    p.add_argument("--renderer", type=Path, required=True, help="renderer checkpoint directory")
    p.add_argument("-o", "--output", type=Path, required=True, help="output .mp4")
    p.add_argument("--audio", type=Path, default=None, help="audio to mux in (any common type)")
    p.add_argument("--size", type=int, default=512, help="frame side in pixels (default 512)")
    p.add_argument(
        "--body-model", choices=("skeleton", "smplx"), default="skeleton", help="body model kind"
    )
    p.add_argument("--model-dir", type=Path, default=None, help="the speaker's body model files")
    p.add_argument("--device", default=None, help="cpu, cuda, ... (default: CUDA if any)")
    p.add_argument(
        "--precision",
        choices=("fp32", "bf16", "fp16"),
        default="bf16",
        help="on CUDA autocast; on CPU bf16/fp16 let the openvino engine run in bfloat16 where "
        "the CPU computes it (default bf16)",
    )
    p.add_argument(
        "--engine",
        choices=("auto", "torch", "onnxruntime", "openvino"),
        default="auto",
        help="what runs the generator on CPU (default auto: openvino in bf16 where the CPU "
        "computes it, else onnxruntime, with the checkpoint's int8 step when it has one)",
    )
    p.add_argument("--compile", action="store_true", help="torch.compile the generator (CUDA)")
    p.add_argument("--chunk", type=int, default=16, help="frames rendered per chunk (default 16)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from speech2video.body.body_model import load_body_model
    from speech2video.body.motion_file import load_motion
    from speech2video.errors import InputError
    from speech2video.render.checkpoint import load_renderer
    from speech2video.render.renderer_inference import InferenceOptions, StreamingRenderer
    from speech2video.render.skeleton_painter import SkeletonPainter
    from speech2video.render.skeleton_video import draw_motion, frame_camera
    from speech2video.render.video_io import write_video

    if not 16 <= args.size <= 4096:
        raise InputError(f"--size must be between 16 and 4096 pixels; got {args.size}")
    if args.chunk < 1:
        raise InputError(f"--chunk must be >= 1; got {args.chunk}")
    motion = load_motion(args.motion)
    audio = None
    if args.audio is not None:
        from speech2video.audio.io import decode

        audio = decode(args.audio, max_seconds=None)
    options = InferenceOptions(
        device=args.device, precision=args.precision, compile=args.compile, engine=args.engine
    )
    loaded = load_renderer(args.renderer)  # on CPU; the renderer moves it to its device
    renderer = StreamingRenderer(loaded.generator, options, loaded.int8, loaded.refiner)
    model = load_body_model(
        args.body_model, args.model_dir, global_orient=motion.global_orient, betas=motion.betas
    )
    camera = frame_camera(model, args.size, args.size)
    skeletons = draw_motion(motion, model, camera, SkeletonPainter(args.size, args.size))
    frames = renderer.render_images(skeletons, chunk=args.chunk)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    n = write_video(args.output, frames, motion.fps, audio)
    print(
        f"wrote {args.output}: {n} frames at {motion.fps:g} fps, {args.size}x{args.size} "
        f"({renderer.engine})"
    )
    return 0
