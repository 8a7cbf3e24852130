"""A linear face-landmark model in the head's local frame.

``landmarks_local (51, 3) = mean + Σ_k jaw_k · jaw_basis[k] + Σ_k expr_k · expression_basis[k]``

Coordinates are the head joint's rest frame: offsets in metres from the head joint, x toward the
subject's left, y up, z forward (out of the face). The skeleton model rotates and places them
with the head joint. Landmark order and regions: ``joint_tree.FACE_REGIONS`` (the iBUG-68 subset
without the jaw line). The jaw basis is the linearised rotation of the lower lip about the jaw
pivot, so the model stays linear in the jaw's axis-angle and can be fitted by least squares.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from speech2video.body.joint_tree import FACE_REGIONS, NUM_FACE_LANDMARKS
from speech2video.body.pose_layout import NUM_EXPRESSION
from speech2video.errors import InputError, NotFoundError

#: Jaw pivot (the SMPL-X jaw joint) relative to the head joint in the default face, metres.
DEFAULT_JAW_OFFSET = np.array([0.0, -0.015, 0.025], np.float32)

#: Names of the default expression components, in order.
EXPRESSION_NAMES: tuple[str, ...] = (
    "smile",
    "mouth_wide",
    "pucker",
    "brow_raise",
    "brow_furrow",
    "eye_close",
    "upper_lip_raise",
    "lower_lip_drop",
    "mouth_shift",
    "frown",
)

_R = FACE_REGIONS
_OUTER = _R["outer_lips"]  # 31 right corner, 32-36 upper, 37 left corner, 38-42 lower
_INNER = _R["inner_lips"]  # 43 right corner, 44-46 upper, 47 left corner, 48-50 lower
LIP_CORNERS: tuple[int, ...] = (_OUTER[0], _OUTER[6], _INNER[0], _INNER[4])
UPPER_LIP: tuple[int, ...] = _OUTER[1:6] + _INNER[1:4]
LOWER_LIP: tuple[int, ...] = _OUTER[7:12] + _INNER[5:8]
BROWS: tuple[int, ...] = _R["right_brow"] + _R["left_brow"]


def _default_mean() -> np.ndarray:
    """A plausible adult face, head-local metres: (51, 3)."""
    right_brow = [
        (-0.065, 0.068, 0.070),
        (-0.050, 0.075, 0.085),
        (-0.035, 0.077, 0.093),
        (-0.022, 0.075, 0.097),
        (-0.010, 0.071, 0.099),
    ]
    left_brow = [(-x, y, z) for x, y, z in reversed(right_brow)]
    nose_bridge = [(0.0, 0.055, 0.1), (0.0, 0.040, 0.106), (0.0, 0.024, 0.112), (0.0, 0.008, 0.12)]
    nose_base = [
        (-0.016, -0.005, 0.098),
        (-0.008, -0.008, 0.104),
        (0.0, -0.010, 0.107),
        (0.008, -0.008, 0.104),
        (0.016, -0.005, 0.098),
    ]
    # iBUG order: outer corner, two top, inner corner, two bottom.
    right_eye = [
        (-0.048, 0.045, 0.078),
        (-0.040, 0.050, 0.086),
        (-0.028, 0.050, 0.088),
        (-0.018, 0.045, 0.087),
        (-0.028, 0.041, 0.087),
        (-0.040, 0.041, 0.085),
    ]
    # Left eye starts at its inner corner: the mirror of right eye points 3, 2, 1, 0, 5, 4.
    left_eye = [(-right_eye[i][0], *right_eye[i][1:]) for i in (3, 2, 1, 0, 5, 4)]
    outer_lips = [
        (-0.025, -0.035, 0.088),
        (-0.016, -0.027, 0.097),
        (-0.006, -0.024, 0.102),
        (0.0, -0.025, 0.103),
        (0.006, -0.024, 0.102),
        (0.016, -0.027, 0.097),
        (0.025, -0.035, 0.088),
        (0.016, -0.043, 0.096),
        (0.007, -0.046, 0.100),
        (0.0, -0.047, 0.100),
        (-0.007, -0.046, 0.100),
        (-0.016, -0.043, 0.096),
    ]
    inner_lips = [
        (-0.020, -0.035, 0.090),
        (-0.008, -0.032, 0.097),
        (0.0, -0.032, 0.098),
        (0.008, -0.032, 0.097),
        (0.020, -0.035, 0.090),
        (0.008, -0.037, 0.097),
        (0.0, -0.037, 0.098),
        (-0.008, -0.037, 0.097),
    ]
    pts = (
        right_brow + left_brow + nose_bridge + nose_base + right_eye + left_eye + outer_lips
    ) + inner_lips
    return np.asarray(pts, np.float32)


def _default_jaw_basis(mean: np.ndarray, pivot: np.ndarray) -> np.ndarray:
    """Linearised jaw rotation: d(landmark)/d(jaw axis-angle). (3, 51, 3)"""
    weight = np.zeros(NUM_FACE_LANDMARKS, np.float32)
    weight[list(LOWER_LIP)] = 1.0
    weight[list(LIP_CORNERS)] = 0.4
    rel = mean - pivot
    basis = np.stack([np.cross(np.eye(3)[k], rel) * weight[:, None] for k in range(3)])
    return basis.astype(np.float32)


def _default_expression_basis(mean: np.ndarray) -> np.ndarray:
    """Ten hand-designed displacement fields, about 5 mm per unit. (10, 51, 3)"""
    e = np.zeros((NUM_EXPRESSION, NUM_FACE_LANDMARKS, 3), np.float32)
    side = np.sign(mean[:, 0])  # +1 on the subject's left
    corners = list(LIP_CORNERS)
    lips = list(_OUTER + _INNER)
    # 0 smile: corners up, out and back; cheeks push the lower eyelids up.
    e[0, corners] = np.stack([0.006 * side[corners], np.full(4, 0.005), np.full(4, -0.003)], 1)
    e[0, [_OUTER[1], _OUTER[5], _OUTER[7], _OUTER[11]], 1] = 0.002
    e[0, [_R["right_eye"][4], _R["right_eye"][5], _R["left_eye"][4], _R["left_eye"][5]], 1] = 0.0015
    # 1 mouth wide: corners straight out.
    e[1, corners, 0] = 0.007 * side[corners]
    # 2 pucker: lips gather toward the mouth centre and push forward.
    centre = mean[lips].mean(axis=0)
    e[2, lips, 0] = -0.3 * (mean[lips, 0] - centre[0])
    e[2, lips, 2] = 0.006
    # 3 brow raise (upper eyelids follow a little).
    e[3, list(BROWS), 1] = 0.006
    e[3, [_R["right_eye"][1], _R["right_eye"][2], _R["left_eye"][1], _R["left_eye"][2]], 1] = 0.001
    # 4 brow furrow: inner brows down and together.
    inner = [_R["right_brow"][3], _R["right_brow"][4], _R["left_brow"][0], _R["left_brow"][1]]
    e[4, list(BROWS), 1] = -0.002
    e[4, inner, 1] = -0.004
    e[4, inner, 0] = -0.003 * side[inner]
    # 5 eye close: upper lids come down onto the lower lids.
    upper = [_R["right_eye"][1], _R["right_eye"][2], _R["left_eye"][1], _R["left_eye"][2]]
    lower = [_R["right_eye"][4], _R["right_eye"][5], _R["left_eye"][4], _R["left_eye"][5]]
    e[5, upper, 1] = -0.0075
    e[5, lower, 1] = 0.001
    # 6 upper lip raise, 7 lower lip drop (without the jaw).
    e[6, list(UPPER_LIP), 1] = 0.004
    e[7, list(LOWER_LIP), 1] = -0.004
    # 8 mouth shift toward the subject's left.
    e[8, lips, 0] = 0.005
    # 9 frown: corners down, lower lip pushed up a little.
    e[9, corners, 1] = -0.005
    e[9, list(LOWER_LIP), 1] = 0.001
    return e


@dataclass(frozen=True)
class LinearFaceModel:
    """Face landmarks, linear in jaw axis-angle and expression coefficients.

    mean: (51, 3) float32 — head-local landmarks at zero jaw and expression, metres
    jaw_basis: (3, 51, 3) float32 — displacement per radian of jaw axis-angle component
    expression_basis: (10, 51, 3) float32 — displacement per unit expression coefficient
    """

    mean: np.ndarray
    jaw_basis: np.ndarray
    expression_basis: np.ndarray

    def __post_init__(self) -> None:
        shapes = {
            "mean": (NUM_FACE_LANDMARKS, 3),
            "jaw_basis": (3, NUM_FACE_LANDMARKS, 3),
            "expression_basis": (NUM_EXPRESSION, NUM_FACE_LANDMARKS, 3),
        }
        for name, shape in shapes.items():
            arr = np.asarray(getattr(self, name), np.float32)
            if arr.shape != shape:
                raise InputError(f"face model {name} must have shape {shape}; got {arr.shape}")
            if not np.all(np.isfinite(arr)):
                raise InputError(f"face model {name} contains NaN or infinite values")
            object.__setattr__(self, name, arr)

    @classmethod
    def default(cls) -> LinearFaceModel:
        """The hand-designed face: 51 landmarks, jaw opening, 10 expression components."""
        mean = _default_mean()
        return cls(
            mean=mean,
            jaw_basis=_default_jaw_basis(mean, DEFAULT_JAW_OFFSET),
            expression_basis=_default_expression_basis(mean),
        )

    def landmarks(self, jaw: np.ndarray, expression: np.ndarray) -> np.ndarray:
        """Head-local landmarks.

        jaw: (T, 3) jaw axis-angle; expression: (T, 10) coefficients
        returns: (T, 51, 3) float32 head-local landmarks in metres
        """
        jaw = np.asarray(jaw, np.float32)
        expression = np.asarray(expression, np.float32)
        if jaw.ndim != 2 or jaw.shape[1] != 3:
            raise InputError(f"jaw must have shape (T, 3); got {jaw.shape}")
        if expression.shape != (jaw.shape[0], NUM_EXPRESSION):
            raise InputError(
                f"expression must have shape ({jaw.shape[0]}, {NUM_EXPRESSION}); "
                f"got {expression.shape}"
            )
        flat = (
            self.mean.reshape(1, -1)
            + jaw @ self.jaw_basis.reshape(3, -1)
            + expression @ self.expression_basis.reshape(NUM_EXPRESSION, -1)
        )
        return flat.reshape(-1, NUM_FACE_LANDMARKS, 3)

    @classmethod
    def fit(
        cls,
        landmarks: np.ndarray,
        jaw: np.ndarray,
        expression: np.ndarray | None = None,
        ridge: float = 1e-8,
    ) -> LinearFaceModel:
        """Least-squares face model from observed head-local landmark sequences.

        landmarks: (N, 51, 3) head-local landmarks (see :func:`to_head_local`)
        jaw: (N, 3) known or estimated jaw axis-angles
        expression: (N, 10) known coefficients, or None to estimate the expression basis as the
        10 principal components of what mean and jaw leave unexplained (unit-variance
        coefficients)
        ridge: Tikhonov weight keeping the solve well-posed for nearly constant inputs
        """
        lm = np.asarray(landmarks, np.float64)
        if lm.ndim != 3 or lm.shape[1:] != (NUM_FACE_LANDMARKS, 3):
            raise InputError(
                f"landmarks must have shape (N, {NUM_FACE_LANDMARKS}, 3); got {lm.shape}"
            )
        n = lm.shape[0]
        jaw = np.asarray(jaw, np.float64)
        if jaw.shape != (n, 3):
            raise InputError(f"jaw must have shape ({n}, 3); got {jaw.shape}")
        if expression is not None:
            expression = np.asarray(expression, np.float64)
            if expression.shape != (n, NUM_EXPRESSION):
                raise InputError(
                    f"expression must have shape ({n}, {NUM_EXPRESSION}); got {expression.shape}"
                )
        if not (np.all(np.isfinite(lm)) and np.all(np.isfinite(jaw))):
            raise InputError("landmarks and jaw must be finite")
        min_frames = 4 if expression is None else 4 + NUM_EXPRESSION
        if n < min_frames:
            raise InputError(f"face model fit needs at least {min_frames} frames; got {n}")
        y = lm.reshape(n, -1)
        cols = [np.ones((n, 1)), jaw] + ([expression] if expression is not None else [])
        x = np.concatenate(cols, axis=1)
        coef = _ridge_solve(x, y, ridge)
        mean = coef[0]
        jaw_basis = coef[1:4]
        if expression is not None:
            expr_basis = coef[4:]
        else:
            resid = y - x @ coef
            _, s, vt = np.linalg.svd(resid, full_matrices=True)
            scale = np.zeros(NUM_EXPRESSION)
            k = min(len(s), NUM_EXPRESSION)
            scale[:k] = s[:k] / np.sqrt(max(n - 1, 1))
            expr_basis = vt[:NUM_EXPRESSION] * scale[:, None]
        return cls(
            mean=mean.reshape(NUM_FACE_LANDMARKS, 3),
            jaw_basis=jaw_basis.reshape(3, NUM_FACE_LANDMARKS, 3),
            expression_basis=expr_basis.reshape(NUM_EXPRESSION, NUM_FACE_LANDMARKS, 3),
        )

    def to_dict(self) -> dict[str, list]:
        """Plain lists for JSON."""
        return {
            "mean": self.mean.tolist(),
            "jaw_basis": self.jaw_basis.tolist(),
            "expression_basis": self.expression_basis.tolist(),
        }

    @classmethod
    def from_dict(cls, data: dict) -> LinearFaceModel:
        missing = {"mean", "jaw_basis", "expression_basis"} - set(data)
        if missing:
            raise InputError(f"face model is missing key(s) {sorted(missing)}")
        return cls(
            mean=np.asarray(data["mean"], np.float32),
            jaw_basis=np.asarray(data["jaw_basis"], np.float32),
            expression_basis=np.asarray(data["expression_basis"], np.float32),
        )

    def save(self, path: Path | str) -> Path:
        """Write ``.npz`` (no pickle) or ``.json`` by the file's suffix."""
        path = Path(path)
        if path.suffix == ".json":
            path.write_text(json.dumps(self.to_dict()))
        else:
            np.savez(
                path,
                mean=self.mean,
                jaw_basis=self.jaw_basis,
                expression_basis=self.expression_basis,
            )
        return path

    @classmethod
    def load(cls, path: Path | str) -> LinearFaceModel:
        """Read a file written by :meth:`save`."""
        path = Path(path)
        if not path.is_file():
            raise NotFoundError(f"face model file not found: {path}")
        if path.suffix == ".json":
            try:
                return cls.from_dict(json.loads(path.read_text()))
            except json.JSONDecodeError as exc:
                raise InputError(f"face model file {path} is not valid JSON: {exc}") from exc
        with np.load(path, allow_pickle=False) as data:
            return cls.from_dict({k: data[k] for k in data.files})


def _ridge_solve(x: np.ndarray, y: np.ndarray, ridge: float) -> np.ndarray:
    """argmin_c |x c - y|² + ridge |c|² (the intercept column unpenalised)."""
    gram = x.T @ x
    reg = np.full(x.shape[1], ridge * max(np.trace(gram) / x.shape[1], 1.0))
    reg[0] = 0.0
    return np.linalg.solve(gram + np.diag(reg), x.T @ y)


def to_head_local(
    landmarks: np.ndarray, head_position: np.ndarray, head_rotation: np.ndarray
) -> np.ndarray:
    """World landmarks into the head joint's frame (the inverse of the skeleton's placement).

    landmarks: (T, 51, 3) world; head_position: (T, 3); head_rotation: (T, 3, 3) global
    returns: (T, 51, 3) float32 head-local landmarks
    """
    lm = np.asarray(landmarks, np.float32)
    pos = np.asarray(head_position, np.float32)
    rot = np.asarray(head_rotation, np.float32)
    if lm.ndim != 3 or lm.shape[1:] != (NUM_FACE_LANDMARKS, 3):
        raise InputError(f"landmarks must have shape (T, {NUM_FACE_LANDMARKS}, 3); got {lm.shape}")
    if pos.shape != (lm.shape[0], 3) or rot.shape != (lm.shape[0], 3, 3):
        raise InputError(
            f"head_position/head_rotation must be ({lm.shape[0]}, 3)/({lm.shape[0]}, 3, 3); "
            f"got {pos.shape}/{rot.shape}"
        )
    return np.einsum("tji,tlj->tli", rot, lm - pos[:, None, :]).astype(np.float32)
