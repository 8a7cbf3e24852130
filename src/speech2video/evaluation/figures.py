"""The report's figures, drawn with OpenCV (no plotting library): line plot, bar chart, montage.

Every function returns an (H, W, 3) uint8 RGB image on a white background.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import cv2
import numpy as np

#: Series colors (RGB), assigned in order.
COLORS: tuple[tuple[int, int, int], ...] = (
    (31, 119, 180), (214, 39, 40), (44, 160, 44), (255, 127, 14), (148, 103, 189), (90, 90, 90),
)  # fmt: skip
_FONT = cv2.FONT_HERSHEY_SIMPLEX
_INK = (30, 30, 30)
_GRID = (225, 225, 225)


def _canvas(width: int, height: int, title: str) -> np.ndarray:
    img = np.full((height, width, 3), 255, np.uint8)
    cv2.putText(img, title, (12, 24), _FONT, 0.6, _INK, 1, cv2.LINE_AA)
    return img


def _legend(img: np.ndarray, names: Sequence[str], x: int, y: int) -> None:
    for i, name in enumerate(names):
        color = COLORS[i % len(COLORS)]
        yy = y + 18 * i
        cv2.rectangle(img, (x, yy - 9), (x + 14, yy + 1), color, -1)
        cv2.putText(img, name, (x + 20, yy), _FONT, 0.45, _INK, 1, cv2.LINE_AA)


def _axes(img: np.ndarray, box: tuple[int, int, int, int], lo: float, hi: float) -> None:
    x0, y0, x1, y1 = box
    for k in range(5):
        y = round(y1 - (y1 - y0) * k / 4)
        cv2.line(img, (x0, y), (x1, y), _GRID, 1)
        label = f"{lo + (hi - lo) * k / 4:.3g}"
        cv2.putText(img, label, (4, y + 4), _FONT, 0.4, _INK, 1, cv2.LINE_AA)
    cv2.rectangle(img, (x0, y0), (x1, y1), _INK, 1)


def _range(values: Sequence[np.ndarray]) -> tuple[float, float]:
    finite = [v[np.isfinite(v)] for v in values if v.size]
    data = np.concatenate(finite) if finite else np.zeros(1)
    if data.size == 0:
        data = np.zeros(1)
    lo, hi = float(min(0.0, data.min())), float(data.max())
    return lo, hi if hi > lo else lo + 1.0


def line_plot(
    series: Mapping[str, np.ndarray],
    title: str,
    x_scale: float = 1.0,
    x_label: str = "frame",
    size: tuple[int, int] = (720, 360),
) -> np.ndarray:
    """Series (each (T,)) against their index x ``x_scale``; ``size`` is (width, height)."""
    width, height = size
    img = _canvas(width, height, title)
    box = (60, 40, width - 150, height - 36)
    values = [np.asarray(v, np.float64) for v in series.values()]
    lo, hi = _range(values)
    _axes(img, box, lo, hi)
    x0, y0, x1, y1 = box
    longest = max((v.size for v in values), default=1)
    for i, v in enumerate(values):
        if v.size < 2:
            continue
        xs = x0 + (x1 - x0) * np.arange(v.size) / max(1, longest - 1)
        ys = y1 - (y1 - y0) * (np.nan_to_num(v, nan=lo) - lo) / (hi - lo)
        pts = np.stack([xs, ys], axis=1).round().astype(np.int32)
        cv2.polylines(img, [pts], False, COLORS[i % len(COLORS)], 2, cv2.LINE_AA)
    end = f"{(longest - 1) * x_scale:.3g}"
    cv2.putText(img, f"{x_label} 0 .. {end}", (x0, height - 12), _FONT, 0.45, _INK, 1)
    _legend(img, list(series), width - 140, 50)
    return img


def bar_chart(
    categories: Sequence[str],
    series: Mapping[str, Sequence[float]],
    title: str,
    size: tuple[int, int] = (720, 360),
) -> np.ndarray:
    """Grouped bars: one group per category, one bar per series (values per category)."""
    width, height = size
    img = _canvas(width, height, title)
    box = (60, 40, width - 150, height - 36)
    values = [np.asarray(v, np.float64) for v in series.values()]
    lo, hi = _range(values)
    _axes(img, box, lo, hi)
    x0, y0, x1, y1 = box
    n_cat, n_ser = max(1, len(categories)), max(1, len(values))
    group = (x1 - x0) / n_cat
    bar = group * 0.8 / n_ser
    for c, name in enumerate(categories):
        gx = x0 + group * c + group * 0.1
        for s, v in enumerate(values):
            value = float(v[c]) if c < v.size and np.isfinite(v[c]) else lo
            top = y1 - (y1 - y0) * (value - lo) / (hi - lo)
            p0 = (round(gx + bar * s), round(top))
            p1 = (round(gx + bar * (s + 1)) - 1, y1)
            cv2.rectangle(img, p0, p1, COLORS[s % len(COLORS)], -1)
        cv2.putText(img, name, (round(gx), height - 14), _FONT, 0.45, _INK, 1, cv2.LINE_AA)
    _legend(img, list(series), width - 140, 50)
    return img


def montage(
    rows: Sequence[tuple[str, Sequence[np.ndarray]]], title: str, cell: int = 96
) -> np.ndarray:
    """A grid of images: one labelled row per entry, each image resized to ``cell`` pixels."""
    n_cols = max((len(images) for _, images in rows), default=1)
    label_w = 130
    width = label_w + n_cols * (cell + 4) + 4
    height = 40 + len(rows) * (cell + 4)
    img = _canvas(width, height, title)
    for r, (label, images) in enumerate(rows):
        y = 40 + r * (cell + 4)
        cv2.putText(img, label, (8, y + cell // 2), _FONT, 0.45, _INK, 1, cv2.LINE_AA)
        for c, image in enumerate(images):
            x = label_w + c * (cell + 4)
            tile = cv2.resize(
                np.asarray(image, np.uint8), (cell, cell), interpolation=cv2.INTER_AREA
            )
            img[y : y + cell, x : x + cell] = tile
    return img


def write_png(path: object, image: np.ndarray) -> None:
    """Write an RGB image as PNG."""
    cv2.imwrite(str(path), cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2BGR))
