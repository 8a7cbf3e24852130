"""PSNR, SSIM and crop errors on constructed images."""

from __future__ import annotations

import numpy as np
import pytest

from speech2video.evaluation import render_metrics as rm
from speech2video.render import palette


def test_psnr_known_noise() -> None:
    rng = np.random.default_rng(0)
    img = rng.integers(20, 230, (32, 48, 3)).astype(np.uint8)
    assert rm.psnr(img, img) == rm.MAX_PSNR
    shifted = img.astype(np.int16) + 10  # MSE = 100
    assert rm.psnr(img, shifted) == pytest.approx(10 * np.log10(255**2 / 100))
    signs = rng.choice([-5, 5], img.shape)  # MSE = 25
    assert rm.psnr(img, img.astype(np.int16) + signs) == pytest.approx(10 * np.log10(255**2 / 25))


def _brute_ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Direct sum over every wholly-inside 11 x 11 Gaussian window (one channel)."""
    r = 5
    g = np.exp(-(np.arange(-r, r + 1) ** 2) / (2 * 1.5**2))
    w = np.outer(g, g)
    w /= w.sum()
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    vals = []
    for y in range(r, a.shape[0] - r):
        for x in range(r, a.shape[1] - r):
            pa = a[y - r : y + r + 1, x - r : x + r + 1]
            pb = b[y - r : y + r + 1, x - r : x + r + 1]
            ma, mb = (w * pa).sum(), (w * pb).sum()
            va, vb = (w * pa * pa).sum() - ma**2, (w * pb * pb).sum() - mb**2
            cov = (w * pa * pb).sum() - ma * mb
            vals.append(
                ((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma**2 + mb**2 + c1) * (va + vb + c2))
            )
    return float(np.mean(vals))


def test_ssim_identity_noise_and_reference() -> None:
    rng = np.random.default_rng(1)
    img = rng.integers(0, 256, (24, 28, 3)).astype(np.float64)
    assert rm.ssim(img, img) == pytest.approx(1.0)
    noisy = np.clip(img + rng.normal(0, 30, img.shape), 0, 255)
    value = rm.ssim(img, noisy)
    assert 0.0 < value < 0.95
    ref = np.mean([_brute_ssim(img[..., c], noisy[..., c]) for c in range(3)])
    assert value == pytest.approx(ref, abs=1e-9)
    assert rm.ssim(img, np.clip(img + rng.normal(0, 60, img.shape), 0, 255)) < value
    with pytest.raises(ValueError, match="at least 11"):
        rm.ssim(img[:8], img[:8])


def _skeleton(h: int = 96, w: int = 128) -> np.ndarray:
    sk = np.zeros((h, w, 3), np.uint8)
    sk[20:36, 56:72] = palette.FACE
    yy, xx = np.mgrid[:h, :w]
    sk[(yy - 60) ** 2 + (xx - 30) ** 2 <= 36] = palette.LEFT_HAND_CIRCLE
    sk[(yy - 60) ** 2 + (xx - 98) ** 2 <= 36] = palette.RIGHT_HAND_CIRCLE
    return sk


def test_crop_errors_separate_face_and_hands() -> None:
    rng = np.random.default_rng(2)
    real = rng.integers(0, 200, (2, 96, 128, 3)).astype(np.uint8)
    gen = real.copy()
    gen[:, :44] += 20  # the top rows: the face box only
    sk = np.stack([_skeleton(), _skeleton()])
    errors, crops_real, crops_gen = rm.crop_errors(real, gen, sk, size=16)
    assert errors["face"] == pytest.approx([20.0, 20.0], abs=1e-3)
    assert len(errors["hands"]) == 4 and max(errors["hands"]) == pytest.approx(0.0, abs=1e-3)
    assert crops_real.shape == (2, 3, 16, 16, 3) and crops_gen.dtype == np.uint8
    scores = rm.score_frames(list(real), list(gen), list(sk), crop_size=16, num_samples=2)
    m = scores.metrics()
    assert m["face_crop_l1"] == pytest.approx(20.0, abs=1e-3)
    assert m["hands_crop_l1"] == pytest.approx(0.0, abs=1e-3)
    assert m["psnr"] == pytest.approx(10 * np.log10(255**2 / (400 * 44 / 96)))
    assert 0 < m["ssim"] < 1 and scores.samples.shape == (2, 2, 3, 16, 16, 3)
    assert rm.score_frames(list(real), list(real), list(sk)).ssim == pytest.approx(1.0)
