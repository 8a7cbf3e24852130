"""Renderer benchmark: ``python -m benchmarks.renderer [--threads 2] [--frames 8]``.

Prints a table: generator parameters, GFLOPs per frame (``FlopCounterMode``), and streaming
frames per second (one stream, frames generated in order with carried state) on CPU per engine
(torch, and ONNX Runtime when installed, with the PSNR between the two engines' frames) for the
demo config at 256² and 512² and the lite and production configs at 256². With CUDA it adds
bf16 and ``torch.compile`` fps at 512², the first frame of a stream, and a training step time.
Timings: best of ``--repeats`` runs, the engines measured in turn (the machine may be shared).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch
from torch.utils.flop_counter import FlopCounterMode

from benchmarks.table import print_table
from speech2video.render.generator import Vid2VidGenerator
from speech2video.render.renderer_config import RendererConfig, preset
from speech2video.render.renderer_inference import InferenceOptions, StreamingRenderer


def gflops_per_frame(generator: Vid2VidGenerator, size: int) -> float:
    k = generator.num_prev
    skel = torch.zeros(1, k + 1, 3, size, size)
    prev = torch.zeros(1, k, 3, size, size)
    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        generator(skel, prev)
    return counter.get_total_flops() / 1e9


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def best_seconds(fn: Callable[[], object], device: torch.device, repeats: int) -> float:
    fn()  # warm-up (and compilation)
    _sync(device)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        _sync(device)
        best = min(best, time.perf_counter() - start)
    return best


def stream_fps(
    generator: Vid2VidGenerator, size: int, options: InferenceOptions, frames: int, repeats: int
) -> float:
    renderer = StreamingRenderer(generator, options)
    skel = torch.rand(1, frames, 3, size, size, device=renderer.device) * 2 - 1
    return frames / best_seconds(lambda: renderer.render_chunk(skel), renderer.device, repeats)


def engines_fps(
    generator: Vid2VidGenerator, size: int, frames: int, repeats: int, int8: object = None
) -> tuple[dict[str, float], dict[str, float]]:
    """CPU fps of each engine (measured in turn, best of ``repeats`` rounds), keyed by the
    engine's name (``torch``, ``onnxruntime``, ``onnxruntime-int8``, ``openvino-bf16`` or
    ``openvino-f32``), and for each engine but torch the worst frame's PSNR (dB) between torch's
    frames and its own for the same skeletons (random ones: a roll-out over real skeletons is
    ``python -m benchmarks.renderer_engines``). ``int8``: the checkpoint's int8 step, timed
    too when it is for ``size``."""
    from speech2video.evaluation.render_metrics import psnr
    from speech2video.render import onnx_generator, openvino_generator
    from speech2video.render.renderer_data import to_uint8

    cpu = {"device": "cpu"}
    made = [StreamingRenderer(generator, InferenceOptions(**cpu, engine="torch"))]
    if onnx_generator.available():
        ort = InferenceOptions(**cpu, engine="onnxruntime")
        made.append(StreamingRenderer(generator, ort))
        if int8 is not None and tuple(int8.shape[-2:]) == (size, size):  # type: ignore[attr-defined]
            made.append(StreamingRenderer(generator, ort, int8))  # type: ignore[arg-type]
        if openvino_generator.available():
            made.append(StreamingRenderer(generator, InferenceOptions(**cpu, engine="openvino")))
    skel = torch.rand(1, frames, 3, size, size) * 2 - 1
    warm = [r.render_chunk(skel).frames[0] for r in made]  # warm-up, compiling each step
    # named after the warm-up: an openvino step that failed its bf16 check runs in f32
    renderers = {r.engine: r for r in made}
    outputs = {r.engine: frames for r, frames in zip(made, warm, strict=True)}
    best = dict.fromkeys(renderers, float("inf"))
    for _ in range(repeats):
        for n, r in renderers.items():
            start = time.perf_counter()
            r.render_chunk(skel)
            best[n] = min(best[n], time.perf_counter() - start)
    reference = to_uint8(outputs["torch"])
    psnrs = {
        n: min(psnr(x, y) for x, y in zip(reference, to_uint8(outputs[n]), strict=True))
        for n in renderers
        if n != "torch"
    }
    return {n: frames / s for n, s in best.items()}, psnrs


def first_frame_ms(generator: Vid2VidGenerator, size: int, options: InferenceOptions) -> float:
    renderer = StreamingRenderer(generator, options)
    skel = torch.rand(1, 1, 3, size, size, device=renderer.device) * 2 - 1
    return 1000 * best_seconds(lambda: renderer.render_chunk(skel), renderer.device, 3)


def train_step_seconds(config: RendererConfig, size: int, device: torch.device) -> float:
    from speech2video.render.renderer_training import RendererTrainer

    trainer = RendererTrainer(config, device)
    b, t = config.training.batch_size, config.training.sequence_length
    skel = torch.rand(b, t, 3, size, size) * 2 - 1
    real = torch.rand(b, t, 3, size, size) * 2 - 1
    return best_seconds(lambda: trainer.step(skel, real), device, 2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="CPU threads (default 2)")
    parser.add_argument("--frames", type=int, default=8, help="frames per timed stream")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-512", action="store_true", help="skip the CPU 512² runs")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    rows: list[tuple[str, str, str, str]] = []
    for name in ("demo", "lite", "production"):
        gen = Vid2VidGenerator(preset(name).generator).eval()
        params = sum(p.numel() for p in gen.parameters()) / 1e6
        rows.append((name, "params", "-", f"{params:.2f} M"))
        for size in (256, 512):
            rows.append((name, "GFLOPs/frame", f"{size}²", f"{gflops_per_frame(gen, size):.2f}"))
        sizes = (256,) if name != "demo" or args.skip_512 else (256, 512)
        for size in sizes:
            fps, psnrs = engines_fps(gen, size, args.frames, args.repeats)
            for engine, value in fps.items():
                label = f"CPU {engine} fps ({args.threads} threads)"
                rows.append((name, label, f"{size}²", f"{value:.1f}"))
            for engine, value in psnrs.items():
                label = f"PSNR torch vs {engine} (dB, worst frame)"
                rows.append((name, label, f"{size}²", f"{value:.1f}"))
        if torch.cuda.is_available():
            for label, opts in (
                ("CUDA fp32 fps", InferenceOptions(precision="fp32", channels_last=False)),
                ("CUDA bf16 fps", InferenceOptions(precision="bf16")),
                ("CUDA bf16 compiled fps", InferenceOptions(precision="bf16", compile=True)),
            ):
                fps = stream_fps(gen, 512, opts, 4 * args.frames, args.repeats)
                rows.append((name, label, "512²", f"{fps:.1f}"))
            ms = first_frame_ms(gen, 512, InferenceOptions(precision="bf16"))
            rows.append((name, "CUDA bf16 first frame ms", "512²", f"{ms:.1f}"))
            step = train_step_seconds(preset(name), 512, torch.device("cuda"))
            cfg = preset(name).training
            shape = f"512² B{cfg.batch_size}×T{cfg.sequence_length}"
            rows.append((name, "CUDA train step s", shape, f"{step:.3f}"))
    title = f"Renderer (torch {torch.__version__}, {args.threads} CPU threads)"
    print_table(title, ("config", "measure", "size", "value"), rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
