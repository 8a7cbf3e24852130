"""Renderer checkpoints: safetensors weights + a JSON config, and the resume state.

A checkpoint directory holds::

    config.json                 RendererConfig (renderer_config.py)
    generator.safetensors       Vid2VidGenerator weights — all inference needs
    generator.int8.onnx         optional: the int8 step for CPU, with int8.json (int8_generator.py)
    part_refiner.json           optional: the part refiner, with part_refiner.safetensors and
                                part_exemplars.safetensors (part_refiner.py)
    discriminators.safetensors  RendererDiscriminators weights (training only)
    training_state.pt           step and optimizer states, read with ``weights_only=True``

Nothing is unpickled: weights are safetensors, the optimizer file holds tensors and plain
containers only. Each file is written to a temporary name and renamed, so an interruption leaves
the previous checkpoint readable.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from speech2video.errors import InputError, NotFoundError
from speech2video.render.generator import Vid2VidGenerator
from speech2video.render.int8_generator import Int8Step, load_int8
from speech2video.render.part_refiner import PartRefinement, load_part_refinement
from speech2video.render.renderer_config import RendererConfig

CONFIG_FILE = "config.json"
GENERATOR_FILE = "generator.safetensors"
DISCRIMINATORS_FILE = "discriminators.safetensors"
TRAINING_STATE_FILE = "training_state.pt"
#: Every file of a training checkpoint.
CHECKPOINT_FILES = (CONFIG_FILE, GENERATOR_FILE, DISCRIMINATORS_FILE, TRAINING_STATE_FILE)


@dataclass(frozen=True)
class LoadedRenderer:
    """A generator ready for inference, the config it was built from and, when the checkpoint
    carries one, its int8 step (render/int8_generator.py) and its part refiner
    (render/part_refiner.py)."""

    generator: Vid2VidGenerator
    config: RendererConfig
    int8: Int8Step | None = None
    refiner: PartRefinement | None = None


def _tmp(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp")


def _save_weights(module: torch.nn.Module, path: Path) -> None:
    state = {k: v.detach().contiguous().cpu() for k, v in module.state_dict().items()}
    save_file(state, str(_tmp(path)))
    os.replace(_tmp(path), path)


def _load_weights(module: torch.nn.Module, path: Path) -> None:
    try:
        state = load_file(str(path))
    except Exception as exc:  # safetensors raises its own error types
        raise InputError(f"cannot read weights {path}: {exc}") from None
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise InputError(f"weights {path.name} do not match config.json ({exc})") from None


def save_renderer(
    directory: str | Path, config: RendererConfig, generator: torch.nn.Module
) -> Path:
    """Write ``config.json`` and ``generator.safetensors`` into ``directory``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    _tmp(directory / CONFIG_FILE).write_text(config.to_json() + "\n")
    os.replace(_tmp(directory / CONFIG_FILE), directory / CONFIG_FILE)
    _save_weights(generator, directory / GENERATOR_FILE)
    return directory


def load_config_file(directory: str | Path) -> RendererConfig:
    path = Path(directory) / CONFIG_FILE
    if not path.is_file():
        raise NotFoundError(f"renderer checkpoint {directory} has no {CONFIG_FILE}")
    return RendererConfig.from_json(path.read_text())


def load_renderer(directory: str | Path, device: str | torch.device = "cpu") -> LoadedRenderer:
    """The generator of a checkpoint directory, in eval mode on ``device``."""
    directory = Path(directory)
    if not directory.is_dir():
        raise NotFoundError(f"renderer checkpoint directory not found: {directory}")
    config = load_config_file(directory)
    weights = directory / GENERATOR_FILE
    if not weights.is_file():
        raise NotFoundError(f"renderer checkpoint {directory} has no {GENERATOR_FILE}")
    generator = Vid2VidGenerator(config.generator)
    _load_weights(generator, weights)
    return LoadedRenderer(
        generator.to(device).eval(), config, load_int8(directory), load_part_refinement(directory)
    )


def save_training_checkpoint(
    directory: str | Path,
    config: RendererConfig,
    generator: torch.nn.Module,
    discriminators: torch.nn.Module,
    optimizer_generator: torch.optim.Optimizer,
    optimizer_discriminator: torch.optim.Optimizer,
    step: int,
    metrics: Mapping[str, float] | None = None,
) -> Path:
    """Everything :func:`load_training_checkpoint` needs to resume at ``step``; ``metrics``: the
    losses of that step (given back by a resume)."""
    directory = save_renderer(directory, config, generator)
    _save_weights(discriminators, directory / DISCRIMINATORS_FILE)
    state = {
        "step": int(step),
        "optimizer_generator": optimizer_generator.state_dict(),
        "optimizer_discriminator": optimizer_discriminator.state_dict(),
        "metrics": {str(k): float(v) for k, v in (metrics or {}).items()},
    }
    path = directory / TRAINING_STATE_FILE
    torch.save(state, _tmp(path))
    os.replace(_tmp(path), path)
    return directory


def has_training_checkpoint(directory: str | Path) -> bool:
    return all((Path(directory) / f).is_file() for f in CHECKPOINT_FILES)


def load_training_checkpoint(
    directory: str | Path,
    generator: torch.nn.Module,
    discriminators: torch.nn.Module,
    optimizer_generator: torch.optim.Optimizer,
    optimizer_discriminator: torch.optim.Optimizer,
) -> tuple[int, dict[str, float]]:
    """Restore weights and optimizer states in place; returns the step reached and that step's
    losses ({} for checkpoints written without them)."""
    directory = Path(directory)
    _load_weights(generator, directory / GENERATOR_FILE)
    _load_weights(discriminators, directory / DISCRIMINATORS_FILE)
    try:
        state = torch.load(directory / TRAINING_STATE_FILE, map_location="cpu", weights_only=True)
    except Exception as exc:  # a damaged or foreign file
        raise InputError(f"cannot read {TRAINING_STATE_FILE} in {directory}: {exc}") from None
    optimizer_generator.load_state_dict(state["optimizer_generator"])
    optimizer_discriminator.load_state_dict(state["optimizer_discriminator"])
    metrics = {str(k): float(v) for k, v in (state.get("metrics") or {}).items()}
    return int(state["step"]), metrics
