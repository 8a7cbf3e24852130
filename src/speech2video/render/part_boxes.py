"""Locating the face and the hands in skeleton images by their palette colors, and cropping them.

The skeleton painter draws the face in white and a filled circle of a unique color on each hand
(render/palette.py; paper §3.5, Fig. 7). Here, batched and in torch (it runs on the training
device): each part's pixels are those within :data:`PART_COLOR_TOLERANCE` of its color; its box
is a square centred on their mean position whose side is ``scale`` times the part's size (two
standard deviations of the pixel positions along the wider axis: the diameter for a disc). Parts
with fewer than ``min_pixels`` pixels are invalid, and masked out of the part losses.

Crops are fixed-size and bilinear (``grid_sample``, RoI-align style), so part crops batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from speech2video.errors import InputError
from speech2video.render.palette import (
    FACE,
    LEFT_HAND_CIRCLE,
    PART_COLOR_TOLERANCE,
    RIGHT_HAND_CIRCLE,
)

#: Part order along the parts axis of :class:`PartBoxes`.
PART_NAMES: tuple[str, ...] = ("face", "left_hand", "right_hand")
_PART_COLORS = (FACE, LEFT_HAND_CIRCLE, RIGHT_HAND_CIRCLE)


@dataclass(frozen=True)
class PartBoxes:
    """Square part boxes of a batch of skeleton images.

    boxes: (B, 3, 4) float32 — (x0, y0, x1, y1) in pixels (pixel ``i`` spans [i, i+1)), parts in
        :data:`PART_NAMES` order; zeros where the part is missing
    valid: (B, 3) bool — the part was found
    """

    boxes: torch.Tensor
    valid: torch.Tensor


def part_masks(skeleton: torch.Tensor) -> torch.Tensor:
    """Per-part pixel masks.

    skeleton: (B, 3, H, W) — RGB, float32 in [-1, 1] (the generator's input convention) or
        uint8 in 0..255
    returns: (B, 3, H, W) bool — parts in :data:`PART_NAMES` order
    """
    if skeleton.ndim != 4 or skeleton.shape[1] != 3:
        raise InputError(f"skeleton must have shape (B, 3, H, W); got {tuple(skeleton.shape)}")
    if skeleton.dtype == torch.uint8:
        rgb = skeleton.to(torch.float32)
    else:
        rgb = (skeleton.to(torch.float32) + 1.0) * 127.5
    limit = PART_COLOR_TOLERANCE + 0.5
    masks = []
    for color in _PART_COLORS:  # channel by channel: no (B, P, 3, H, W) temporary
        mask = (rgb[:, 0] - color[0]).abs_() <= limit
        for channel in (1, 2):
            mask &= (rgb[:, channel] - color[channel]).abs_() <= limit
        masks.append(mask)
    return torch.stack(masks, dim=1)


def part_boxes(
    skeleton: torch.Tensor,
    face_scale: float = 1.6,
    hand_scale: float = 2.5,
    min_pixels: int = 4,
    min_side: float = 8.0,
) -> PartBoxes:
    """Face, left-hand and right-hand boxes from the painted part colors.

    skeleton: (B, 3, H, W) — see :func:`part_masks`
    face_scale, hand_scale: box side as a multiple of the part's size
    min_pixels: fewer part pixels than this → the part is invalid
    min_side: smallest box side in pixels
    """
    masks = part_masks(skeleton).to(torch.float32)  # (B, P, H, W)
    h, w = masks.shape[-2:]
    ys = torch.arange(h, device=masks.device, dtype=torch.float32) + 0.5
    xs = torch.arange(w, device=masks.device, dtype=torch.float32) + 0.5
    count = masks.sum(dim=(2, 3))  # (B, P)
    denom = count.clamp(min=1.0)
    row_mass = masks.sum(dim=3)  # (B, P, H)
    col_mass = masks.sum(dim=2)  # (B, P, W)
    cy = (row_mass * ys).sum(-1) / denom
    cx = (col_mass * xs).sum(-1) / denom
    vy = (row_mass * (ys - cy.unsqueeze(-1)) ** 2).sum(-1) / denom
    vx = (col_mass * (xs - cx.unsqueeze(-1)) ** 2).sum(-1) / denom
    size = 4.0 * torch.maximum(vx, vy).clamp(min=0).sqrt()  # diameter of a disc = 4 std
    scale = torch.tensor([face_scale, hand_scale, hand_scale], device=masks.device)
    half = (size * scale).clamp(min=min_side) / 2
    boxes = torch.stack((cx - half, cy - half, cx + half, cy + half), dim=-1)
    valid = count >= min_pixels
    boxes = torch.where(valid.unsqueeze(-1), boxes, torch.zeros_like(boxes))
    return PartBoxes(boxes=boxes, valid=valid)


def crop_boxes(images: torch.Tensor, boxes: torch.Tensor, size: int) -> torch.Tensor:
    """Fixed-size bilinear crops of ``images`` (RoI-align style; outside the image: zeros).

    images: (B, C, H, W) float
    boxes: (B, P, 4) — (x0, y0, x1, y1) pixels, as in :class:`PartBoxes`
    returns: (B, P, C, size, size)
    """
    b, c, h, w = images.shape
    p = boxes.shape[1]
    steps = (torch.arange(size, device=images.device, dtype=torch.float32) + 0.5) / size
    x0, y0, x1, y1 = boxes.to(torch.float32).unbind(-1)  # (B, P)
    px = x0.unsqueeze(-1) + (x1 - x0).unsqueeze(-1) * steps  # (B, P, S) pixel coords
    py = y0.unsqueeze(-1) + (y1 - y0).unsqueeze(-1) * steps
    gx = px * (2.0 / w) - 1.0
    gy = py * (2.0 / h) - 1.0
    grid = torch.stack(
        (
            gx.unsqueeze(-2).expand(b, p, size, size),
            gy.unsqueeze(-1).expand(b, p, size, size),
        ),
        dim=-1,
    ).reshape(b * p, size, size, 2)
    src = images.unsqueeze(1).expand(b, p, c, h, w).reshape(b * p, c, h, w)
    crops = F.grid_sample(
        src, grid.to(images.dtype), mode="bilinear", padding_mode="zeros", align_corners=False
    )
    return crops.reshape(b, p, c, size, size)
