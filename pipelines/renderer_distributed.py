"""Data-parallel renderer training with Ray Train across GPUs and nodes.

Wraps the core's per-worker loop (:func:`speech2video.render.renderer_training.train_worker`) in
a :class:`ray.train.torch.TorchTrainer`: Ray starts ``num_workers`` processes, initialises the
``torch.distributed`` process group (gloo on CPU, NCCL on GPU) and runs the same loop in each;
the loop shards the windows by rank and averages gradients. Rank 0 writes checkpoints, so on
several nodes ``out_dir`` must be storage all workers share. Metrics reach Ray through
``ray.train.report`` every ``report_every`` steps (every worker reports: a Ray requirement), and
each checkpoint the core writes is registered with Ray too (hard links of its files, which Ray
copies to ``storage_path``), so ``Result.checkpoint`` and ``Result.metrics`` are the latest.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from speech2video.render import checkpoint as ckpt
from speech2video.render.renderer_config import RendererConfig


def _worker_loop(loop_config: dict[str, Any]) -> None:
    """Runs inside each Ray Train worker."""
    import ray.train
    import ray.train.torch

    from speech2video.render.renderer_training import train_worker

    config = RendererConfig.from_json(loop_config["config"])
    every = int(loop_config["report_every"])
    last = config.training.steps
    out_dir = Path(loop_config["out_dir"])
    rank = ray.train.get_context().get_world_rank()

    def report(step: int, metrics: dict[str, float]) -> None:
        saved = step % config.training.checkpoint_every == 0 or step == last
        if not (saved or step % every == 0):
            return
        if saved and rank == 0:  # the core wrote a checkpoint of this step: register it
            with tempfile.TemporaryDirectory() as tmp:
                for name in ckpt.CHECKPOINT_FILES:
                    os.link(out_dir / name, Path(tmp) / name)
                checkpoint = ray.train.Checkpoint.from_directory(tmp)
                ray.train.report({**metrics, "step": step}, checkpoint=checkpoint)
        else:
            ray.train.report({**metrics, "step": step})

    train_worker(
        loop_config["data_dir"],
        loop_config["out_dir"],
        config,
        callback=report,
        resume=loop_config["resume"],
        device=ray.train.torch.get_device(),
        progress=False,
        sequences=loop_config.get("sequences"),
    )


def train_renderer_distributed(
    data_dir: str | Path,
    out_dir: str | Path,
    config: RendererConfig,
    num_workers: int = 2,
    use_gpu: bool = False,
    resume: bool = True,
    report_every: int = 10,
    cpus_per_worker: float = 1.0,
    storage_path: str | Path | None = None,
    sequences: list[str] | None = None,
) -> dict[str, float]:
    """Train on ``num_workers`` Ray workers; returns the last reported metrics (``step`` among
    them) from the latest checkpoint. Ray must be reachable: ``ray.init()`` here starts a local
    one when none is running. ``sequences``: the sequence folders to train on (None: all).
    """
    import ray
    from ray.train import RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    from speech2video.errors import InputError

    if not Path(data_dir).is_dir():
        raise InputError(f"renderer data directory not found: {data_dir}")
    if num_workers < 1:
        raise InputError(f"num_workers must be >= 1; got {num_workers}")
    if not ray.is_initialized():
        ray.init()
    out_dir = Path(out_dir).resolve()
    trainer = TorchTrainer(
        _worker_loop,
        train_loop_config={
            "data_dir": str(Path(data_dir).resolve()),
            "out_dir": str(out_dir),
            "config": config.to_json(),
            "resume": resume,
            "report_every": max(1, int(report_every)),
            "sequences": None if sequences is None else list(sequences),
        },
        scaling_config=ScalingConfig(
            num_workers=num_workers,
            use_gpu=use_gpu,
            resources_per_worker={"CPU": cpus_per_worker, **({"GPU": 1} if use_gpu else {})},
        ),
        run_config=RunConfig(
            name="renderer",
            storage_path=str(storage_path or out_dir.with_name(out_dir.name + "-ray")),
        ),
    )
    result = trainer.fit()
    return {k: float(v) for k, v in (result.metrics or {}).items() if isinstance(v, int | float)}
