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
    rgb = _levels(skeleton)
    return torch.stack([color_mask(rgb, color) for color in _PART_COLORS], dim=1)


def _levels(skeleton: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) uint8 0..255 or float [-1, 1] → float32 0..255."""
    if skeleton.dtype == torch.uint8:
        return skeleton.to(torch.float32)
    return (skeleton.to(torch.float32) + 1.0) * 127.5


def color_mask(rgb: torch.Tensor, color: tuple[int, int, int]) -> torch.Tensor:
    """(B, 3, H, W) float32 0..255 → (B, H, W) bool: within :data:`PART_COLOR_TOLERANCE` of
    ``color`` in every channel (channel by channel: no (B, 3, H, W) temporary)."""
    limit = PART_COLOR_TOLERANCE + 0.5
    mask = (rgb[:, 0] - color[0]).abs_() <= limit
    for channel in (1, 2):
        mask &= (rgb[:, channel] - color[channel]).abs_() <= limit
    return mask


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


def mouth_weight(
    face_skeletons: torch.Tensor, grow: float = 0.4, feather: float = 0.5
) -> torch.Tensor:
    """Where the mouth is in face crops of skeleton images, as a soft (0..1) ellipse.

    face_skeletons: (M, 3, S, S) skeleton crops in [-1, 1] (the painter draws the outer lips in
        ``skeleton_painter.LIPS``)
    grow: the ellipse's half-axes are the lips' half-extents grown by this share (the chin and
        the skin around the lips move with the mouth); its height is at least half its width
    feather: the weight falls from 1 to 0 between radius 1 and 1 + feather
    returns: (M, 1, S, S) float32 in [0, 1]; zeros for a crop with no lip pixels
    """
    from speech2video.render.skeleton_painter import LIPS

    if face_skeletons.ndim != 4 or face_skeletons.shape[1] != 3:
        raise InputError(f"face crops must be (M, 3, S, S); got {tuple(face_skeletons.shape)}")
    _, _, h, w = face_skeletons.shape
    lips = color_mask(_levels(face_skeletons), LIPS)
    ys = (torch.arange(h, device=lips.device, dtype=torch.float32) + 0.5)[None, :, None]
    xs = (torch.arange(w, device=lips.device, dtype=torch.float32) + 0.5)[None, None, :]
    inf = torch.tensor(float("inf"), device=lips.device)
    x0 = torch.where(lips, xs, inf).amin(dim=(1, 2))
    x1 = torch.where(lips, xs, -inf).amax(dim=(1, 2))
    y0 = torch.where(lips, ys, inf).amin(dim=(1, 2))
    y1 = torch.where(lips, ys, -inf).amax(dim=(1, 2))
    found = lips.flatten(1).any(dim=1)
    half_w = ((x1 - x0) / 2 + 0.5).where(found, torch.ones_like(x0)) * (1 + grow)
    half_h = torch.maximum(
        ((y1 - y0) / 2 + 0.5).where(found, torch.ones_like(y0)) * (1 + grow), half_w / 2
    )
    cx, cy = (
        ((x0 + x1) / 2).where(found, torch.zeros_like(x0)),
        ((y0 + y1) / 2).where(found, torch.zeros_like(y0)),
    )
    r = (
        ((xs - cx[:, None, None]) / half_w[:, None, None]) ** 2
        + ((ys - cy[:, None, None]) / half_h[:, None, None]) ** 2
    ).sqrt()
    weight = ((1.0 + feather - r) / feather).clamp(0.0, 1.0) * found[:, None, None]
    return weight[:, None]
