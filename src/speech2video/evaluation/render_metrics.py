"""Renderer metrics: PSNR, SSIM (Gaussian window) and face/hand crop errors on held-out frames.

- **PSNR**: ``10 log10(255^2 / MSE)`` per frame over all pixels and channels, averaged over
  frames; identical frames score :data:`MAX_PSNR`.
- **SSIM** (Wang et al. 2004): local statistics under an 11 x 11 Gaussian window (sigma 1.5,
  truncated at 3.5 sigma), ``C1 = (0.01 L)^2``, ``C2 = (0.03 L)^2`` with ``L = 255``, per channel,
  averaged over the window positions that lie wholly inside the image, over channels and frames.
- **Crop errors**: the face and both hand boxes are located in the *skeleton* images by their
  palette colors (``render.part_boxes``); the real and generated frames are cropped there
  (``size x size``, bilinear) and compared by mean absolute error in 0..255 units. Hands report
  the mean of both hands; parts not found in a frame are left out.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from scipy.ndimage import gaussian_filter

from speech2video.errors import InputError

MAX_PSNR = 100.0
DATA_RANGE = 255.0
SSIM_SIGMA = 1.5
SSIM_TRUNCATE = 3.5  # radius 5: the 11 x 11 window
_K1, _K2 = 0.01, 0.03
_CROP_BATCH = 8


def _pair(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a64, b64 = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a64.shape != b64.shape:
        raise InputError(f"images differ in shape: {a64.shape} vs {b64.shape}")
    if a64.ndim == 2:
        a64, b64 = a64[..., None], b64[..., None]
    if a64.ndim != 3:
        raise InputError(f"expected an (H, W) or (H, W, C) image; got {a64.shape}")
    return a64, b64


def psnr(a: np.ndarray, b: np.ndarray, data_range: float = DATA_RANGE) -> float:
    """PSNR in dB of two (H, W[, C]) images with values in 0..data_range."""
    a64, b64 = _pair(a, b)
    mse = float(np.mean((a64 - b64) ** 2))
    if mse <= 0:
        return MAX_PSNR
    return float(min(MAX_PSNR, 10.0 * np.log10(data_range**2 / mse)))


def ssim(a: np.ndarray, b: np.ndarray, data_range: float = DATA_RANGE) -> float:
    """Mean SSIM of two (H, W[, C]) images (both sides at least 11 pixels)."""
    a64, b64 = _pair(a, b)
    radius = int(SSIM_TRUNCATE * SSIM_SIGMA + 0.5)
    h, w = a64.shape[:2]
    if h < 2 * radius + 1 or w < 2 * radius + 1:
        raise InputError(f"SSIM needs images of at least {2 * radius + 1} pixels a side")
    c1, c2 = (_K1 * data_range) ** 2, (_K2 * data_range) ** 2

    def blur(x: np.ndarray) -> np.ndarray:
        return gaussian_filter(x, SSIM_SIGMA, truncate=SSIM_TRUNCATE, mode="reflect")

    values = []
    for ch in range(a64.shape[2]):
        x, y = a64[..., ch], b64[..., ch]
        mx, my = blur(x), blur(y)
        vx = blur(x * x) - mx * mx
        vy = blur(y * y) - my * my
        cov = blur(x * y) - mx * my
        s = ((2 * mx * my + c1) * (2 * cov + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2))
        values.append(s[radius : h - radius, radius : w - radius].mean())
    return float(np.mean(values))


def crop_errors(
    real: np.ndarray, generated: np.ndarray, skeletons: np.ndarray, size: int = 64
) -> tuple[dict[str, list[float]], np.ndarray, np.ndarray]:
    """Per-part crop MAE of a batch.

    real, generated, skeletons: (B, H, W, 3) uint8 RGB
    returns: {"face": [...], "hands": [...]} errors of the parts found (0..255 units), and the
    crops of the real and generated frames, each (B, 3, size, size, 3) uint8 (face, left hand,
    right hand; zeros for parts not found)
    """
    from speech2video.render.part_boxes import PART_NAMES, crop_boxes, part_boxes

    if not (real.shape == generated.shape == skeletons.shape) or real.ndim != 4:
        raise InputError(
            "real, generated and skeleton frames must share one (B, H, W, 3) shape; got "
            f"{real.shape}, {generated.shape}, {skeletons.shape}"
        )
    sk = torch.from_numpy(np.ascontiguousarray(skeletons)).permute(0, 3, 1, 2)
    boxes = part_boxes(sk)

    def crops(images: np.ndarray) -> torch.Tensor:
        t = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float()
        return crop_boxes(t, boxes.boxes, size)  # (B, P, 3, S, S)

    cr, cg = crops(real), crops(generated)
    mae = (cr - cg).abs().mean(dim=(2, 3, 4))  # (B, P)
    out: dict[str, list[float]] = {"face": [], "hands": []}
    for p, name in enumerate(PART_NAMES):
        key = "face" if name == "face" else "hands"
        out[key].extend(float(v) for v in mae[boxes.valid[:, p], p])

    def to_u8(t: torch.Tensor) -> np.ndarray:
        return t.permute(0, 1, 3, 4, 2).clamp(0, 255).round().to(torch.uint8).numpy()

    return out, to_u8(cr), to_u8(cg)


@dataclass(frozen=True)
class RenderScores:
    """Renderer metrics over the frames scored, and a few sample crops for the report.

    samples: (N, 2, 3, S, S, 3) uint8 — per sample frame: (real, generated) x (face, left hand,
    right hand) crops
    """

    psnr: float
    ssim: float
    face_crop_l1: float
    hands_crop_l1: float
    frames: int
    samples: np.ndarray

    def metrics(self) -> dict[str, float]:
        out = {"psnr": self.psnr, "ssim": self.ssim, "num_render_frames": float(self.frames)}
        if np.isfinite(self.face_crop_l1):
            out["face_crop_l1"] = self.face_crop_l1
        if np.isfinite(self.hands_crop_l1):
            out["hands_crop_l1"] = self.hands_crop_l1
        return out


def score_frames(
    real: Sequence[np.ndarray] | Iterable[np.ndarray],
    generated: Sequence[np.ndarray] | Iterable[np.ndarray],
    skeletons: Sequence[np.ndarray] | Iterable[np.ndarray],
    crop_size: int = 64,
    num_samples: int = 3,
) -> RenderScores:
    """PSNR, SSIM and crop errors of generated frames against the real ones.

    real, generated, skeletons: sequences of (H, W, 3) uint8 RGB frames, the same length
    """
    real_l, gen_l, sk_l = list(real), list(generated), list(skeletons)
    if not (len(real_l) == len(gen_l) == len(sk_l)) or not real_l:
        raise InputError(
            f"need the same non-zero number of real, generated and skeleton frames; got "
            f"{len(real_l)}, {len(gen_l)}, {len(sk_l)}"
        )
    psnrs = [psnr(r, g) for r, g in zip(real_l, gen_l, strict=True)]
    ssims = [ssim(r, g) for r, g in zip(real_l, gen_l, strict=True)]
    errors: dict[str, list[float]] = {"face": [], "hands": []}
    parts_real, parts_gen = [], []
    for i in range(0, len(real_l), _CROP_BATCH):  # bounded memory: crops batch a few frames
        sl = slice(i, i + _CROP_BATCH)
        err, cr, cg = crop_errors(
            np.stack(real_l[sl]), np.stack(gen_l[sl]), np.stack(sk_l[sl]), crop_size
        )
        for key in errors:
            errors[key].extend(err[key])
        parts_real.append(cr)
        parts_gen.append(cg)
    crops_real, crops_gen = np.concatenate(parts_real), np.concatenate(parts_gen)
    pick = np.unique(np.linspace(0, len(real_l) - 1, num=min(num_samples, len(real_l))).round())
    samples = np.stack([crops_real[pick.astype(int)], crops_gen[pick.astype(int)]], axis=1)
    return RenderScores(
        psnr=float(np.mean(psnrs)),
        ssim=float(np.mean(ssims)),
        face_crop_l1=float(np.mean(errors["face"])) if errors["face"] else float("nan"),
        hands_crop_l1=float(np.mean(errors["hands"])) if errors["hands"] else float("nan"),
        frames=len(real_l),
        samples=samples,
    )


def render_frames(
    generator: torch.nn.Module,
    skeletons: Sequence[np.ndarray],
    int8: Any = None,
    refiner: Any = None,
) -> list[np.ndarray]:
    """Run a renderer's generator over one stream of (H, W, 3) uint8 skeleton images on the CPU
    in fp32 (``int8``: with its int8 step, an Int8Step, for the size it was calibrated at;
    ``refiner``: its PartRefinement); returns the generated (H, W, 3) uint8 RGB frames."""
    from speech2video.render.renderer_inference import InferenceOptions, StreamingRenderer

    renderer = StreamingRenderer(
        generator,  # type: ignore[arg-type]
        InferenceOptions(device="cpu", precision="fp32", channels_last=False),
        int8,
        refiner,
    )
    return list(renderer.render_images(skeletons))
