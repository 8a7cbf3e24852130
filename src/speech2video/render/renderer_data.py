"""Training data of the renderer: (skeleton image, real frame) sequences in a folder.

Layout::

    DATA_DIR/<sequence>/skeleton/000000.png   skeleton images (the painter's output), RGB
    DATA_DIR/<sequence>/frames/000000.png     real frames of the same size, same file names
    DATA_DIR/background.png                   optional: the still background plate, frame size

Every sequence is one continuous shot; frames are ordered by file name. A training sample is a
window of ``sequence_length`` consecutive frames with one square crop (the same for every frame
of the window), drawn from torch's random generator (seeded per DataLoader worker). With
probability ``part_focus`` the crop is centred (with a jitter of a quarter of its side) on the face
or a hand, picked at random among those painted in the window's first skeleton image; otherwise it
is uniform. Small crops of large frames otherwise seldom hold a whole part, and the face and hand
discriminators (paper §3.5) would rarely see one. With a plate, each sample carries the plate's
crop under its window. :func:`write_sequence` writes the layout.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from speech2video.errors import InputError
from speech2video.render.part_boxes import part_boxes

SKELETON_DIR = "skeleton"
FRAMES_DIR = "frames"
BACKGROUND_FILE = "background.png"


@dataclass(frozen=True)
class RendererSample:
    """One training window.

    skeletons: (T, 3, H, W) float32 in [-1, 1]; frames: (T, 3, H, W) float32 in [-1, 1];
    background: (3, H, W) float32 in [-1, 1], the plate under the window (None: no plate)
    (batched by :func:`collate`: a leading B on each)
    """

    skeletons: torch.Tensor
    frames: torch.Tensor
    background: torch.Tensor | None = None


def write_sequence(
    directory: str | Path, skeletons: np.ndarray | list, frames: np.ndarray | list
) -> Path:
    """Write one sequence in the layout above.

    skeletons, frames: (T, H, W, 3) uint8 RGB, the same shape
    returns: ``directory``
    """
    directory = Path(directory)
    skeletons = np.asarray(skeletons)
    frames = np.asarray(frames)
    if skeletons.shape != frames.shape or skeletons.ndim != 4 or skeletons.shape[-1] != 3:
        raise InputError(
            f"skeletons and frames must both be (T, H, W, 3); got {skeletons.shape}, {frames.shape}"
        )
    for sub, images in ((SKELETON_DIR, skeletons), (FRAMES_DIR, frames)):
        (directory / sub).mkdir(parents=True, exist_ok=True)
        for i, image in enumerate(images):
            bgr = cv2.cvtColor(np.ascontiguousarray(image.astype(np.uint8)), cv2.COLOR_RGB2BGR)
            cv2.imwrite(str(directory / sub / f"{i:06d}.png"), bgr)
    return directory


def read_rgb(path: Path) -> np.ndarray:
    """An image file as (H, W, 3) uint8 RGB."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise InputError(f"cannot read image {path}")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """(..., H, W, 3) uint8 RGB → (..., 3, H, W) float32 in [-1, 1]"""
    t = torch.from_numpy(np.ascontiguousarray(images)).to(torch.float32)
    return t.movedim(-1, -3) / 127.5 - 1.0


def to_uint8(frames: torch.Tensor) -> np.ndarray:
    """(..., 3, H, W) float in [-1, 1] → (..., H, W, 3) uint8 RGB"""
    x = ((frames.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return x.movedim(-3, -1).cpu().numpy()


class RendererDataset(Dataset):
    """Windows of ``sequence_length`` consecutive (skeleton, frame) pairs from ``data_dir``."""

    def __init__(
        self,
        data_dir: str | Path,
        sequence_length: int,
        crop: int = 0,
        part_focus: float = 0.0,
        sequences: Sequence[str] | None = None,
    ) -> None:
        data_dir = Path(data_dir)
        if not data_dir.is_dir():
            raise InputError(f"renderer data directory not found: {data_dir}")
        if sequences is not None:
            unknown = sorted(set(sequences) - {p.name for p in data_dir.iterdir() if p.is_dir()})
            if unknown:
                raise InputError(f"{data_dir}: no sequence folder for {unknown[:3]}")
        if not 0.0 <= part_focus <= 1.0:
            raise InputError(f"part_focus must be within [0, 1]; got {part_focus}")
        self.sequence_length = int(sequence_length)
        self.crop = int(crop)
        self.part_focus = float(part_focus)
        self.sequences: list[tuple[list[Path], list[Path]]] = []
        for seq in sorted(p for p in data_dir.iterdir() if p.is_dir()):
            if sequences is not None and seq.name not in sequences:
                continue
            skel_dir, frame_dir = seq / SKELETON_DIR, seq / FRAMES_DIR
            if not skel_dir.is_dir() or not frame_dir.is_dir():
                continue
            names = sorted(p.name for p in skel_dir.glob("*.png"))
            missing = [n for n in names if not (frame_dir / n).is_file()]
            if missing:
                raise InputError(f"sequence {seq.name}: frames/ lacks {missing[:3]}")
            if len(names) >= self.sequence_length:
                self.sequences.append(
                    ([skel_dir / n for n in names], [frame_dir / n for n in names])
                )
        if not self.sequences:
            raise InputError(
                f"no sequence in {data_dir} has {self.sequence_length} or more frames in "
                f"<sequence>/{SKELETON_DIR}/*.png and <sequence>/{FRAMES_DIR}/*.png"
            )
        plate = data_dir / BACKGROUND_FILE
        #: The still background plate, (H, W, 3) uint8 RGB, or None.
        self.background = read_rgb(plate) if plate.is_file() else None
        self.index = [
            (s, start)
            for s, (skels, _) in enumerate(self.sequences)
            for start in range(len(skels) - self.sequence_length + 1)
        ]

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> RendererSample:
        s, start = self.index[i]
        skel_paths, frame_paths = self.sequences[s]
        stop = start + self.sequence_length
        skels = np.stack([read_rgb(p) for p in skel_paths[start:stop]])
        frames = np.stack([read_rgb(p) for p in frame_paths[start:stop]])
        if skels.shape != frames.shape:
            raise InputError(f"sequence {skel_paths[0].parent.parent.name}: sizes differ")
        plate = self.background
        if plate is not None and plate.shape != frames.shape[1:]:
            raise InputError(
                f"{BACKGROUND_FILE} is {plate.shape[1]}x{plate.shape[0]}; sequence "
                f"{skel_paths[0].parent.parent.name} has {frames.shape[2]}x{frames.shape[1]} frames"
            )
        if self.crop:
            h, w = skels.shape[1:3]
            if h < self.crop or w < self.crop:
                raise InputError(
                    f"sequence {skel_paths[0].parent.parent.name}: frames {w}x{h} are smaller "
                    f"than the crop {self.crop}"
                )
            y, x = self._crop_origin(skels[0])
            skels = skels[:, y : y + self.crop, x : x + self.crop]
            frames = frames[:, y : y + self.crop, x : x + self.crop]
            if plate is not None:
                plate = plate[y : y + self.crop, x : x + self.crop]
        background = None if plate is None else to_tensor(plate)
        return RendererSample(to_tensor(skels), to_tensor(frames), background)

    def _crop_origin(self, skeleton: np.ndarray) -> tuple[int, int]:
        """Top-left corner (y, x) of the crop; skeleton: (H, W, 3) uint8, the window's first."""
        h, w = skeleton.shape[:2]
        size = self.crop
        if self.part_focus and float(torch.rand(())) < self.part_focus:
            image = torch.from_numpy(np.ascontiguousarray(skeleton)).permute(2, 0, 1)[None]
            parts = part_boxes(image)
            found = parts.boxes[0][parts.valid[0]]  # (P, 4) x0, y0, x1, y1
            if len(found):
                x0, y0, x1, y1 = found[int(torch.randint(0, len(found), ()))].tolist()
                jitter = torch.randint(-(size // 4), size // 4 + 1, (2,)).tolist()
                y = min(max(round((y0 + y1 - size) / 2) + jitter[0], 0), h - size)
                x = min(max(round((x0 + x1 - size) / 2) + jitter[1], 0), w - size)
                return y, x
        return int(torch.randint(0, h - size + 1, ())), int(torch.randint(0, w - size + 1, ()))


def collate(samples: list[RendererSample]) -> RendererSample:
    """Stack samples: (B, T, 3, H, W) each (the plates (B, 3, H, W), when every sample has one)."""
    plates = [s.background for s in samples]
    background = torch.stack(plates) if all(p is not None for p in plates) else None
    return RendererSample(
        torch.stack([s.skeletons for s in samples]),
        torch.stack([s.frames for s in samples]),
        background,
    )
