"""Reference PSNRs from real frames alone: the nearest candidate, lagged frames, the plate."""

from __future__ import annotations

import numpy as np
import pytest

from speech2video.errors import InputError
from speech2video.evaluation.render_metrics import psnr
from speech2video.evaluation.render_references import lagged_psnr, nearest_frame_psnr, plate_psnr


def _frames(n: int, seed: int = 0) -> list[np.ndarray]:
    """A slowly brightening scene: frame i is a fixed texture plus 2·i grey levels."""
    texture = np.random.default_rng(seed).integers(0, 200, (16, 16, 3))
    return [np.clip(texture + 2 * i, 0, 255).astype(np.uint8) for i in range(n)]


def test_the_nearest_candidate_is_the_best_one_per_frame() -> None:
    frames = _frames(10)
    held, pool = frames[6:8], frames[:5]
    # each held-out frame's best candidate is the last pool frame (the least brightened)
    expected = np.mean([psnr(h, frames[4]) for h in held])
    assert nearest_frame_psnr(held, iter(pool)) == pytest.approx(expected)
    assert nearest_frame_psnr(held, iter([*pool, frames[6]])) > expected  # an exact match wins
    small = [f[:8] for f in pool]
    with pytest.raises(InputError, match="no candidate frame of the held-out frames' size"):
        nearest_frame_psnr(held, iter(small))


def test_lagged_frames_score_lower_as_the_lag_grows() -> None:
    frames = _frames(12)
    one, four = lagged_psnr(frames, 1), lagged_psnr(frames, 4)
    assert one == pytest.approx(psnr(frames[1], frames[0]))  # a constant 2-level step
    assert four < one
    with pytest.raises(InputError, match="need more than 4 frames"):
        lagged_psnr(frames[:4], 4)
    with pytest.raises(InputError, match="at least one frame"):
        lagged_psnr(frames, 0)


def test_the_plate_must_match_the_frames() -> None:
    frames = _frames(3)
    assert plate_psnr(frames, frames[0]) == pytest.approx(
        np.mean([psnr(f, frames[0]) for f in frames])
    )
    with pytest.raises(InputError, match="plate is"):
        plate_psnr(frames, frames[0][:8])
