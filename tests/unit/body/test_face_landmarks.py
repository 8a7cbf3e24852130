"""Linear face model: the default face's layout, jaw opening, expressions, fitting, files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from speech2video.body.face_landmarks import (
    BROWS,
    EXPRESSION_NAMES,
    LOWER_LIP,
    UPPER_LIP,
    LinearFaceModel,
    to_head_local,
)
from speech2video.body.joint_tree import FACE_REGIONS
from speech2video.body.rotations import axis_angle_to_matrix
from speech2video.errors import InputError, NotFoundError


def _params(
    jaw: list[float], expr: dict[str, float] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    e = np.zeros((1, 10), np.float32)
    for name, value in (expr or {}).items():
        e[0, EXPRESSION_NAMES.index(name)] = value
    return np.array([jaw], np.float32), e


def test_default_face_is_laid_out_like_a_face() -> None:
    face = LinearFaceModel.default()
    m = face.mean
    r = FACE_REGIONS
    assert m[list(r["right_brow"]), 1].min() > m[list(r["right_eye"]), 1].max()
    assert m[list(r["right_eye"]), 1].min() > m[list(r["nose_base"]), 1].max()
    assert m[list(r["nose_base"]), 1].min() > m[list(r["outer_lips"]), 1].max()
    assert np.all(m[list(r["right_eye"]), 0] < 0) and np.all(m[list(r["left_eye"]), 0] > 0)
    assert np.all(m[:, 2] > 0.05)  # on the front of the head
    # Left and right are mirror images.
    np.testing.assert_allclose(
        np.sort(m[list(r["left_brow"]), 0]), np.sort(-m[list(r["right_brow"]), 0])
    )


def test_jaw_opening_moves_lower_lip_down_and_not_the_brows() -> None:
    face = LinearFaceModel.default()
    closed = face.landmarks(*_params([0.0, 0.0, 0.0]))[0]
    opened = face.landmarks(*_params([0.3, 0.0, 0.0]))[0]
    drop = closed[list(LOWER_LIP), 1] - opened[list(LOWER_LIP), 1]
    assert np.all(drop > 0.015), drop  # about 2 cm at 0.3 rad
    np.testing.assert_array_equal(opened[list(BROWS)], closed[list(BROWS)])
    np.testing.assert_array_equal(opened[list(UPPER_LIP)], closed[list(UPPER_LIP)])
    inner = list(FACE_REGIONS["inner_lips"])
    gap_closed = closed[inner[2], 1] - closed[inner[6], 1]
    gap_open = opened[inner[2], 1] - opened[inner[6], 1]
    assert gap_open > gap_closed + 0.015


@pytest.mark.parametrize(
    ("name", "check"),
    [
        ("smile", lambda d, m: d[31, 1] > 0 and d[37, 1] > 0 and d[31, 0] < 0 < d[37, 0]),
        ("brow_raise", lambda d, m: np.all(d[list(BROWS), 1] > 0)),
        ("eye_close", lambda d, m: d[20, 1] < 0 and d[26, 1] < 0),
        ("pucker", lambda d, m: np.all(d[31:51, 2] > 0)),
        ("frown", lambda d, m: d[31, 1] < 0 and d[37, 1] < 0),
    ],
)
def test_expression_components_move_the_expected_landmarks(name: str, check) -> None:
    face = LinearFaceModel.default()
    base = face.landmarks(*_params([0, 0, 0]))[0]
    moved = face.landmarks(*_params([0, 0, 0], {name: 1.0}))[0]
    assert check(moved - base, face.mean), name


def test_fit_recovers_known_bases_from_known_parameters() -> None:
    rng = np.random.default_rng(0)
    truth = LinearFaceModel.default()
    jaw = rng.normal(scale=0.15, size=(80, 3)).astype(np.float32)
    expr = rng.normal(size=(80, 10)).astype(np.float32)
    observed = truth.landmarks(jaw, expr) + rng.normal(scale=1e-5, size=(80, 51, 3))
    fitted = LinearFaceModel.fit(observed, jaw, expr)
    np.testing.assert_allclose(fitted.mean, truth.mean, atol=2e-5)
    np.testing.assert_allclose(fitted.jaw_basis, truth.jaw_basis, atol=2e-4)
    np.testing.assert_allclose(fitted.expression_basis, truth.expression_basis, atol=2e-5)


def test_fit_without_expression_estimates_a_subspace_that_explains_the_data() -> None:
    rng = np.random.default_rng(1)
    truth = LinearFaceModel.default()
    jaw = rng.normal(scale=0.15, size=(120, 3)).astype(np.float32)
    expr = rng.normal(size=(120, 10)).astype(np.float32)
    observed = truth.landmarks(jaw, expr)
    fitted = LinearFaceModel.fit(observed, jaw)
    basis = fitted.expression_basis.reshape(10, -1).astype(np.float64)
    resid = (observed - fitted.landmarks(jaw, np.zeros_like(expr))).reshape(120, -1)
    coef, *_ = np.linalg.lstsq(basis.T, resid.T, rcond=None)
    unexplained = resid.T - basis.T @ coef
    assert np.abs(unexplained).max() < 1e-5
    np.testing.assert_allclose(fitted.jaw_basis, truth.jaw_basis, atol=0.05)


def test_fit_rejects_too_few_frames_and_bad_shapes() -> None:
    with pytest.raises(InputError, match="at least 14 frames"):
        LinearFaceModel.fit(np.zeros((5, 51, 3)), np.zeros((5, 3)), np.zeros((5, 10)))
    with pytest.raises(InputError, match="jaw must have shape"):
        LinearFaceModel.fit(np.zeros((20, 51, 3)), np.zeros((20, 2)))
    with pytest.raises(InputError, match="landmarks must have shape"):
        LinearFaceModel.fit(np.zeros((20, 68, 3)), np.zeros((20, 3)))


def test_to_head_local_inverts_a_rigid_head_motion() -> None:
    face = LinearFaceModel.default()
    local = face.landmarks(*_params([0.1, 0, 0]))
    r = axis_angle_to_matrix(np.array([[0.2, -0.4, 0.1]], np.float32))
    pos = np.array([[0.1, 1.5, -0.2]], np.float32)
    world = pos[:, None] + np.einsum("tab,tlb->tla", r, local)
    np.testing.assert_allclose(to_head_local(world, pos, r), local, atol=1e-6)


@pytest.mark.parametrize("suffix", [".npz", ".json"])
def test_save_load_round_trip(tmp_path: Path, suffix: str) -> None:
    face = LinearFaceModel.default()
    path = face.save(tmp_path / f"face{suffix}")
    loaded = LinearFaceModel.load(path)
    np.testing.assert_array_equal(loaded.expression_basis, face.expression_basis)
    np.testing.assert_array_equal(loaded.jaw_basis, face.jaw_basis)
    with pytest.raises(NotFoundError, match="face model file not found"):
        LinearFaceModel.load(tmp_path / "missing.npz")
