"""The LSTM training loss (paper §3.4): weighted L2 on pose parameters plus a difference term.

With column weights ``w`` (``pose_layout.column_weights``: body 1, hands 4, mouth 100, face 100)
over the valid frames ``F`` and valid consecutive pairs ``P`` (both frames valid)::

    group_g    = (1/|F|) Σ_{t∈F} Σ_{c∈g} w_c (p[t,c] - y[t,c])²
    smoothness = λ (1/|P|) Σ_{t∈P} Σ_c w_c ((p[t+1,c] - p[t,c]) - (y[t+1,c] - y[t,c]))²
    total      = Σ_g group_g + smoothness

The difference term (the paper's "difference loss between 2 consecutive poses") compares the
predicted frame-to-frame change with the recorded one, with the same column weights: it
penalises jitter the recording does not have without pulling real motion towards stillness.

With a ``scale`` (106,) (``training.group_scales``: each part's spread in the training targets)
every column's weight becomes ``w_c / scale_c²``: the error is measured in units of the part's
own spread, so the weights compare parts that moved as much as they usually move. Without it
(the paper) errors are in raw SMPL-X units, where on real mocap the jaw moves ~0.01 rad against
the body's ~0.1 rad and the mouth weight of 100 barely lifts the jaw's share of the loss.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from speech2video.body.pose_layout import DEFAULT_LOSS_WEIGHTS, LOSS_GROUPS, column_weights
from speech2video.errors import InputError

#: Default weight λ of the difference term.
DEFAULT_SMOOTHNESS = 1.0


@dataclass(frozen=True)
class PoseLossTerms:
    """total: () — what is minimised; groups: () per loss group; smoothness: () difference term."""

    total: torch.Tensor
    groups: dict[str, torch.Tensor]
    smoothness: torch.Tensor

    def as_floats(self, prefix: str = "") -> dict[str, float]:
        """Plain numbers for logging: ``{prefix}loss``, ``{prefix}loss_<group>``, ..."""
        out = {f"{prefix}loss": float(self.total.detach())}
        for name, value in self.groups.items():
            out[f"{prefix}loss_{name}"] = float(value.detach())
        out[f"{prefix}loss_smoothness"] = float(self.smoothness.detach())
        return out


class PoseLoss(nn.Module):
    """Weighted per-column L2 plus a weighted frame-difference term (formula: module doc)."""

    def __init__(
        self,
        weights: dict[str, float] | None = None,
        smoothness: float = DEFAULT_SMOOTHNESS,
        scale: np.ndarray | None = None,
    ) -> None:
        super().__init__()
        merged = dict(DEFAULT_LOSS_WEIGHTS)
        merged.update(weights or {})
        for name, value in merged.items():
            if not isinstance(value, int | float) or value < 0:
                raise InputError(f"loss weight {name!r} must be a number >= 0; got {value!r}")
        if not isinstance(smoothness, int | float) or smoothness < 0:
            raise InputError(f"smoothness must be a number >= 0; got {smoothness!r}")
        self.weights = merged
        self.smoothness = float(smoothness)
        cw = column_weights(merged)
        if scale is not None:
            scale = np.asarray(scale, np.float32).reshape(-1)
            if scale.shape != cw.shape or not np.all(np.isfinite(scale)) or np.any(scale <= 0):
                raise InputError(f"loss scale must be {cw.shape} finite values > 0")
            cw = (cw / np.square(scale)).astype(np.float32)
        self.register_buffer("column_weights", torch.from_numpy(cw))
        masks = torch.zeros(len(LOSS_GROUPS), self.column_weights.shape[0])
        for k, slices in enumerate(LOSS_GROUPS.values()):
            for s in slices:
                masks[k, s] = 1.0
        self.register_buffer("group_masks", masks)

    def forward(
        self, pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None
    ) -> PoseLossTerms:
        """pred, target: (B, T, 106) or (T, 106); mask: (B, T) or (T,) bool, True = frame counts."""
        if pred.shape != target.shape or pred.shape[-1] != self.column_weights.shape[0]:
            raise InputError(
                f"pred and target must both be (..., T, {self.column_weights.shape[0]}); "
                f"got {tuple(pred.shape)} and {tuple(target.shape)}"
            )
        if pred.dim() == 2:
            pred, target = pred[None], target[None]
            mask = None if mask is None else mask[None]
        if mask is None:
            valid = torch.ones(pred.shape[:2], dtype=pred.dtype, device=pred.device)
        else:
            if mask.shape != pred.shape[:2]:
                raise InputError(f"mask must be {tuple(pred.shape[:2])}; got {tuple(mask.shape)}")
            valid = mask.to(pred.dtype)
        err = torch.square(pred - target) * self.column_weights
        per_column = (err * valid[..., None]).sum(dim=(0, 1)) / valid.sum().clamp_min(1.0)
        group_values = self.group_masks @ per_column
        groups = {name: group_values[k] for k, name in enumerate(LOSS_GROUPS)}

        pair = valid[:, 1:] * valid[:, :-1]
        dp = pred[:, 1:] - pred[:, :-1]
        dt = target[:, 1:] - target[:, :-1]
        diff = (torch.square(dp - dt) * self.column_weights).sum(-1)
        smooth = self.smoothness * (diff * pair).sum() / pair.sum().clamp_min(1.0)
        return PoseLossTerms(group_values.sum() + smooth, groups, smooth)
