"""The sequential vid2vid-style generator (Wang et al., NeurIPS 2018; paper §3.5).

For frame ``t`` the generator sees the skeleton images ``t-K .. t`` and its own generated frames
``t-K .. t-1`` (stacked on channels, oldest first) and predicts

- a hallucinated image ``h``,
- a backward optical flow that warps the previous generated frame ``t-1`` (render/flow.py),
- an occlusion mask ``m`` in [0, 1],

and outputs ``m · warp(frame_{t-1}, flow) + (1 − m) · h``. A speaker filmed by a fixed camera has
a still background plate (from the recording's training frames, render/framing.py): with
``config.background_*`` set the generator also sees that plate and predicts a foreground alpha
``a``, and the frame is ``a · (the above) + (1 − a) · plate``, so it spends its capacity on the
person instead of re-inventing a background it is given. The plate is a buffer of the module
(saved with the weights, a constant of an exported graph); training passes each crop's plate.
For the first frames of a stream the
previous skeletons and frames do not exist: they are zeros (black), in training as in inference,
so the network learns to hallucinate the whole frame there.

The network is a U-Net: a full-resolution stem, ``depth`` stride-2 convolutions, residual blocks
at the bottleneck, nearest-upsampling decoder with additive skips (each level's 3×3 convolution
after the upsampling, or before it with ``config.decoder = "conv_resize"``), and three 3×3 heads.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from speech2video.errors import InputError
from speech2video.render.flow import warp
from speech2video.render.renderer_config import GeneratorConfig


@dataclass(frozen=True)
class GeneratorOutput:
    """One generated frame and its parts.

    frame: (B, 3, H, W) float32 in [-1, 1] — mask·warped + (1−mask)·hallucinated (composited
        over the plate by ``alpha`` when the generator has one)
    hallucinated: (B, 3, H, W) in [-1, 1]
    warped: (B, 3, H, W) — the previous frame warped by ``flow``
    flow: (B, 2, H, W) — normalized backward flow (render/flow.py)
    mask: (B, 1, H, W) in [0, 1] — weight of the warped frame
    alpha: (B, 1, H, W) in [0, 1] — weight of the generated frame over the plate (ones without)
    """

    frame: torch.Tensor
    hallucinated: torch.Tensor
    warped: torch.Tensor
    flow: torch.Tensor
    mask: torch.Tensor
    alpha: torch.Tensor | None = None


def _conv(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=1)


class _Down(nn.Sequential):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__(_conv(cin, cout, 2), nn.InstanceNorm2d(cout, affine=True), nn.ReLU(True))


class _Up(nn.Module):
    """One decoder level: (B, cin, h, w) and a skip (B, cout, 2h, 2w) → (B, cout, 2h, 2w).

    ``conv_first``: convolve at (h, w), then upsample (``conv_resize``, 4× cheaper); otherwise
    upsample, then convolve at (2h, 2w) (``resize_conv``).
    """

    def __init__(self, cin: int, cout: int, conv_first: bool = False) -> None:
        super().__init__()
        self.conv_first = conv_first
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        self.conv = _conv(cin, cout)
        self.norm = nn.InstanceNorm2d(cout, affine=True)
        self.act = nn.ReLU(True)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        if self.conv_first:
            return self.act(self.up(self.norm(self.conv(x))) + skip)
        return self.act(self.norm(self.conv(self.up(x))) + skip)


class _ResBlock(nn.Module):
    def __init__(self, ch: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            _conv(ch, ch),
            nn.InstanceNorm2d(ch, affine=True),
            nn.ReLU(True),
            _conv(ch, ch),
            nn.InstanceNorm2d(ch, affine=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class Vid2VidGenerator(nn.Module):
    """Skeleton images + previous generated frames → the next frame (module docstring)."""

    def __init__(self, config: GeneratorConfig) -> None:
        super().__init__()
        config.validate()
        self.config = config
        k = config.num_prev
        channels = [min(config.width * 2**i, config.max_channels) for i in range(config.depth + 1)]
        plate = 3 if config.has_background else 0
        self.stem = nn.Sequential(_conv(3 * (k + 1) + 3 * k + plate, channels[0]), nn.ReLU(True))
        self.downs = nn.ModuleList(_Down(channels[i], channels[i + 1]) for i in range(config.depth))
        self.blocks = nn.Sequential(*(_ResBlock(channels[-1]) for _ in range(config.res_blocks)))
        conv_first = config.decoder == "conv_resize"
        self.ups = nn.ModuleList(
            _Up(channels[i + 1], channels[i], conv_first) for i in reversed(range(config.depth))
        )
        self.image_head = _conv(channels[0], 3)
        self.flow_head = _conv(channels[0], 2)
        self.mask_head = _conv(channels[0], 1)
        nn.init.zeros_(self.flow_head.weight)
        nn.init.zeros_(self.flow_head.bias)
        self.alpha_head: nn.Conv2d | None = None
        if config.has_background:
            self.alpha_head = _conv(channels[0], 1)
            nn.init.constant_(self.alpha_head.bias, -1.0)  # starts mostly plate
            size = (1, 3, config.background_height, config.background_width)
            self.register_buffer("background", torch.zeros(size))

    def set_background(self, plate: torch.Tensor) -> None:
        """Set the still background plate: (3, H, W) or (1, 3, H, W) in [-1, 1], the size the
        config names."""
        if self.alpha_head is None:
            raise InputError("this generator has no background plate (config.background_* 0)")
        plate = plate.reshape(1, *plate.shape[-3:]).to(self.background)
        if plate.shape != self.background.shape:
            raise InputError(
                f"background plate must be {tuple(self.background.shape[1:])}; "
                f"got {tuple(plate.shape[1:])}"
            )
        self.background.copy_(plate)

    @property
    def num_prev(self) -> int:
        """K, the previous frames the generator sees."""
        return self.config.num_prev

    @property
    def multiple(self) -> int:
        """Frame height and width must be multiples of this."""
        return 2**self.config.depth

    def forward(
        self,
        skeletons: torch.Tensor,
        prev_frames: torch.Tensor,
        background: torch.Tensor | None = None,
    ) -> GeneratorOutput:
        """Generate one frame.

        skeletons: (B, K+1, 3, H, W) float32 in [-1, 1] — skeleton images t-K .. t (zeros
            before the stream start)
        prev_frames: (B, K, 3, H, W) float32 in [-1, 1] — generated frames t-K .. t-1 (zeros
            before the stream start)
        background: (B, 3, H, W) in [-1, 1] — the plate under these frames (a training crop's);
            None: the module's own plate (resized when the frames are another size). Ignored
            by a generator without a plate.
        """
        k = self.config.num_prev
        if skeletons.ndim != 5 or skeletons.shape[1:3] != (k + 1, 3):
            raise InputError(
                f"skeletons must have shape (B, {k + 1}, 3, H, W); got {tuple(skeletons.shape)}"
            )
        b, _, _, h, w = skeletons.shape
        if prev_frames.shape != (b, k, 3, h, w):
            raise InputError(
                f"prev_frames must have shape {(b, k, 3, h, w)}; got {tuple(prev_frames.shape)}"
            )
        if h % self.multiple or w % self.multiple:
            raise InputError(f"frame height and width must be multiples of {self.multiple}")
        inputs = [skeletons.flatten(1, 2), prev_frames.flatten(1, 2)]
        plate = None
        if self.alpha_head is not None:
            plate = self._plate(background, b, h, w).to(skeletons)
            inputs.append(plate)
        x = self.stem(torch.cat(inputs, dim=1))
        skips = [x]
        for down in self.downs:
            x = down(x)
            skips.append(x)
        x = self.blocks(x)
        for up, skip in zip(self.ups, reversed(skips[:-1]), strict=True):
            x = up(x, skip)
        hallucinated = torch.tanh(self.image_head(x))
        flow = self.flow_head(x)
        mask = torch.sigmoid(self.mask_head(x))
        prev = prev_frames[:, -1]
        warped = warp(prev, flow)
        frame = mask * warped + (1 - mask) * hallucinated
        alpha = None
        if self.alpha_head is not None and plate is not None:
            alpha = torch.sigmoid(self.alpha_head(x))
            frame = alpha * frame + (1 - alpha) * plate
        return GeneratorOutput(frame, hallucinated, warped, flow, mask, alpha)

    def _plate(self, background: torch.Tensor | None, b: int, h: int, w: int) -> torch.Tensor:
        """(B, 3, H, W): the given plate, or the module's at the frames' size."""
        if background is not None:
            if background.shape != (b, 3, h, w):
                raise InputError(
                    f"background must have shape {(b, 3, h, w)}; got {tuple(background.shape)}"
                )
            return background
        plate = self.background
        ph, pw = plate.shape[-2:]
        if (ph, pw) != (h, w):
            if 0 <= h - ph < self.multiple and 0 <= w - pw < self.multiple:
                # frames padded up to a multiple (render_images): pad the plate alike, in black
                plate = nn.functional.pad(plate, (0, w - pw, 0, h - ph), value=-1.0)
            else:
                plate = nn.functional.interpolate(
                    plate, size=(h, w), mode="bilinear", align_corners=False
                )
        return plate.expand(b, -1, -1, -1)
