"""Framing: the part of a recording the renderer works on, and how its output goes back in.

A real recording is mostly background: a TV host at 1280×720 scaled to 256 px wide leaves a face
about 30 px tall. So the renderer works on a crop that follows the speaker (the union of their
fitted keypoints over the recording, with a margin), scaled so its longer side is the render
size: the face gets several times the pixels. At synthesis the generated crop is put back into
the recording's frame over a still background plate with a feathered edge, so the video keeps
the recording's aspect ratio and its fixed background without the generator spending capacity on
it. The plate is a per-pixel median over the training frames at the same scale; with the
person's regions (:func:`person_region`) each pixel comes from the frames where the person did
not cover it (:func:`background_plate`), so it keeps no ghost of a hand that moved away.

A :class:`Framing` lives in the speaker's body_model component (``framing.json`` and
``background.png``); a profile without one renders the whole frame, as before.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from speech2video.errors import InputError

FRAMING_FILE = "framing.json"
BACKGROUND_FILE = "background.png"
#: Pixels over which the generated crop blends into the plate at its inner edges.
FEATHER_PX = 8


@dataclass(frozen=True, eq=False)
class Framing:
    """A crop of the source frame and the scale it is rendered at.

    x, y, width, height: the crop in source pixels; source_width, source_height: the
    recording's frame size; scale: render pixels per source pixel (the crop is rendered at
    ``round(width·scale) × round(height·scale)``); background: (H', W', 3) uint8 RGB plate of
    the whole frame at ``scale`` (None: composite onto black).
    """

    x: int
    y: int
    width: int
    height: int
    source_width: int
    source_height: int
    scale: float
    background: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.width <= 0 or self.height <= 0 or not self.scale > 0:
            raise InputError(f"framing needs a positive size and scale; got {self}")
        if not (
            self.x >= 0
            and self.y >= 0
            and self.x + self.width <= self.source_width
            and self.y + self.height <= self.source_height
        ):
            raise InputError(
                f"framing crop {self.width}x{self.height}+{self.x}+{self.y} is outside the "
                f"{self.source_width}x{self.source_height} frame"
            )

    @property
    def render_size(self) -> tuple[int, int]:
        """(width, height) of the rendered crop, both even."""
        return _even(self.width * self.scale), _even(self.height * self.scale)

    @property
    def frame_size(self) -> tuple[int, int]:
        """(width, height) of the composited full frame, both even."""
        return _even(self.source_width * self.scale), _even(self.source_height * self.scale)

    def to_dict(self) -> dict:
        keys = ("x", "y", "width", "height", "source_width", "source_height", "scale")
        return {k: getattr(self, k) for k in keys}


def _even(value: float) -> int:
    return max(2, round(value / 2) * 2)


def framing_from_points(
    points: np.ndarray,
    source_size: tuple[int, int],
    max_side: int,
    margin: float = 0.12,
    quantile: float = 0.995,
) -> Framing:
    """The crop around a speaker's keypoints over a recording.

    points: (N, 2) pixel positions of detected keypoints (all frames together);
    source_size: (width, height); max_side: the rendered crop's longer side.
    The box spans the ``1 - quantile`` to ``quantile`` range of the points (a few wild
    detections do not widen it), grown by ``margin`` of its size on every side, clipped to
    the frame.
    """
    pts = np.asarray(points, np.float64).reshape(-1, 2)
    pts = pts[np.all(np.isfinite(pts), axis=1)]
    w, h = int(source_size[0]), int(source_size[1])
    if pts.shape[0] < 3:
        raise InputError("too few keypoints to frame the speaker")
    lo = np.quantile(pts, 1.0 - quantile, axis=0)
    hi = np.quantile(pts, quantile, axis=0)
    size = np.maximum(hi - lo, 16.0)
    lo, hi = lo - margin * size, hi + margin * size
    x0, y0 = max(0, int(np.floor(lo[0]))), max(0, int(np.floor(lo[1])))
    x1, y1 = min(w, int(np.ceil(hi[0]))), min(h, int(np.ceil(hi[1])))
    if x1 - x0 < 8 or y1 - y0 < 8:
        raise InputError(f"the speaker's keypoints span only {x1 - x0}x{y1 - y0} px")
    scale = min(1.0, max_side / max(x1 - x0, y1 - y0))
    return Framing(x0, y0, x1 - x0, y1 - y0, w, h, scale)


def crop_plate(framing: Framing) -> np.ndarray | None:
    """The background plate under the rendered crop: (H_r, W_r, 3) uint8 RGB (None without a
    plate), aligned with :func:`crop_frame`'s output."""
    import cv2

    plate = framing.background
    if plate is None:
        return None
    fx, fy = plate.shape[1] / framing.source_width, plate.shape[0] / framing.source_height
    x0, y0 = round(framing.x * fx), round(framing.y * fy)
    x1 = max(x0 + 1, round((framing.x + framing.width) * fx))
    y1 = max(y0 + 1, round((framing.y + framing.height) * fy))
    crop = plate[y0:y1, x0:x1]
    return cv2.resize(crop, framing.render_size, interpolation=cv2.INTER_AREA)


def crop_frame(frame: np.ndarray, framing: Framing) -> np.ndarray:
    """(source_height, source_width, 3) → the crop at the render size (H_r, W_r, 3)."""
    import cv2

    if frame.shape[:2] != (framing.source_height, framing.source_width):
        raise InputError(
            f"frame is {frame.shape[1]}x{frame.shape[0]}; the framing is for "
            f"{framing.source_width}x{framing.source_height}"
        )
    crop = frame[framing.y : framing.y + framing.height, framing.x : framing.x + framing.width]
    return cv2.resize(crop, framing.render_size, interpolation=cv2.INTER_AREA)


def person_region(
    joints: np.ndarray, face: np.ndarray, framing: Framing, grow: float = 0.12
) -> np.ndarray:
    """Where the person is in one frame, roughly: (H', W') bool at the framing's frame size.

    joints: (J, 2) and face: (L, 2) source pixels of the frame's confident keypoints (either may
    be empty). The region is the convex hull of all the points grown by ``grow`` of its longer
    side (clothes reach past the joints), plus a disk over the head (landmarks stop at the
    brows; hair does not).
    """
    import cv2

    fw, fh = framing.frame_size
    sx, sy = fw / framing.source_width, fh / framing.source_height
    mask = np.zeros((fh, fw), np.uint8)
    pts = np.concatenate([np.reshape(joints, (-1, 2)), np.reshape(face, (-1, 2))]) * (sx, sy)
    if pts.shape[0] >= 3:
        cv2.fillConvexPoly(mask, cv2.convexHull(pts.astype(np.int32)), 1)
        r = max(1, round(grow * float(np.ptp(pts, axis=0).max())))
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
        mask = cv2.dilate(mask, kernel)
    f = np.reshape(face, (-1, 2)) * (sx, sy)
    if f.shape[0] >= 3:
        radius = 1.1 * float(np.ptp(f, axis=0).max())
        cv2.circle(mask, tuple(int(v) for v in f.mean(axis=0)), max(1, round(radius)), 1, -1)
    return mask.astype(bool)


def background_plate(
    frames: list[np.ndarray],
    framing: Framing,
    people: list[np.ndarray | None] | None = None,
    fill: str = "median",
    min_free: int = 2,
) -> np.ndarray:
    """The still background under the speaker: (H', W', 3) uint8 at the framing's scale.

    frames: source frames (H, W, 3). Without ``people`` it is the per-pixel median (the person
    included, blurred where they move). With ``people`` (one (H', W') bool
    :func:`person_region` per frame; None where no person was found, which counts as covering
    the whole frame) each pixel is the median of the frames in which the person did not cover
    it, when at least ``min_free`` did not: a hand that moves off the desk leaves the desk, not a
    ghost of the hand. Where the person always is, ``fill`` says what the plate holds: ``median``
    (every frame's median there: a blurred copy of what barely moves, which the generator only
    corrects) or ``inpaint`` (inpainted from around it, so the generator paints the whole
    person).
    """
    import cv2

    if not frames:
        raise InputError("no frames to make a background plate from")
    if fill not in ("median", "inpaint"):
        raise InputError(f"plate fill must be 'median' or 'inpaint'; got {fill!r}")
    size = framing.frame_size
    small = np.stack([cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in frames])
    median = np.median(small, axis=0).astype(np.uint8)
    if people is None:
        return median
    if len(people) != len(frames):
        raise InputError(f"{len(people)} person regions for {len(frames)} frames")
    free = np.stack([_free_pixels(m, size) for m in people])  # (N, H', W') bool
    count = free.sum(axis=0)
    plate = median.copy()
    for y in range(0, size[1], 64):  # in bands: (N, 64, W', 3) at a time
        band = slice(y, y + 64)
        values = np.where(free[:, band, :, None], small[:, band], np.nan).astype(np.float32)
        values.sort(axis=0)  # NaN last: the free values of each pixel come first
        n = np.maximum(count[band], 1)[None, :, :, None]
        lo = np.take_along_axis(values, (n - 1) // 2, axis=0)[0]
        hi = np.take_along_axis(values, n // 2, axis=0)[0]
        ok = count[band] >= min_free
        plate[band][ok] = ((lo + hi) / 2)[ok].round().astype(np.uint8)
    hole = (count < min_free).astype(np.uint8)
    if fill == "inpaint" and hole.any():
        if hole.all():
            raise InputError("the person covers every pixel of every plate frame")
        radius = max(3, round(0.02 * max(size)))
        plate = cv2.inpaint(plate, hole, radius, cv2.INPAINT_TELEA)
    return plate


def _free_pixels(mask: np.ndarray | None, size: tuple[int, int]) -> np.ndarray:
    """(H', W') bool: the pixels a person region leaves free (none when no person was found)."""
    if mask is None:
        return np.zeros(size[::-1], bool)
    if mask.shape != size[::-1]:
        raise InputError(f"a person region is {mask.shape[::-1]}; the plate is {size}")
    return ~mask


def composite(generated: np.ndarray, framing: Framing) -> np.ndarray:
    """A rendered crop (H_r, W_r, 3) uint8 put back into the full frame (H', W', 3) uint8.

    The crop covers its box; within ``FEATHER_PX`` of a box edge that is not the frame's edge it
    blends into the background plate.
    """
    fw, fh = framing.frame_size
    plate = framing.background
    out = np.zeros((fh, fw, 3), np.uint8) if plate is None else plate.copy()
    rw, rh = framing.render_size
    if generated.shape[:2] != (rh, rw):
        got = f"{generated.shape[1]}x{generated.shape[0]}"
        raise InputError(f"rendered crop is {got}; the framing renders {rw}x{rh}")
    x0 = min(max(0, round(framing.x * framing.scale)), fw - 1)
    y0 = min(max(0, round(framing.y * framing.scale)), fh - 1)
    x1, y1 = min(fw, x0 + rw), min(fh, y0 + rh)
    crop = generated[: y1 - y0, : x1 - x0].astype(np.float32)
    # Weight 1 inside, falling to 1/FEATHER_PX at a box edge that is inside the frame.
    ramps = []
    for n, at_start, at_end in ((x1 - x0, x0 == 0, x1 == fw), (y1 - y0, y0 == 0, y1 == fh)):
        idx = np.arange(n)
        from_start = np.full(n, np.inf) if at_start else idx + 1.0
        from_end = np.full(n, np.inf) if at_end else n - idx
        ramps.append(np.clip(np.minimum(from_start, from_end) / FEATHER_PX, 0.0, 1.0))
    alpha = np.minimum(ramps[1][:, None], ramps[0][None, :])[..., None].astype(np.float32)
    region = out[y0:y1, x0:x1].astype(np.float32)
    out[y0:y1, x0:x1] = np.clip(alpha * crop + (1 - alpha) * region + 0.5, 0, 255).astype(np.uint8)
    return out


def save_framing(directory: str | Path, framing: Framing) -> None:
    """``framing.json`` (+ ``background.png`` when there is a plate) in ``directory``."""
    import cv2

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    (out / FRAMING_FILE).write_text(json.dumps(framing.to_dict(), indent=2) + "\n")
    if framing.background is not None:
        cv2.imwrite(str(out / BACKGROUND_FILE), framing.background[:, :, ::-1])


def load_framing(directory: str | Path) -> Framing | None:
    """The framing saved in ``directory``, or None when it has none."""
    import cv2

    src = Path(directory)
    if not (src / FRAMING_FILE).is_file():
        return None
    try:
        data = json.loads((src / FRAMING_FILE).read_text())
        framing = Framing(**{k: data[k] for k in Framing.__dataclass_fields__ if k in data})
    except (json.JSONDecodeError, TypeError, KeyError) as exc:
        raise InputError(f"{src / FRAMING_FILE}: invalid framing ({exc})") from None
    plate = None
    if (src / BACKGROUND_FILE).is_file():
        image = cv2.imread(str(src / BACKGROUND_FILE), cv2.IMREAD_COLOR)
        if image is None:
            raise InputError(f"{src / BACKGROUND_FILE}: unreadable image")
        plate = image[:, :, ::-1].copy()
        fw, fh = framing.frame_size
        if plate.shape[:2] != (fh, fw):
            plate = cv2.resize(plate, (fw, fh), interpolation=cv2.INTER_AREA)
    return Framing(**{**framing.to_dict(), "background": plate})
