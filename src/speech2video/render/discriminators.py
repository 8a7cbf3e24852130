"""Discriminators of the renderer: multi-scale patch (image), temporal, and part (face, hands).

Every discriminator returns, per scale, the list of its layer outputs: the intermediate features
(for the feature-matching loss) followed by the patch logits ``(N, 1, h, w)`` as the last item.

- :class:`MultiScaleDiscriminator`: PatchGAN on ``cat(skeleton, frame)`` at 1, ½, ¼ … resolution.
- :class:`TemporalDiscriminator`: PatchGAN on ``temporal_frames`` frames stacked on channels, one
  network per temporal scale; scale ``s`` takes every ``2**s``-th frame, ending at the last frame.
- :class:`PartDiscriminator`: PatchGAN on fixed-size ``cat(skeleton crop, frame crop)`` of the
  face or a hand (paper §3.5): one for the face, one shared by both hands.
- :class:`RendererDiscriminators`: the set of them, built from a config.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from speech2video.errors import InputError
from speech2video.render.renderer_config import DiscriminatorConfig

Features = list[torch.Tensor]


class PatchDiscriminator(nn.Module):
    """A PatchGAN: ``layers`` stride-2 4×4 convolutions, one stride-1, then a 1-channel head."""

    def __init__(self, in_channels: int, width: int, layers: int) -> None:
        super().__init__()
        blocks: list[nn.Module] = [
            nn.Sequential(nn.Conv2d(in_channels, width, 4, 2, 1), nn.LeakyReLU(0.2, True))
        ]
        ch = width
        for i in range(1, layers + 1):
            out = min(width * 2**i, width * 8)
            stride = 2 if i < layers else 1
            blocks.append(
                nn.Sequential(
                    nn.Conv2d(ch, out, 4, stride, 1),
                    nn.InstanceNorm2d(out, affine=True),
                    nn.LeakyReLU(0.2, True),
                )
            )
            ch = out
        blocks.append(nn.Conv2d(ch, 1, 3, 1, 1))
        self.blocks = nn.ModuleList(blocks)

    def forward(self, x: torch.Tensor) -> Features:
        """x: (N, C, H, W) → [features ..., logits (N, 1, h, w)]"""
        feats = []
        for block in self.blocks:
            x = block(x)
            feats.append(x)
        return feats


class MultiScaleDiscriminator(nn.Module):
    """Patch discriminators on the skeleton-conditioned frame at several resolutions."""

    def __init__(self, width: int, layers: int, scales: int) -> None:
        super().__init__()
        self.nets = nn.ModuleList(PatchDiscriminator(6, width, layers) for _ in range(scales))

    def forward(self, skeleton: torch.Tensor, frame: torch.Tensor) -> list[Features]:
        """skeleton, frame: (N, 3, H, W) in [-1, 1] → per scale [features ..., logits]"""
        x = torch.cat((skeleton, frame), dim=1)
        out = []
        for i, net in enumerate(self.nets):
            if i:
                x = F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False)
            out.append(net(x))
        return out


class TemporalDiscriminator(nn.Module):
    """Patch discriminators on short clips at temporal strides 1, 2, 4, ..."""

    def __init__(self, width: int, layers: int, scales: int, frames: int) -> None:
        super().__init__()
        self.frames = frames
        self.nets = nn.ModuleList(
            PatchDiscriminator(3 * frames, width, layers) for _ in range(scales)
        )

    @property
    def span(self) -> int:
        """Frames a clip must have for the coarsest scale."""
        return (self.frames - 1) * 2 ** (len(self.nets) - 1) + 1

    def forward(self, clip: torch.Tensor) -> list[Features]:
        """clip: (B, T, 3, H, W) in [-1, 1], T ≥ :attr:`span` → per scale [features ..., logits]"""
        t = clip.shape[1]
        if clip.ndim != 5 or t < self.span:
            raise InputError(f"temporal clip needs shape (B, T>={self.span}, 3, H, W)")
        out = []
        for s, net in enumerate(self.nets):
            stride = 2**s
            idx = [t - 1 - stride * (self.frames - 1 - j) for j in range(self.frames)]
            x = clip[:, idx].flatten(1, 2)
            if s:
                x = F.avg_pool2d(x, 2**s, stride=2**s)  # coarser in time, coarser in space
            out.append(net(x))
        return out


class PartDiscriminator(nn.Module):
    """A patch discriminator on fixed-size part crops conditioned on the skeleton crop."""

    def __init__(self, width: int, layers: int) -> None:
        super().__init__()
        self.net = PatchDiscriminator(6, width, layers)

    def forward(self, skeleton_crops: torch.Tensor, frame_crops: torch.Tensor) -> list[Features]:
        """skeleton_crops, frame_crops: (N, 3, S, S) → one scale [features ..., logits]"""
        return [self.net(torch.cat((skeleton_crops, frame_crops), dim=1))]


class RendererDiscriminators(nn.Module):
    """The image, temporal, face and hands discriminators of one renderer."""

    def __init__(self, config: DiscriminatorConfig) -> None:
        super().__init__()
        config.validate()
        self.config = config
        part_layers = max(1, min(config.layers, _log2(config.part_crop) - 3))
        self.image = MultiScaleDiscriminator(config.width, config.layers, config.image_scales)
        self.temporal = TemporalDiscriminator(
            config.width, config.layers, config.temporal_scales, config.temporal_frames
        )
        self.face = PartDiscriminator(config.width, part_layers)
        self.hands = PartDiscriminator(config.width, part_layers)


def _log2(n: int) -> int:
    return max(int(n).bit_length() - 1, 0)
