"""Motion files: ``.npz`` holding per-frame pose vectors, and the AMASS/BEAT2 export.

A motion file holds at least::

    poses          (T, 106) float32   pose vectors (layout: body/pose_layout.py)
    fps            ()       float     frames per second

and optionally ``betas (10,)``, ``global_orient (3,)``, ``speaker`` (str). The AMASS/BEAT2
layout written by :func:`export_amass` is ``poses (T, 165)``, ``expressions (T, 10)``,
``betas (10,)``, ``trans (T, 3)``, ``mocap_frame_rate ()``, ``gender``.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from speech2video.body import pose_layout as pl
from speech2video.errors import InputError


@dataclass(frozen=True)
class Motion:
    """A pose sequence of one speaker.

    poses: (T, 106) float32; betas: (10,) float32; global_orient: (3,) float32
    """

    poses: np.ndarray
    fps: float
    betas: np.ndarray = field(default_factory=lambda: np.zeros(pl.NUM_BETAS, np.float32))
    global_orient: np.ndarray = field(default_factory=lambda: np.zeros(3, np.float32))
    speaker: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "poses", pl.check_poses(self.poses))
        if not np.isfinite(self.fps) or self.fps <= 0:
            raise InputError(f"fps must be a positive number; got {self.fps}")
        betas = np.asarray(self.betas, np.float32)
        orient = np.asarray(self.global_orient, np.float32)
        if betas.shape != (pl.NUM_BETAS,):
            raise InputError(f"betas must have shape ({pl.NUM_BETAS},); got {betas.shape}")
        if orient.shape != (3,):
            raise InputError(f"global_orient must have shape (3,); got {orient.shape}")
        object.__setattr__(self, "betas", betas)
        object.__setattr__(self, "global_orient", orient)

    @property
    def num_frames(self) -> int:
        return int(self.poses.shape[0])

    @property
    def duration(self) -> float:
        return self.num_frames / self.fps

    def with_poses(self, poses: np.ndarray) -> Motion:
        """The same speaker and rate with other poses."""
        return Motion(poses, self.fps, self.betas, self.global_orient, self.speaker)


def save_motion(path: str | Path, motion: Motion) -> None:
    """Write ``motion`` as an uncompressed ``.npz`` (no pickled objects)."""
    np.savez(
        Path(path),
        poses=motion.poses,
        fps=np.float32(motion.fps),
        betas=motion.betas,
        global_orient=motion.global_orient,
        speaker=np.str_(motion.speaker),
    )


def read_npz(path: str | Path, kind: str) -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` (no pickled objects); InputError naming the ``kind`` of file
    ("motion", "mocap") when it is missing or not a readable archive."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{kind} file not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise InputError(f"{kind} file {path.name} is not a readable .npz ({exc})") from None


def load_motion(path: str | Path) -> Motion:
    """Read a motion ``.npz``; raise :class:`InputError` naming a missing or malformed key."""
    path = Path(path)
    arrays = read_npz(path, "motion")
    for key in ("poses", "fps"):
        if key not in arrays:
            raise InputError(f"motion file {path.name} lacks the key '{key}'")
    poses = arrays["poses"]
    if poses.ndim != 2 or poses.shape[1] != pl.POSE_DIM:
        raise InputError(
            f"motion file {path.name}: key 'poses' must have shape (T, {pl.POSE_DIM}); "
            f"got {poses.shape}"
        )
    if poses.shape[0] == 0:
        raise InputError(f"motion file {path.name}: key 'poses' has no frames")
    fps = np.asarray(arrays["fps"])
    if fps.size != 1:
        raise InputError(f"motion file {path.name}: key 'fps' must be a scalar")
    kwargs: dict = {}
    for key, shape in (("betas", (pl.NUM_BETAS,)), ("global_orient", (3,))):
        if key in arrays:
            value = np.asarray(arrays[key], np.float32).reshape(-1)
            if value.shape != shape:
                raise InputError(
                    f"motion file {path.name}: key '{key}' must have shape {shape}; "
                    f"got {arrays[key].shape}"
                )
            kwargs[key] = value
    if "speaker" in arrays:
        kwargs["speaker"] = str(arrays["speaker"])
    try:
        return Motion(poses.astype(np.float32), float(fps), **kwargs)
    except ValueError as exc:
        raise InputError(f"motion file {path.name}: {exc}") from None


def export_amass(
    path: str | Path,
    motion: Motion,
    hand_basis: pl.HandBasis,
    trans: np.ndarray | None = None,
    gender: str = "neutral",
) -> None:
    """Write the AMASS/BEAT2 layout (``poses (T,165)``, ``expressions``, ``betas``, ``trans``,
    ``mocap_frame_rate``, ``gender``).

    trans: (T, 3) root translation in metres; zeros when None.
    """
    t = motion.num_frames
    trans = np.zeros((t, 3), np.float32) if trans is None else np.asarray(trans, np.float32)
    if trans.shape != (t, 3):
        raise InputError(f"trans must have shape ({t}, 3); got {trans.shape}")
    np.savez(
        Path(path),
        poses=pl.to_full_pose(motion.poses, hand_basis, motion.global_orient),
        expressions=motion.poses[:, pl.EXPRESSION].copy(),
        betas=motion.betas,
        trans=trans,
        mocap_frame_rate=np.float32(motion.fps),
        gender=np.str_(gender),
    )


def load_amass(path: str | Path, hand_basis: pl.HandBasis) -> tuple[Motion, np.ndarray]:
    """Read an AMASS/BEAT2 ``.npz`` into a :class:`Motion` (first frame's global orientation)
    and its translation ``(T, 3)``."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise InputError(f"AMASS file {path.name} is not a readable .npz ({exc})") from None
    for key in ("poses", "mocap_frame_rate"):
        if key not in arrays:
            raise InputError(f"AMASS file {path.name} lacks the key '{key}'")
    poses, orient = pl.from_full_pose(arrays["poses"], hand_basis)
    if "expressions" in arrays:
        expr = np.asarray(arrays["expressions"], np.float32)
        poses[:, pl.EXPRESSION] = expr[:, : pl.NUM_EXPRESSION]
    betas = np.zeros(pl.NUM_BETAS, np.float32)
    if "betas" in arrays:
        b = np.asarray(arrays["betas"], np.float32).reshape(-1)[: pl.NUM_BETAS]
        betas[: b.size] = b
    trans = np.asarray(arrays.get("trans", np.zeros((poses.shape[0], 3))), np.float32)
    motion = Motion(poses, float(arrays["mocap_frame_rate"]), betas, orient[0])
    return motion, trans
