"""Renderer configuration: frozen dataclasses, named presets and a JSON round trip.

Four presets (:data:`PRESETS`):

- ``tiny``: seconds-long smoke trainings on CPU (tests).
- ``demo``: the default; sized for ≥ 8 frames/s at 256² on 2 CPU cores.
- ``lite``: the demo's discriminators and losses with a generator of a third of its FLOPs
  (1.30 vs 3.87 GFLOPs a 256² frame: one residual block, channels capped at 64, the decoder's
  convolutions at the lower resolution), about 2× the demo's CPU fps. It does not keep the
  demo's quality at the demo's 350 training steps (demo speaker's held-out clips: PSNR 19.33
  vs 20.10 dB, SSIM 0.754 vs 0.808, hand-crop L1 26.5 vs 20.9; docs/data-science.md), so it is
  a choice for deployments that need the speed, not the default.
- ``production``: a wider, deeper generator and larger discriminators, for GPUs.

A config file is the JSON written by :meth:`RendererConfig.to_json`; keys left out take the
defaults of the preset named by its optional ``"preset"`` key (``demo`` when absent), so a file
may override only what it changes.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from speech2video.errors import InputError

GAN_MODES = ("lsgan", "hinge")
#: How a generator's decoder level doubles the resolution (render/generator.py):
#: ``resize_conv``: nearest upsampling, then a 3×3 convolution at the higher resolution;
#: ``conv_resize``: the 3×3 convolution at the lower resolution, then nearest upsampling — 4×
#: fewer decoder FLOPs (the decoder is ~half of the demo generator's), the skip connection and
#: the full-resolution heads restoring the detail.
DECODERS = ("resize_conv", "conv_resize")


@dataclass(frozen=True)
class GeneratorConfig:
    """The sequential generator (vid2vid): a U-Net over the current and previous K skeletons and
    the previous K generated frames.

    width: channels at full resolution; depth: number of stride-2 downsamplings;
    res_blocks: residual blocks at the bottleneck; max_channels: channel cap per level;
    num_prev: K, the previous frames (and skeletons) the generator sees;
    background_height, background_width: the size of the speaker's still background plate the
    generator composites its frame over (0, 0: none; render/generator.py);
    decoder: how each decoder level upsamples (:data:`DECODERS`).
    """

    width: int = 16
    depth: int = 3
    res_blocks: int = 2
    max_channels: int = 128
    num_prev: int = 2
    background_height: int = 0
    background_width: int = 0
    decoder: str = "resize_conv"

    @property
    def has_background(self) -> bool:
        return self.background_height > 0

    def validate(self) -> None:
        _positive(self, "width", "depth", "max_channels", "num_prev")
        if (self.background_height > 0) != (self.background_width > 0) or min(
            self.background_height, self.background_width
        ) < 0:
            raise InputError(
                "generator.background_height and background_width must both be > 0 or both 0; "
                f"got {self.background_height}, {self.background_width}"
            )
        if self.decoder not in DECODERS:
            raise InputError(f"generator.decoder must be one of {DECODERS}; got {self.decoder!r}")
        if self.res_blocks < 0:
            raise InputError(f"generator.res_blocks must be >= 0; got {self.res_blocks}")
        if self.max_channels < self.width:
            raise InputError("generator.max_channels must be at least generator.width")


@dataclass(frozen=True)
class DiscriminatorConfig:
    """Multi-scale patch, temporal and part discriminators.

    image_scales: spatial scales of the image discriminator; temporal_scales: frame strides
    1, 2, 4, ... of the temporal discriminator; temporal_frames: frames per temporal clip;
    part_crop: side in pixels of the face and hand crops; face_scale, hand_scale: crop side as a
    multiple of the painted face / hand-circle size.
    """

    width: int = 32
    layers: int = 3
    image_scales: int = 2
    temporal_scales: int = 2
    temporal_frames: int = 3
    part_crop: int = 48
    face_scale: float = 1.6
    hand_scale: float = 2.5

    def validate(self) -> None:
        _positive(self, "width", "layers", "image_scales", "temporal_scales", "part_crop")
        if self.temporal_frames < 2:
            raise InputError(
                f"discriminator.temporal_frames must be >= 2; got {self.temporal_frames}"
            )
        if self.face_scale <= 0 or self.hand_scale <= 0:
            raise InputError("discriminator.face_scale and hand_scale must be positive")

    @property
    def temporal_span(self) -> int:
        """Frames the coarsest temporal scale spans."""
        return (self.temporal_frames - 1) * 2 ** (self.temporal_scales - 1) + 1


@dataclass(frozen=True)
class LossConfig:
    """Loss weights. ``perceptual_weights`` is a path to VGG-19 ``features.*`` weights in
    safetensors that an operator supplies; without it (the default) there is no perceptual loss.
    """

    gan_mode: str = "lsgan"
    gan: float = 1.0
    feature_matching: float = 10.0
    l1: float = 10.0
    flow_warp: float = 5.0
    temporal: float = 1.0
    face: float = 2.0
    hands: float = 2.0
    #: L1 on the face and hand crops at the part discriminators' resolution: a face is a few
    #: per cent of a frame, so a whole-frame L1 hardly sees the mouth; the crops zoom it.
    part_l1: float = 10.0
    perceptual: float = 10.0
    perceptual_weights: str | None = None

    def validate(self) -> None:
        if self.gan_mode not in GAN_MODES:
            raise InputError(f"loss.gan_mode must be one of {GAN_MODES}; got {self.gan_mode!r}")
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, float) and value < 0:
                raise InputError(f"loss.{f.name} must be >= 0; got {value}")


@dataclass(frozen=True)
class TrainingConfig:
    """Optimisation and bookkeeping.

    crop: side of the random square crop (0: whole frames); part_focus: probability that a crop
    is centred on the face or a hand (render/renderer_data.py); sequence_length: frames per training
    window (at least K+1 and the temporal discriminator's span); bf16: autocast on CUDA;
    bf16_cpu: autocast on the CPU too (about twice as fast where the CPU has bfloat16 matrix
    units, e.g. AMX; emulated and slower elsewhere; off by default); loader_workers: DataLoader
    processes decoding PNGs (0: in the training process).
    """

    steps: int = 20_000
    batch_size: int = 2
    sequence_length: int = 5
    crop: int = 256
    part_focus: float = 0.5
    lr_generator: float = 2e-4
    lr_discriminator: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    checkpoint_every: int = 1000
    sample_every: int = 500
    seed: int = 0
    bf16: bool = True
    bf16_cpu: bool = False
    loader_workers: int = 0

    def validate(self) -> None:
        _positive(self, "steps", "batch_size", "sequence_length", "checkpoint_every")
        _positive(self, "sample_every", "lr_generator", "lr_discriminator")
        if self.crop < 0:
            raise InputError(f"training.crop must be >= 0; got {self.crop}")
        if self.loader_workers < 0:
            raise InputError(f"training.loader_workers must be >= 0; got {self.loader_workers}")
        if not 0.0 <= self.part_focus <= 1.0:
            raise InputError(f"training.part_focus must be within [0, 1]; got {self.part_focus}")


@dataclass(frozen=True)
class RendererConfig:
    """Everything that defines a renderer and how it is trained."""

    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    preset: str = "demo"

    def __post_init__(self) -> None:
        self.generator.validate()
        self.discriminator.validate()
        self.loss.validate()
        self.training.validate()
        need = max(self.generator.num_prev + 1, self.discriminator.temporal_span)
        if self.training.sequence_length < need:
            raise InputError(
                f"training.sequence_length must be >= {need} (K+1 and the temporal "
                f"discriminator's span); got {self.training.sequence_length}"
            )
        if self.training.crop and self.training.crop % 2**self.generator.depth:
            raise InputError(
                f"training.crop must be a multiple of {2**self.generator.depth} "
                f"(2**generator.depth); got {self.training.crop}"
            )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RendererConfig:
        """Build from a (possibly partial) dict; unknown keys raise :class:`InputError`."""
        if not isinstance(data, dict):
            raise InputError("renderer config must be a JSON object")
        preset_name = data.get("preset", "demo")
        if preset_name not in PRESETS:
            raise InputError(f"unknown renderer preset {preset_name!r}; known: {sorted(PRESETS)}")
        base = PRESETS[preset_name]
        unknown = set(data) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise InputError(f"unknown renderer config keys: {sorted(unknown)}")
        parts: dict[str, Any] = {}
        for name in ("generator", "discriminator", "loss", "training"):
            sub = getattr(base, name)
            given = data.get(name, {})
            if not isinstance(given, dict):
                raise InputError(f"renderer config key {name!r} must be an object")
            known = {f.name: f for f in dataclasses.fields(sub)}
            bad = set(given) - set(known)
            if bad:
                raise InputError(f"unknown keys in renderer config {name!r}: {sorted(bad)}")
            for key, value in given.items():
                _check_type(f"{name}.{key}", value, getattr(sub, key))
            parts[name] = dataclasses.replace(sub, **given)
        return cls(**parts, preset=preset_name)

    @classmethod
    def from_json(cls, text: str) -> RendererConfig:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"renderer config is not valid JSON ({exc})") from None
        return cls.from_dict(data)

    def with_steps(self, steps: int) -> RendererConfig:
        """The same config training for ``steps`` steps."""
        return dataclasses.replace(
            self, training=dataclasses.replace(self.training, steps=int(steps))
        )


def _positive(obj: Any, *names: str) -> None:
    section = type(obj).__name__.removesuffix("Config").lower()
    for name in names:
        value = getattr(obj, name)
        if not value > 0:
            raise InputError(f"{section}.{name} must be > 0; got {value}")


def _check_type(name: str, value: Any, default: Any) -> None:
    if default is None:
        if value is not None and not isinstance(value, str):
            raise InputError(f"renderer config {name} must be a string or null")
        return
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(default, float):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    else:
        ok = isinstance(value, type(default))
    if not ok:
        raise InputError(f"renderer config {name} must be {type(default).__name__}; got {value!r}")


def _tiny() -> RendererConfig:
    return RendererConfig(
        generator=GeneratorConfig(width=8, depth=2, res_blocks=1, max_channels=32, num_prev=2),
        discriminator=DiscriminatorConfig(
            width=8, layers=2, image_scales=2, temporal_scales=2, temporal_frames=2, part_crop=16
        ),
        training=TrainingConfig(
            steps=10,
            batch_size=2,
            sequence_length=3,
            crop=32,
            lr_generator=2e-3,
            lr_discriminator=2e-3,
            checkpoint_every=5,
            sample_every=5,
        ),
        preset="tiny",
    )


def _demo() -> RendererConfig:
    return RendererConfig(preset="demo")


def _lite() -> RendererConfig:
    return RendererConfig(
        generator=GeneratorConfig(res_blocks=1, max_channels=64, decoder="conv_resize"),
        preset="lite",
    )


def _production() -> RendererConfig:
    return RendererConfig(
        generator=GeneratorConfig(width=32, depth=4, res_blocks=6, max_channels=256, num_prev=2),
        discriminator=DiscriminatorConfig(
            width=64, layers=3, image_scales=3, temporal_scales=3, temporal_frames=3, part_crop=96
        ),
        training=TrainingConfig(
            steps=200_000, batch_size=4, sequence_length=9, crop=512, loader_workers=4
        ),
        preset="production",
    )


#: Named presets; values are built once at import (plain dataclasses, no I/O).
PRESETS: dict[str, RendererConfig] = {}


def preset(name: str) -> RendererConfig:
    """The named preset (``tiny``, ``demo``, ``lite``, ``production``)."""
    if name not in PRESETS:
        raise InputError(f"unknown renderer preset {name!r}; known: {sorted(PRESETS)}")
    return PRESETS[name]


def load_config(name_or_path: str | Path) -> RendererConfig:
    """A preset by name, or a JSON config file by path."""
    text = str(name_or_path)
    if text in PRESETS:
        return PRESETS[text]
    path = Path(text)
    if not path.is_file():
        raise InputError(
            f"renderer config {text!r} is neither a preset {sorted(PRESETS)} nor a JSON file"
        )
    return RendererConfig.from_json(path.read_text())


PRESETS.update(tiny=_tiny(), demo=_demo(), lite=_lite(), production=_production())
