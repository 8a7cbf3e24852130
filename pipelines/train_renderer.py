"""Stage ``train_renderer``: the speaker's vid2vid renderer on (skeleton, frame) pairs (§3.5).

Training state (optimizer, discriminators, samples) lives in ``data/interim/renderer_training``
so an interrupted run resumes; the served component (generator + config) goes to
``models/renderer``. It trains on the skeleton sequences of the training split only: the
held-out recordings (``split``) are what ``evaluate`` scores the renderer on.

``workers: 1`` (the default) trains in this process, on the GPU when there is one. ``workers: N``
(N > 1) trains data-parallel with Ray Train (pipelines/renderer_distributed.py): the same loop,
the windows sharded by rank, gradients averaged; each worker gets ``cpus_per_worker`` CPUs and,
with ``use_gpu: true``, a GPU. Ray must then be reachable (a cluster address in ``RAY_ADDRESS``,
else a local Ray is started); MLflow gets the metrics of the last step Ray Train reported.

The component also gets the generator's int8 step for CPU rendering when its check passes
(pipelines/renderer_int8.py, ``int8: true``), and the part refiner that redraws the hands from the
person's own exemplars when ``part_refiner`` is set (pipelines/renderer_part_refiner.py).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from pipelines.recordings import (
    METRICS_DIR,
    MODELS_DIR,
    SKELETONS_DIR,
    skeleton_split,
    speaker_info,
)
from pipelines.renderer_part_refiner import refiner_settings, write_part_refiner
from pipelines.stage_io import StageError, load_params, run_stage, stage_file, stage_output

TRAINING_DIR = Path("data/interim/renderer_training")


def renderer_config(p: dict):  # -> RendererConfig
    """The preset named by ``config`` with training overrides (steps, batch, crop, focus, rates)."""
    from speech2video.render.renderer_config import load_config

    config = load_config(p.get("config", "demo"))
    keys = (
        "steps",
        "batch_size",
        "crop",
        "part_focus",
        "checkpoint_every",
        "lr_generator",
        "lr_discriminator",
        "bf16_cpu",
    )
    training = {k: p[k] for k in keys if k in p}
    if training:
        config = dataclasses.replace(
            config, training=dataclasses.replace(config.training, **training)
        )
    return with_plate(config, SKELETONS_DIR)


def with_plate(config, data_dir: Path):  # (RendererConfig, Path) -> RendererConfig
    """``config`` whose generator composites over the speaker's still background plate when the
    skeletons stage wrote one (``framing: speaker``), at the plate's size."""
    from speech2video.render.renderer_data import BACKGROUND_FILE, read_rgb

    plate = data_dir / BACKGROUND_FILE
    if not plate.is_file() or config.generator.has_background:
        return config
    height, width = read_rgb(plate).shape[:2]
    generator = dataclasses.replace(
        config.generator, background_height=height, background_width=width
    )
    return dataclasses.replace(config, generator=generator)


def main() -> None:
    from speech2video.render.checkpoint import load_renderer, save_renderer
    from speech2video.render.renderer_training import train_renderer
    from speech2video_mlops.tracking import TrainingRun

    params = load_params()
    from pipelines.mocap_ingest import motion_source

    if motion_source(params) == "mocap":  # no video: no renderer (register skips empty dirs)
        with stage_output(MODELS_DIR / "renderer"):
            pass
        TRAINING_DIR.mkdir(parents=True, exist_ok=True)
        with stage_file(METRICS_DIR / "train_renderer.json") as tmp:
            tmp.write_text(json.dumps({"skipped": "motion_source: mocap (no video)"}) + "\n")
        return
    p = dict(params.get("train_renderer") or {})
    speaker = speaker_info(params["speaker_dir"])["speaker"]
    config = renderer_config(p)
    if not p.get("resume", True) and TRAINING_DIR.exists():
        import shutil

        shutil.rmtree(TRAINING_DIR)
    log_every = max(1, int(p.get("log_every", 10)))
    refiner_settings(p.get("part_refiner"))  # a bad setting fails now, not after the training

    with TrainingRun("train_renderer", speaker, {**p, "preset": config.preset}) as run:

        def log(step: int, metrics: dict[str, float]) -> None:
            if step % log_every == 0:
                run.log_metrics(metrics, step)

        sequences, _ = skeleton_split(params)
        if not sequences:
            raise StageError(f"{SKELETONS_DIR}: no training recordings (all are held out)")
        workers = int(p.get("workers", 1))
        if workers < 1:
            raise StageError(f"train_renderer.workers must be >= 1; got {workers}")
        if workers == 1:
            result = train_renderer(
                SKELETONS_DIR,
                TRAINING_DIR,
                config,
                callback=log,
                progress=bool(p.get("progress", True)),
                sequences=sequences,
            )
            step, metrics = result.step, result.metrics
        else:
            from pipelines.renderer_distributed import train_renderer_distributed

            metrics = train_renderer_distributed(
                SKELETONS_DIR,
                TRAINING_DIR,
                config,
                num_workers=workers,
                use_gpu=bool(p.get("use_gpu", False)),
                cpus_per_worker=float(p.get("cpus_per_worker", 1.0)),
                report_every=log_every,
                sequences=sequences,
            )
            step = int(metrics.pop("step", config.training.steps))
        loaded = load_renderer(TRAINING_DIR)
        with stage_output(MODELS_DIR / "renderer") as out:
            save_renderer(out, loaded.config, loaded.generator)
            from pipelines.renderer_int8 import write_int8_step

            metrics = {**metrics, **write_int8_step(out, loaded.generator, params)}
            refined = write_part_refiner(
                out, loaded.generator, params, sequences, lambda s, m: run.log_metrics(m, s)
            )
            metrics = {**metrics, **refined}
        run.log_artifacts(MODELS_DIR / "renderer", "model/renderer")
        samples = TRAINING_DIR / "samples"
        if samples.is_dir():
            run.log_artifacts(samples, "samples")
        summary = {"steps": float(step), **{k: float(v) for k, v in metrics.items()}}
        run.log_metrics(summary)
        run.set_tags({"component": "renderer"})
    METRICS_DIR.mkdir(exist_ok=True)
    with stage_file(METRICS_DIR / "train_renderer.json") as tmp:
        tmp.write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    run_stage("train_renderer", main)
