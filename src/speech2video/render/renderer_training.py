"""Training the renderer: one loop for a CPU, one GPU, or one worker of a data-parallel group.

:func:`train_renderer` is the entry point (single process). :func:`train_worker` is the same
loop as a per-worker function: when a ``torch.distributed`` process group is initialised (Ray
Train, torchrun) each worker reads its shard of the windows (``DistributedSampler`` by rank),
starts from rank 0's weights and averages gradients with ``all_reduce`` after every backward;
only rank 0 writes checkpoints and sample grids. The metrics callback is called on every rank
(a launcher that reports from all workers needs that).

Per step, on a batch of windows ``(B, T, 3, H, W)``: generate the T frames in order from a zero
stream state, update the discriminators (image, temporal, face, hands), then the generator
(GAN + feature matching + L1 + flow-warp + temporal + part losses). Part crops come from the
painted colors of the skeleton images (render/part_boxes.py); missing parts are masked out.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, DistributedSampler
from tqdm.auto import tqdm

from speech2video.errors import InputError
from speech2video.render import checkpoint as ckpt
from speech2video.render import render_losses as L
from speech2video.render.discriminators import RendererDiscriminators
from speech2video.render.generator import Vid2VidGenerator
from speech2video.render.renderer_config import RendererConfig
from speech2video.render.renderer_data import (
    BACKGROUND_FILE,
    RendererDataset,
    collate,
    to_tensor,
    to_uint8,
)
from speech2video.render.renderer_inference import StreamState, generate_sequence
from speech2video.render.renderer_objectives import (
    PartBatch,
    discriminator_loss,
    generator_loss,
)

MetricsCallback = Callable[[int, dict[str, float]], None]


@dataclass(frozen=True)
class TrainingResult:
    """step: the step reached; checkpoint_dir: where the weights are; metrics: the last step's"""

    step: int
    checkpoint_dir: Path
    metrics: dict[str, float]


def _dist() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


class RendererTrainer:
    """The generator, the discriminators, their optimizers and one training step."""

    def __init__(self, config: RendererConfig, device: torch.device) -> None:
        self.config = config
        self.device = device
        torch.manual_seed(config.training.seed)
        self.generator = Vid2VidGenerator(config.generator).to(device)
        self.discriminators = RendererDiscriminators(config.discriminator).to(device)
        t = config.training
        betas = (t.beta1, t.beta2)
        self.opt_g = torch.optim.Adam(self.generator.parameters(), t.lr_generator, betas=betas)
        self.opt_d = torch.optim.Adam(
            self.discriminators.parameters(), t.lr_discriminator, betas=betas
        )
        self.vgg = (
            L.VGGFeatures.from_file(config.loss.perceptual_weights).to(device)
            if config.loss.perceptual_weights
            else None
        )
        self.rank, self.world = _dist()
        if self.world > 1:
            for p in [*self.generator.parameters(), *self.discriminators.parameters()]:
                dist.broadcast(p.data, src=0)
        self.autocast = t.bf16 and (device.type == "cuda" or (device.type == "cpu" and t.bf16_cpu))

    def _average_gradients(self, module: torch.nn.Module) -> None:
        if self.world == 1:
            return
        grads = [p.grad for p in module.parameters() if p.grad is not None]
        flat = torch.cat([g.flatten() for g in grads])
        dist.all_reduce(flat)
        flat /= self.world
        offset = 0
        for g in grads:
            g.copy_(flat[offset : offset + g.numel()].view_as(g))
            offset += g.numel()

    def step(
        self, skeletons: torch.Tensor, real: torch.Tensor, background: torch.Tensor | None = None
    ) -> tuple[dict[str, float], torch.Tensor]:
        """One discriminator and one generator update (render/renderer_objectives.py).

        skeletons, real: (B, T, 3, H, W) float32 in [-1, 1]; background: (B, 3, H, W), each
        window's crop of the speaker's plate (a generator with one), else None
        returns: metrics, and the generated frames (B, T, 3, H, W) (detached)
        """
        cfg, D = self.config, self.discriminators
        skeletons = skeletons.to(self.device, non_blocking=True)
        real = real.to(self.device, non_blocking=True)
        if background is not None and cfg.generator.has_background:
            background = background.to(self.device, non_blocking=True)
        else:
            background = None
        batch = PartBatch.build(skeletons, real, cfg.discriminator)

        with torch.autocast(self.device.type, torch.bfloat16, enabled=self.autocast):
            state = StreamState.initial(
                skeletons.shape[0], cfg.generator.num_prev, *skeletons.shape[-2:], self.device
            )
            seq = generate_sequence(
                self.generator, skeletons, state, detach_feedback=True, background=background
            )
            fake = seq.frames.float()
            flow = torch.stack([o.flow for o in seq.outputs], 1).float()
            mask = torch.stack([o.mask for o in seq.outputs], 1).float()
            D.requires_grad_(True)
            d_total, d_terms = discriminator_loss(D, batch, fake, cfg.loss)
        self.opt_d.zero_grad(set_to_none=True)
        d_total.backward()
        self._average_gradients(D)
        self.opt_d.step()

        with torch.autocast(self.device.type, torch.bfloat16, enabled=self.autocast):
            D.requires_grad_(False)
            g = generator_loss(D, batch, fake, flow, mask, cfg.loss, self.vgg)
        self.opt_g.zero_grad(set_to_none=True)
        g.total.backward()
        self._average_gradients(self.generator)
        self.opt_g.step()
        D.requires_grad_(True)

        metrics = {**g.terms.as_dict(), **d_terms.as_dict(), "l1": g.l1}
        metrics["parts_found"] = float(batch.valid.mean())
        return metrics, fake.detach()


def save_sample_grid(
    path: Path, skeletons: torch.Tensor, fake: torch.Tensor, real: torch.Tensor
) -> Path:
    """A PNG of one window: rows skeleton / generated / real, frames left to right.

    skeletons, fake, real: (T, 3, H, W) in [-1, 1]
    """
    rows = [np.concatenate(list(to_uint8(x)), axis=1) for x in (skeletons, fake, real)]
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), cv2.cvtColor(np.concatenate(rows, axis=0), cv2.COLOR_RGB2BGR))
    return path


def train_worker(
    data_dir: str | Path,
    out_dir: str | Path,
    config: RendererConfig,
    callback: MetricsCallback | None = None,
    resume: bool = True,
    device: str | torch.device | None = None,
    progress: bool = True,
    sequences: Sequence[str] | None = None,
) -> TrainingResult:
    """The training loop of one worker (module docstring); see :func:`train_renderer`."""
    if not isinstance(config, RendererConfig):
        raise InputError(f"config must be a RendererConfig; got {type(config).__name__}")
    rank, world = _dist()
    if device is None:
        device = f"cuda:{torch.cuda.current_device()}" if torch.cuda.is_available() else "cpu"
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"device {str(device)!r} requested but CUDA is not available")
    tc = config.training
    out_dir = Path(out_dir)
    dataset = RendererDataset(data_dir, tc.sequence_length, tc.crop, tc.part_focus, sequences)
    sampler = DistributedSampler(dataset, num_replicas=world, rank=rank, seed=tc.seed)
    loader = DataLoader(
        dataset,
        tc.batch_size,
        sampler=sampler,
        collate_fn=collate,
        num_workers=tc.loader_workers,
        pin_memory=device.type == "cuda",
    )

    trainer = RendererTrainer(config, device)
    if config.generator.has_background:
        if dataset.background is None:
            raise InputError(
                f"the generator composites over a background plate but {data_dir} has no "
                f"{BACKGROUND_FILE}"
            )
        trainer.generator.set_background(to_tensor(dataset.background))
    step = 0
    metrics: dict[str, float] = {}
    if resume and ckpt.has_training_checkpoint(out_dir):
        saved = ckpt.load_config_file(out_dir)
        if (saved.generator, saved.discriminator) != (config.generator, config.discriminator):
            raise InputError(
                f"checkpoint in {out_dir} was trained with another generator/discriminator "
                "config; use another output directory or resume=False"
            )
        step, metrics = ckpt.load_training_checkpoint(  # a finished run reports its losses
            out_dir, trainer.generator, trainer.discriminators, trainer.opt_g, trainer.opt_d
        )
    torch.manual_seed(tc.seed + 1000 * rank + step)  # crops differ by rank and after a resume
    bar = tqdm(total=tc.steps, initial=step, disable=not progress or rank != 0, desc="renderer")
    epoch = step // max(len(loader), 1)
    while step < tc.steps:
        sampler.set_epoch(epoch)
        for batch in loader:
            if step >= tc.steps:
                break
            start = time.perf_counter()
            metrics, fake = trainer.step(batch.skeletons, batch.frames, batch.background)
            step += 1
            metrics["step_time"] = time.perf_counter() - start
            bar.update(1)
            bar.set_postfix(l1=f"{metrics['l1']:.3f}", g=f"{metrics['g_total']:.2f}")
            if rank == 0 and (step % tc.sample_every == 0 or step == tc.steps):
                save_sample_grid(
                    out_dir / "samples" / f"step_{step:07d}.png",
                    batch.skeletons[0],
                    fake[0].cpu(),
                    batch.frames[0],
                )
            if rank == 0 and (step % tc.checkpoint_every == 0 or step == tc.steps):
                _save(out_dir, trainer, step, metrics)
            if callback is not None:  # after the checkpoint of this step is written
                callback(step, dict(metrics))
        epoch += 1
    bar.close()
    if rank == 0 and not ckpt.has_training_checkpoint(out_dir):
        _save(out_dir, trainer, step, metrics)
    return TrainingResult(step, out_dir, metrics)


def _save(
    out_dir: Path, trainer: RendererTrainer, step: int, metrics: dict[str, float] | None = None
) -> None:
    ckpt.save_training_checkpoint(
        out_dir,
        trainer.config,
        trainer.generator,
        trainer.discriminators,
        trainer.opt_g,
        trainer.opt_d,
        step,
        metrics,
    )


def train_renderer(
    data_dir: str | Path,
    out_dir: str | Path,
    config: RendererConfig,
    callback: MetricsCallback | None = None,
    resume: bool = True,
    device: str | torch.device | None = None,
    progress: bool = True,
    sequences: Sequence[str] | None = None,
) -> TrainingResult:
    """Train a renderer on ``data_dir`` (layout: render/renderer_data.py) into ``out_dir``.

    ``sequences`` names the sequence folders to train on (None: all of them; a pipeline passes
    its training split so held-out recordings stay unseen).

    Single process, CPU or one GPU (``device``: None picks CUDA when available). With ``resume``
    an existing checkpoint in ``out_dir`` is continued: the step count and optimizer states carry
    on until ``config.training.steps``. ``callback(step, metrics)`` receives every step's loss
    terms (``g_*``, ``d_*``, ``l1``, ``parts_found``, ``step_time``). Checkpoints go to
    ``out_dir`` every ``checkpoint_every`` steps and at the end; PNG grids to ``out_dir/samples``.
    """
    if not Path(data_dir).is_dir():
        raise InputError(f"renderer data directory not found: {data_dir}")
    return train_worker(data_dir, out_dir, config, callback, resume, device, progress, sequences)
