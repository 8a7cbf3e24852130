"""Motion capture in the AMASS/BEAT2 SMPL-X layout → the 106-float pose contract.

A mocap recording (``.npz``, as AMASS and BEAT2 publish them) holds::

    poses             (T, 165) float  axis-angle, SMPL-X joint order: global 3, 21 body joints
                                      63, jaw 3, left eye 3, right eye 3, left hand 15x3,
                                      right hand 15x3
    mocap_frame_rate  ()       number frames per second (``fps`` is accepted too)
    expressions       (T, E)   float  FLAME expression coefficients, E >= 10; optional
    betas             (B,)     float  SMPL-X shape, B >= 1 (the first 10 are kept); optional
    trans             (T, 3)   float  root translation, metres; optional

Mapping to the pose vector (``pose_layout``):

- body joints 1..21, jaw and eyes are copied (the same SMPL-X joints and axis-angle convention);
- global orientation: the first frame's, fixed for the speaker (paper §3.2 fixes it from the
  first frame); translation is not part of the contract and is dropped;
- hands: 12 PCA coefficients per hand in a basis fitted to this speaker's own finger poses
  (:func:`fit_mocap_hand_basis`, MANO-style PCA as ``hand_basis.fit_hand_basis``); the basis goes
  with the speaker's body model, so the coefficients decode back to finger rotations;
- expression: the first 10 FLAME coefficients. SMPL-X's expression space *is* FLAME's, ordered by
  the variance of FLAME's training scans, and a stock SMPL-X model reads exactly the first 10
  (``num_expression_coeffs=10``): the copied coefficients keep their meaning for any SMPL-X body
  model, which a per-speaker PCA of the 100 would not (its basis would have to travel with every
  consumer). What is dropped is reported (:attr:`MocapConversion.expression_kept`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from speech2video.body import pose_layout as pl
from speech2video.body.hand_basis import fit_hand_basis
from speech2video.body.motion_file import Motion, read_npz
from speech2video.errors import InputError

#: Frame rates a mocap file may state (BEAT2: 30, AMASS: 60-250).
MIN_FPS, MAX_FPS = 10.0, 1000.0
#: Axis-angle entries above this (radians) mean the file is not axis-angle (e.g. degrees).
MAX_ANGLE = 4.0 * math.pi
#: Default tolerance between the motion's and the audio's durations, seconds.
LENGTH_TOLERANCE_S = 0.5
#: Widths of layouts that are not SMPL-X full poses, to name them in errors.
_OTHER_LAYOUTS = {72: "SMPL (24 joints)", 156: "SMPL-H (52 joints)", 159: "SMPL-X without eyes"}


@dataclass(frozen=True)
class MocapRecording:
    """One validated mocap recording.

    poses: (T, 165) float32; expressions: (T, E) float32 or None; betas: (B,) float32;
    trans: (T, 3) float32
    """

    name: str
    poses: np.ndarray
    fps: float
    expressions: np.ndarray | None
    betas: np.ndarray
    trans: np.ndarray

    @property
    def num_frames(self) -> int:
        return int(self.poses.shape[0])

    @property
    def duration(self) -> float:
        return self.num_frames / self.fps


@dataclass(frozen=True)
class MocapConversion:
    """A recording in the contract: ``motion`` (T, 106) and what the mapping kept.

    expression_kept: share of the recording's expression-coefficient variance in the first 10
    (1.0 when it has 10 or none); hand_variance_kept: share of finger-pose variance the 12 PCA
    coefficients per hand reconstruct (both hands together)
    """

    motion: Motion
    trans: np.ndarray
    expression_kept: float
    hand_variance_kept: float


def _label(name: str) -> str:
    return f"mocap {name}" if name else "mocap recording"


def check_mocap(arrays: dict[str, np.ndarray], name: str = "") -> MocapRecording:
    """Validate AMASS/BEAT2 arrays (layout: module doc) into a :class:`MocapRecording`.

    Raises :class:`InputError` naming the key and what is wrong with it.
    """
    label = _label(name)
    if "poses" not in arrays:
        raise InputError(f"{label}: lacks the key 'poses' (T, 165)")
    poses = np.asarray(arrays["poses"])
    if poses.ndim != 2 or poses.shape[1] != pl.FULL_POSE_DIM:
        hint = _OTHER_LAYOUTS.get(poses.shape[-1] if poses.ndim == 2 else -1)
        what = f" ({hint} layout)" if hint else ""
        raise InputError(
            f"{label}: key 'poses' must be SMPL-X (T, {pl.FULL_POSE_DIM}) axis-angle in the "
            f"AMASS/BEAT2 layout; got {poses.shape}{what}"
        )
    if poses.shape[0] < 2:
        raise InputError(f"{label}: key 'poses' needs at least 2 frames; got {poses.shape[0]}")
    if not np.issubdtype(poses.dtype, np.number) or not np.all(np.isfinite(poses)):
        raise InputError(f"{label}: key 'poses' must be finite numbers")
    peak = float(np.abs(poses).max())
    if peak > MAX_ANGLE:
        raise InputError(
            f"{label}: key 'poses' reaches {peak:.3g}, beyond {MAX_ANGLE:.3g} rad: not axis-angle "
            "in radians (degrees? Euler angles?)"
        )
    t = poses.shape[0]
    fps = _frame_rate(arrays, label)
    expressions = None
    if "expressions" in arrays:
        expr = np.asarray(arrays["expressions"])
        if expr.ndim != 2 or expr.shape[0] != t or expr.shape[1] < pl.NUM_EXPRESSION:
            raise InputError(
                f"{label}: key 'expressions' must be (T={t}, E >= {pl.NUM_EXPRESSION}); "
                f"got {expr.shape}"
            )
        if not np.all(np.isfinite(expr)):
            raise InputError(f"{label}: key 'expressions' contains NaN or infinite values")
        expressions = expr.astype(np.float32)
    betas = np.zeros(pl.NUM_BETAS, np.float32)
    if "betas" in arrays:
        b = np.asarray(arrays["betas"], np.float64).reshape(-1)
        if b.size == 0 or not np.all(np.isfinite(b)):
            raise InputError(f"{label}: key 'betas' must be finite numbers; got shape {b.shape}")
        betas = b.astype(np.float32)
    trans = np.zeros((t, 3), np.float32)
    if "trans" in arrays:
        tr = np.asarray(arrays["trans"])
        if tr.shape != (t, 3) or not np.all(np.isfinite(tr)):
            raise InputError(f"{label}: key 'trans' must be finite (T={t}, 3); got {tr.shape}")
        trans = tr.astype(np.float32)
    return MocapRecording(name, poses.astype(np.float32), fps, expressions, betas, trans)


def _frame_rate(arrays: dict[str, np.ndarray], label: str) -> float:
    key = next((k for k in ("mocap_frame_rate", "fps") if k in arrays), None)
    if key is None:
        raise InputError(f"{label}: lacks the key 'mocap_frame_rate' (frames per second)")
    value = np.asarray(arrays[key])
    if value.size != 1 or not np.issubdtype(value.dtype, np.number):
        raise InputError(f"{label}: key '{key}' must be one number; got shape {value.shape}")
    fps = float(value.reshape(-1)[0])
    if not math.isfinite(fps) or not MIN_FPS <= fps <= MAX_FPS:
        raise InputError(
            f"{label}: key '{key}' is {fps:g} frames per second; expected {MIN_FPS:g}..{MAX_FPS:g}"
        )
    return fps


def load_mocap(path: str | Path) -> MocapRecording:
    """Read and validate an AMASS/BEAT2 ``.npz`` (no pickled objects); name: the file's stem."""
    path = Path(path)
    return check_mocap(read_npz(path, "mocap"), path.stem)


def check_audio_length(
    recording: MocapRecording, audio_seconds: float, tolerance_s: float = LENGTH_TOLERANCE_S
) -> None:
    """Raise :class:`InputError` when the motion and its audio differ by more than
    ``tolerance_s`` in duration (a wrong frame rate or a mismatched pair of files)."""
    gap = recording.duration - float(audio_seconds)
    if not abs(gap) <= tolerance_s:
        raise InputError(
            f"{_label(recording.name)}: motion lasts {recording.duration:.2f} s "
            f"({recording.num_frames} frames at {recording.fps:g} fps) but its audio "
            f"{float(audio_seconds):.2f} s; they differ by more than {tolerance_s:g} s "
            "(wrong mocap_frame_rate or mismatched files?)"
        )


def fit_mocap_hand_basis(recordings: Sequence[MocapRecording]) -> pl.HandBasis:
    """The speaker's 12-D hand spaces: PCA of every frame's finger poses, each hand its own.

    returns: HandBasis with (12, 45) orthonormal rows and the mean finger poses (45,)
    """
    if not recordings:
        raise InputError("fitting a hand basis needs at least one mocap recording")
    left = np.concatenate([r.poses[:, pl.FULL_LHAND] for r in recordings])
    right = np.concatenate([r.poses[:, pl.FULL_RHAND] for r in recordings])
    return fit_hand_basis(left, right, pl.NUM_HAND_PCA)


def mocap_to_motion(
    recording: MocapRecording, hand_basis: pl.HandBasis, speaker: str = ""
) -> MocapConversion:
    """Convert one recording to the 106-float contract (mapping: module doc).

    returns: MocapConversion with motion.poses (T, 106) float32 at the recording's fps
    """
    full = recording.poses
    poses, orient = pl.from_full_pose(full, hand_basis)
    expr = recording.expressions
    kept = 1.0
    if expr is not None:
        poses[:, pl.EXPRESSION] = expr[:, : pl.NUM_EXPRESSION]
        var = expr.astype(np.float64).var(axis=0)
        kept = float(var[: pl.NUM_EXPRESSION].sum() / var.sum()) if var.sum() > 0 else 1.0
    betas = np.zeros(pl.NUM_BETAS, np.float32)
    n = min(pl.NUM_BETAS, recording.betas.size)
    betas[:n] = recording.betas[:n]
    left, right = hand_basis.to_axis_angle(poses)
    fingers = np.concatenate([full[:, pl.FULL_LHAND], full[:, pl.FULL_RHAND]], axis=1)
    residual = fingers - np.concatenate([left, right], axis=1)
    spread = float(np.square(fingers - fingers.mean(axis=0)).sum())
    hand_kept = 1.0 - float(np.square(residual).sum()) / spread if spread > 0 else 1.0
    motion = Motion(poses, recording.fps, betas, orient[0], speaker)
    return MocapConversion(motion, recording.trans, kept, hand_kept)
