"""The 106-float pose contract: slices, loss weights, smplx kwargs, full-pose conversion."""

from __future__ import annotations

import numpy as np
import pytest

from speech2video.body import pose_layout as pl
from speech2video.errors import InputError


def _basis(seed: int = 0) -> pl.HandBasis:
    rng = np.random.default_rng(seed)
    q_l = np.linalg.qr(rng.normal(size=(45, 45)))[0][:12].astype(np.float32)
    q_r = np.linalg.qr(rng.normal(size=(45, 45)))[0][:12].astype(np.float32)
    return pl.HandBasis(q_l, q_r, rng.normal(size=45).astype(np.float32) * 0.1, np.zeros(45, "f4"))


def test_slices_tile_the_vector_exactly_once() -> None:
    cover = np.zeros(pl.POSE_DIM, int)
    for s in (
        pl.BODY,
        pl.JAW,
        pl.LEFT_EYE,
        pl.RIGHT_EYE,
        pl.LEFT_HAND,
        pl.RIGHT_HAND,
        pl.EXPRESSION,
    ):
        cover[s] += 1
    assert cover.tolist() == [1] * 106
    assert (pl.ROTATIONS.stop - pl.ROTATIONS.start) == 3 * pl.NUM_ROTATIONS == 72
    assert pl.HANDS.stop - pl.HANDS.start == 24 and pl.EXPRESSION.stop == 106


def test_column_weights_follow_the_paper() -> None:
    w = pl.column_weights()
    assert set(w[pl.BODY]) == {1.0}
    assert set(w[pl.HANDS]) == {4.0}
    assert set(w[pl.JAW]) == {100.0}
    assert set(w[pl.EXPRESSION]) == {100.0} and set(w[pl.EYES]) == {100.0}
    assert pl.column_weights({"hands": 2.0})[pl.HANDS].tolist() == [2.0] * 24
    with pytest.raises(InputError, match="unknown loss group"):
        pl.column_weights({"feet": 1.0})


def test_smplx_kwargs_round_trip() -> None:
    poses = np.random.default_rng(1).normal(size=(5, 106)).astype(np.float32)
    kw = pl.to_smplx_kwargs(poses, betas=np.arange(10), global_orient=[0.1, 0.2, 0.3])
    assert kw["body_pose"].shape == (5, 63) and kw["left_hand_pose"].shape == (5, 12)
    assert kw["betas"].shape == (5, 10) and np.allclose(kw["global_orient"][3], [0.1, 0.2, 0.3])
    np.testing.assert_array_equal(pl.from_smplx_kwargs(kw), poses)


def test_full_pose_round_trip_through_hand_basis() -> None:
    basis = _basis()
    poses = np.random.default_rng(2).normal(size=(4, 106)).astype(np.float32)
    poses[:, pl.EXPRESSION] = 0.0
    full = pl.to_full_pose(poses, basis, global_orient=np.array([0.0, 1.0, 0.0]))
    assert full.shape == (4, 165)
    np.testing.assert_allclose(full[:, pl.FULL_GLOBAL], [[0, 1, 0]] * 4)
    np.testing.assert_allclose(full[:, pl.FULL_JAW], poses[:, pl.JAW])
    back, orient = pl.from_full_pose(full, basis)
    np.testing.assert_allclose(back, poses, atol=1e-4)
    np.testing.assert_allclose(orient[0], [0, 1, 0])


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.zeros((3, 105)), r"shape \(T, 106\)"),
        (np.zeros(106), "shape"),
        (np.full((2, 106), np.nan), "NaN"),
    ],
)
def test_check_poses_names_the_fault(bad: np.ndarray, message: str) -> None:
    with pytest.raises(InputError, match=message):
        pl.check_poses(bad)
