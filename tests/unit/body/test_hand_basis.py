"""Hand spaces: the open basis (orthonormal, mirrored, curls toward the palm) and PCA fitting."""

from __future__ import annotations

import numpy as np
import pytest

from speech2video.body.hand_basis import (
    FINGER_JOINTS,
    MIRROR,
    OPEN_COMPONENT_NAMES,
    fit_hand_basis,
    mirror_hand,
    open_hand_basis,
)
from speech2video.body.pose_layout import NUM_HAND_PCA
from speech2video.body.rotations import axis_angle_to_matrix
from speech2video.errors import InputError


def test_open_basis_rows_are_orthonormal_for_both_hands() -> None:
    basis = open_hand_basis()
    for comps in (basis.components_left, basis.components_right):
        assert comps.shape == (NUM_HAND_PCA, 45) and comps.dtype == np.float32
        np.testing.assert_allclose(comps @ comps.T, np.eye(NUM_HAND_PCA), atol=1e-6)
    assert len(OPEN_COMPONENT_NAMES) == NUM_HAND_PCA


def test_right_hand_is_the_mirror_of_the_left() -> None:
    basis = open_hand_basis()
    np.testing.assert_allclose(basis.components_right, basis.components_left * MIRROR)
    np.testing.assert_allclose(basis.mean_right, basis.mean_left * MIRROR)
    # A mirrored rotation is the reflection R' = S R S with S = diag(-1, 1, 1).
    s = np.diag([-1.0, 1.0, 1.0])
    left = basis.mean_left.reshape(15, 3).astype(np.float64)
    right = basis.mean_right.reshape(15, 3).astype(np.float64)
    np.testing.assert_allclose(
        axis_angle_to_matrix(right), s @ axis_angle_to_matrix(left) @ s, atol=1e-6
    )
    np.testing.assert_allclose(mirror_hand(mirror_hand(basis.mean_left)), basis.mean_left)


def test_open_basis_is_deterministic_and_not_shared_state() -> None:
    a, b = open_hand_basis(), open_hand_basis()
    np.testing.assert_array_equal(a.components_left, b.components_left)
    a.components_left[0, 0] = 99.0  # the caller's copy, not the cache
    assert open_hand_basis().components_left[0, 0] != 99.0


def test_fist_component_curls_fingers_toward_the_palm() -> None:
    basis = open_hand_basis()
    fist = basis.components_left[0].reshape(15, 3)
    # Left hand points +x with the palm down: rotating a finger about -z tips it toward -y.
    for finger in ("index", "middle", "ring", "pinky"):
        for j in FINGER_JOINTS[finger]:
            tip = axis_angle_to_matrix(fist[j].astype(np.float64)) @ np.array([1.0, 0.0, 0.0])
            assert tip[1] < 0, f"{finger} joint {j} does not curl toward the palm"
    mean = basis.mean_left.reshape(15, 3)
    assert np.all(mean[:12, 2] < 0)  # relaxed hand: fingers slightly curled


def test_pca_fit_recovers_a_low_dimensional_hand_space() -> None:
    rng = np.random.default_rng(0)
    truth = open_hand_basis()
    coeffs = rng.normal(size=(300, 5))
    left = coeffs @ truth.components_left[:5] + truth.mean_left
    right = coeffs @ truth.components_right[:5] + truth.mean_right
    fitted = fit_hand_basis(left, right)
    assert fitted.components_left.shape == (12, 45)
    np.testing.assert_allclose(
        fitted.components_left @ fitted.components_left.T, np.eye(12), atol=1e-5
    )
    np.testing.assert_allclose(fitted.mean_left, left.mean(axis=0), atol=1e-5)
    # The first 5 fitted rows span the true 5-D subspace: projecting the data loses nothing.
    poses = np.zeros((300, 106), np.float32)
    pl_l, pl_r = fitted.to_pca(left.astype(np.float32), right.astype(np.float32))
    poses[:, 72:84], poses[:, 84:96] = pl_l, pl_r
    rec_l, rec_r = fitted.to_axis_angle(poses)
    np.testing.assert_allclose(rec_l, left, atol=1e-4)
    np.testing.assert_allclose(rec_r, right, atol=1e-4)


def test_pca_fit_rejects_bad_input() -> None:
    with pytest.raises(InputError, match="left hand poses must have shape"):
        fit_hand_basis(np.zeros((10, 44)), np.zeros((10, 45)))
    with pytest.raises(InputError, match="at least 2"):
        fit_hand_basis(np.zeros((10, 45)), np.zeros((1, 45)))
    with pytest.raises(InputError, match="num_components"):
        fit_hand_basis(np.zeros((10, 45)), np.zeros((10, 45)), num_components=0)
