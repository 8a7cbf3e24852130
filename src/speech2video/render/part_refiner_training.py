"""Training the part refiner (render/part_refiner.py) on the generator's own roll-out.

Samples are (frame, part) pairs of the training recordings: the part's crop of the frame the
trained generator rendered from the skeleton (the refiner's input at inference), of the
skeleton, and of the real frame (the target). The real crops are also the exemplar bank. Each
sample's exemplar is the nearest in the bank **outside its own recording's ±``exclude_frames``**
(never the sample's own frame), so the refiner learns to carry a pose it has not been given the
answer for. The loss is the L1 to the real crop under the paste's feathered window.

How far to exclude sets how much the refiner trusts its exemplar, measured on the shared real
clip's held-out frames (docs/data-science.md): excluding ±15 frames teaches it that exemplars
are often wrong, so it blends them into the generator's blur (both hands found in 28 % of the
frames); excluding only the frame itself (the default, ``0``) keeps the exemplar's real hand
and the detector finds both hands in 95-98 % (seeds 0-2; real frames: 98 %), at about the
generator's own crop error and PSNR.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from speech2video.errors import InputError
from speech2video.render.part_boxes import PART_NAMES, crop_boxes, part_boxes
from speech2video.render.part_refiner import (
    ExemplarBank,
    PartRefinement,
    PartRefinerConfig,
    PartRefinerNet,
    feather_window,
    skeleton_descriptor,
    to_unit,
)


@dataclass(frozen=True)
class RefinerTraining:
    """How long and how to train. steps: optimizer steps (0: no refiner); batch_size: crops
    per step; lr: Adam's rate (cosine-decayed to 5 % of it); exclude_frames: a sample's
    exemplar is never its own frame nor within this many frames of it in its own recording;
    seed; augment:
    mirror a sample's crops (all five alike) at random and shift the input crops against the
    target by up to 1/16 of the side (minutes of video give a few hundred crops)."""

    steps: int = 1500
    batch_size: int = 16
    lr: float = 1e-3
    exclude_frames: int = 0
    seed: int = 0
    augment: bool = True

    def validate(self) -> None:
        if self.steps < 0 or self.batch_size < 1 or not self.lr > 0 or self.exclude_frames < 0:
            raise InputError(
                "part_refiner needs steps >= 0, batch_size >= 1, lr > 0, exclude_frames >= 0; "
                f"got {self.steps}, {self.batch_size}, {self.lr}, {self.exclude_frames}"
            )


@dataclass
class PartSamples:
    """Part crops of training frames, (N, 3, S, S) uint8 each, and per sample its part index
    (in PART_NAMES), recording index and frame index (N,) int64."""

    generated: torch.Tensor
    skeletons: torch.Tensor
    real: torch.Tensor
    part: torch.Tensor
    sequence: torch.Tensor
    frame: torch.Tensor

    def __len__(self) -> int:
        return int(self.part.shape[0])


def _u8(images: np.ndarray) -> torch.Tensor:
    """(T, H, W, 3) uint8 → (T, 3, H, W) float32 0..255."""
    return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float()


def collect_part_samples(
    recordings: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]],
    config: PartRefinerConfig,
    chunk: int = 16,
) -> PartSamples:
    """Crop every found part of every frame.

    recordings: per training recording (skeletons, real, generated), each (T, H, W, 3) uint8
        RGB of the same shape
    """
    config.validate()
    parts = [PART_NAMES.index(p) for p in config.parts]
    cols: dict[str, list[torch.Tensor]] = {k: [] for k in ("g", "s", "r", "p", "q", "f")}
    for q, (sk, real, gen) in enumerate(recordings):
        if not (sk.shape == real.shape == gen.shape) or sk.ndim != 4 or sk.shape[-1] != 3:
            raise InputError(
                f"recording {q}: skeletons, real and generated frames must be (T, H, W, 3) "
                f"alike; got {sk.shape}, {real.shape}, {gen.shape}"
            )
        for start in range(0, sk.shape[0], chunk):
            s, r, g = (_u8(a[start : start + chunk]) for a in (sk, real, gen))
            found = part_boxes(
                s.to(torch.uint8), face_scale=config.face_scale, hand_scale=config.hand_scale
            )
            for p in parts:
                rows = found.valid[:, p].nonzero().flatten()
                if rows.numel() == 0:
                    continue
                box = found.boxes[rows, p : p + 1]
                for key, images in (("g", g), ("s", s), ("r", r)):
                    crop = crop_boxes(images[rows], box, config.crop)[:, 0]
                    cols[key].append(crop.round().clamp(0, 255).to(torch.uint8))
                cols["p"].append(torch.full((rows.numel(),), p, dtype=torch.int64))
                cols["q"].append(torch.full((rows.numel(),), q, dtype=torch.int64))
                cols["f"].append(rows + start)
    if not cols["p"]:
        raise InputError(f"no {'/'.join(config.parts)} found in any training skeleton image")
    g, s, r, p, q, f = (torch.cat(cols[k]) for k in ("g", "s", "r", "p", "q", "f"))
    return PartSamples(g, s, r, p, q, f)


def exemplar_bank(samples: PartSamples, config: PartRefinerConfig) -> ExemplarBank:
    """The real crops of ``samples`` as the bank the refiner ships with."""
    return ExemplarBank(
        samples.real,
        samples.skeletons,
        skeleton_descriptor(samples.skeletons, config.descriptor),
        samples.part,
        samples.sequence,
        samples.frame,
    )


def _augment(
    crops: tuple[torch.Tensor, ...], shift: int, gen: torch.Generator
) -> tuple[torch.Tensor, ...]:
    """Mirror a random half of the samples (every crop alike); shift the generated and skeleton
    crops (the first two) and the exemplar pair (the last two) by one random offset each, up to
    ``shift`` px, so the refiner does not rely on the boxes being exact. (B, 3, S, S) each."""
    flip = torch.rand(crops[0].shape[0], generator=gen) < 0.5
    out = [torch.where(flip[:, None, None, None], c.flip(-1), c) for c in crops]
    if shift > 0:
        for pair in ((0, 1), (3, 4)):
            dy, dx = (int(v) for v in torch.randint(-shift, shift + 1, (2,), generator=gen))
            for i in pair:
                out[i] = torch.roll(out[i], (dy, dx), dims=(-2, -1))
    return tuple(out)


def train_part_refiner(
    samples: PartSamples,
    config: PartRefinerConfig,
    training: RefinerTraining,
    callback: Callable[[int, dict[str, float]], None] | None = None,
    log_every: int = 50,
) -> tuple[PartRefinement, list[dict[str, float]]]:
    """Train the refiner; returns it (with the bank) and the curve: per ``log_every`` steps the
    mean training L1 of the refined crops and of the unrefined generated crops (0..255 units,
    under the paste window)."""
    config.validate()
    training.validate()
    if len(samples) == 0:
        raise InputError("no part samples to train the refiner on")
    gen = torch.Generator().manual_seed(training.seed)
    torch.manual_seed(training.seed)
    bank = exemplar_bank(samples, config)
    exemplar = torch.empty(len(samples), dtype=torch.int64)
    for p in samples.part.unique().tolist():
        rows = (samples.part == p).nonzero().flatten()
        exclude = (samples.sequence[rows], samples.frame[rows], training.exclude_frames)
        exemplar[rows] = bank.nearest(bank.descriptors[rows], int(p), exclude)
    net = PartRefinerNet(config.width, config.head)
    opt = torch.optim.Adam(net.parameters(), lr=training.lr, betas=(0.9, 0.999))
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(
        opt, T_max=max(1, training.steps), eta_min=0.05 * training.lr
    )
    window = feather_window(config.crop, config.feather)[None, None]
    norm = float(window.mean()) * 2.0 / 255.0  # [-1, 1] L1 under the window → 0..255 units
    curve: list[dict[str, float]] = []
    acc = {"l1": 0.0, "l1_generated": 0.0, "n": 0}
    net.train()
    for step in range(1, training.steps + 1):
        idx = torch.randint(len(samples), (training.batch_size,), generator=gen)
        g, s, r = (to_unit(t[idx]) for t in (samples.generated, samples.skeletons, samples.real))
        e, es = to_unit(bank.crops[exemplar[idx]]), to_unit(bank.skeletons[exemplar[idx]])
        if training.augment:
            g, s, r, e, es = _augment((g, s, r, e, es), config.crop // 16, gen)
        refined, _ = net(g, s, e, es)
        loss = ((refined - r).abs() * window).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        acc["l1"] += float(loss.detach()) / norm
        acc["l1_generated"] += float(((g - r).abs() * window).mean()) / norm
        acc["n"] += 1
        if step % log_every == 0 or step == training.steps:
            n = acc.pop("n")
            row = {k: v / n for k, v in acc.items()}
            curve.append({"step": float(step), **row})
            if callback is not None:
                callback(step, {f"refiner_{k}": v for k, v in row.items()})
            acc = {"l1": 0.0, "l1_generated": 0.0, "n": 0}
    return PartRefinement(config, net.eval(), bank), curve
