"""What a held-out PSNR can be: reference figures from the real frames alone.

A renderer driven by poses knows nothing a pose does not carry: not the camera's refocusing, the
studio light or the screen behind the speaker. How far those move the pixels is measured on the
real frames, with no model, so a renderer's PSNR can be read against it:

- ``psnr_ref_plate``: the still background plate alone (a renderer that draws no person);
- ``psnr_ref_nearest_training``: for each held-out frame, the training frame nearest to it in
  pixels (an oracle retrieval: the speaker's own real frame, chosen knowing the answer);
- ``psnr_ref_real_lag``: the real frame ``lag_s`` earlier in the same recording (how much the
  real video changes in that time: a renderer with a perfect person but a scene that lags by
  ``lag_s`` scores about this).

All three are means over frames, in dB, with the same PSNR as the renderer's.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from speech2video.errors import InputError
from speech2video.evaluation.render_metrics import psnr


def nearest_frame_psnr(held_out: Sequence[np.ndarray], candidates: Iterable[np.ndarray]) -> float:
    """Mean over held-out frames of the best PSNR any candidate frame reaches against it.

    held_out: (H, W, 3) uint8 frames; candidates: (H, W, 3) uint8 frames, streamed (never all
    in memory). Frames of another size than the held-out ones are skipped.
    """
    if not held_out:
        raise InputError("no held-out frames")
    shape = held_out[0].shape
    best = np.full(len(held_out), -np.inf)
    for frame in candidates:
        if frame.shape != shape:
            continue
        best = np.maximum(best, [psnr(h, frame) for h in held_out])
    if not np.isfinite(best).all():
        raise InputError(f"no candidate frame of the held-out frames' size {shape}")
    return float(best.mean())


def lagged_psnr(frames: Sequence[np.ndarray], lag: int) -> float:
    """Mean PSNR of each real frame against the one ``lag`` frames before it.

    frames: (H, W, 3) uint8, consecutive frames of one recording (more than ``lag``)
    """
    if lag < 1:
        raise InputError(f"lag must be at least one frame; got {lag}")
    if len(frames) <= lag:
        raise InputError(f"need more than {lag} frames for a lag of {lag}; got {len(frames)}")
    return float(np.mean([psnr(frames[i], frames[i - lag]) for i in range(lag, len(frames))]))


def plate_psnr(held_out: Sequence[np.ndarray], plate: np.ndarray) -> float:
    """Mean PSNR of the plate alone against each held-out frame (all (H, W, 3) uint8)."""
    if not held_out:
        raise InputError("no held-out frames")
    if plate.shape != held_out[0].shape:
        raise InputError(f"plate is {plate.shape}; the frames are {held_out[0].shape}")
    return float(np.mean([psnr(h, plate) for h in held_out]))
