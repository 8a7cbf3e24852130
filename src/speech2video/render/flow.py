"""Optical-flow warping.

Flow convention used throughout the renderer (backward warping): ``flow (B, 2, H, W)`` holds,
for every output pixel ``p``, the displacement ``(dx, dy)`` to the pixel of the source image it
is read from, in normalized image units of :func:`torch.nn.functional.grid_sample`
(``align_corners=False``): the image spans [-1, 1] along each axis, so ``dx = 2 / W`` is one
pixel. ``warp(src, flow)(p) = src(p + flow(p))`` (bilinear, border padding).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def identity_grid(
    height: int, width: int, device: torch.device | None = None, dtype: torch.dtype | None = None
) -> torch.Tensor:
    """The sampling grid that reproduces the image.

    returns: (1, H, W, 2) — (x, y) pixel centres in [-1, 1] (``align_corners=False``)
    """
    ys = (torch.arange(height, device=device, dtype=dtype) * 2 + 1) / height - 1
    xs = (torch.arange(width, device=device, dtype=dtype) * 2 + 1) / width - 1
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack((gx, gy), dim=-1).unsqueeze(0)


def warp(image: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Backward-warp ``image`` by ``flow``.

    image: (B, C, H, W) float — the source (e.g. the previous frame)
    flow: (B, 2, H, W) float — (dx, dy) in normalized units (module docstring)
    returns: (B, C, H, W) — ``image`` sampled at ``p + flow(p)``
    """
    h, w = image.shape[-2:]
    grid = identity_grid(h, w, image.device, flow.dtype) + flow.permute(0, 2, 3, 1)
    return F.grid_sample(
        image, grid.to(image.dtype), mode="bilinear", padding_mode="border", align_corners=False
    )


def flow_to_pixels(flow: torch.Tensor) -> torch.Tensor:
    """Normalized flow → pixel displacements.

    flow: (B, 2, H, W) normalized; returns: (B, 2, H, W) in pixels
    """
    h, w = flow.shape[-2:]
    scale = torch.tensor([w / 2.0, h / 2.0], device=flow.device, dtype=flow.dtype)
    return flow * scale.view(1, 2, 1, 1)


def pixels_to_flow(pixels: torch.Tensor) -> torch.Tensor:
    """Pixel displacements → normalized flow (inverse of :func:`flow_to_pixels`)."""
    h, w = pixels.shape[-2:]
    scale = torch.tensor([2.0 / w, 2.0 / h], device=pixels.device, dtype=pixels.dtype)
    return pixels * scale.view(1, 2, 1, 1)
