"""Rotations: Rodrigues both ways, quaternions, slerp, torch agreement and gradients."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from speech2video.body import rotations as rot
from speech2video.errors import InputError


def _random_axis_angles(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    axes = rng.normal(size=(n, 3))
    axes /= np.linalg.norm(axes, axis=1, keepdims=True)
    angles = rng.uniform(0.0, np.pi - 1e-3, size=(n, 1))
    return axes * angles


EDGE_CASES = np.array(
    [
        [0.0, 0.0, 0.0],
        [1e-9, 0.0, 0.0],
        [0.0, 1e-6, -1e-6],
        [np.pi, 0.0, 0.0],
        [0.0, np.pi - 1e-7, 0.0],
        [np.pi / np.sqrt(2), np.pi / np.sqrt(2), 0.0],
    ]
)


def _rodrigues_reference(aa: np.ndarray) -> np.ndarray:
    """Textbook formula with an explicit unit axis (valid away from angle 0)."""
    theta = np.linalg.norm(aa)
    if theta < 1e-12:
        return np.eye(3)
    k = aa / theta
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + np.sin(theta) * kx + (1 - np.cos(theta)) * kx @ kx


def test_matrix_matches_textbook_rodrigues_and_is_a_rotation() -> None:
    aa = np.concatenate([_random_axis_angles(200), EDGE_CASES])
    mats = rot.axis_angle_to_matrix(aa)
    assert mats.shape == (len(aa), 3, 3)
    for a, m in zip(aa, mats, strict=True):
        np.testing.assert_allclose(m, _rodrigues_reference(a), atol=1e-9)
    np.testing.assert_allclose(
        mats @ np.swapaxes(mats, 1, 2), np.broadcast_to(np.eye(3), mats.shape), atol=1e-9
    )
    np.testing.assert_allclose(np.linalg.det(mats), 1.0, atol=1e-9)


def test_axis_angle_matrix_round_trip_including_zero_and_pi() -> None:
    aa = np.concatenate([_random_axis_angles(500, seed=1), EDGE_CASES])
    back = rot.matrix_to_axis_angle(rot.axis_angle_to_matrix(aa))
    # Near pi the axis may flip sign: compare the rotations, and the vectors away from pi.
    np.testing.assert_allclose(
        rot.axis_angle_to_matrix(back), rot.axis_angle_to_matrix(aa), atol=1e-7
    )
    away = np.linalg.norm(aa, axis=1) < np.pi - 1e-2
    np.testing.assert_allclose(back[away], aa[away], atol=1e-7)


def test_batched_shapes_are_preserved() -> None:
    aa = _random_axis_angles(24).reshape(2, 4, 3, 3)
    mats = rot.axis_angle_to_matrix(aa)
    assert mats.shape == (2, 4, 3, 3, 3)
    assert rot.matrix_to_axis_angle(mats).shape == (2, 4, 3, 3)
    assert rot.axis_angle_to_quaternion(aa).shape == (2, 4, 3, 4)


def test_quaternion_round_trips_and_composition() -> None:
    a, b = _random_axis_angles(50, seed=2), _random_axis_angles(50, seed=3)
    qa, qb = rot.axis_angle_to_quaternion(a), rot.axis_angle_to_quaternion(b)
    np.testing.assert_allclose(np.linalg.norm(qa, axis=-1), 1.0, atol=1e-12)
    np.testing.assert_allclose(rot.quaternion_to_axis_angle(qa), a, atol=1e-9)
    np.testing.assert_allclose(rot.quaternion_to_matrix(qa), rot.axis_angle_to_matrix(a), atol=1e-9)
    composed = rot.quaternion_to_matrix(rot.quaternion_multiply(qa, qb))
    expected = rot.axis_angle_to_matrix(a) @ rot.axis_angle_to_matrix(b)
    np.testing.assert_allclose(composed, expected, atol=1e-9)


def test_slerp_endpoints_and_midpoint_angle() -> None:
    a, b = _random_axis_angles(100, seed=4) * 0.9, _random_axis_angles(100, seed=5) * 0.9
    np.testing.assert_allclose(rot.slerp_axis_angle(a, b, 0.0), a, atol=1e-9)
    np.testing.assert_allclose(rot.slerp_axis_angle(a, b, 1.0), b, atol=1e-9)
    mid = rot.slerp_axis_angle(a, b, np.full(100, 0.5))
    total = rot.rotation_angle_between(a, b)
    np.testing.assert_allclose(rot.rotation_angle_between(a, mid), total / 2, atol=1e-9)
    np.testing.assert_allclose(rot.rotation_angle_between(mid, b), total / 2, atol=1e-9)


def test_slerp_about_one_axis_is_linear_in_angle() -> None:
    a = np.array([0.0, 0.0, 0.2], np.float32)
    b = np.array([0.0, 0.0, 1.4], np.float32)
    w = np.array([0.0, 0.25, 0.5, 1.0], np.float32)
    out = rot.slerp_axis_angle(np.broadcast_to(a, (4, 3)), np.broadcast_to(b, (4, 3)), w)
    assert out.dtype == np.float32 and out.shape == (4, 3)
    np.testing.assert_allclose(out[:, 2], 0.2 + 1.2 * w, atol=1e-6)
    np.testing.assert_allclose(out[:, :2], 0.0, atol=1e-7)


def test_slerp_broadcasts_per_frame_weights_over_joints_and_handles_equal_inputs() -> None:
    a = _random_axis_angles(5 * 24, seed=6).reshape(5, 24, 3)
    w = np.linspace(0, 1, 5)[:, None]  # (T, 1) broadcast over 24 joints
    out = rot.slerp_axis_angle(a, a, w)
    assert out.shape == (5, 24, 3)
    np.testing.assert_allclose(out, a, atol=1e-9)
    zero = np.zeros((3, 3))
    assert np.all(np.isfinite(rot.slerp_axis_angle(zero, zero, np.array([0.0, 0.5, 1.0]))))


def test_slerp_takes_the_short_way_round() -> None:
    # +170° and -170° about z are 20° apart: the midpoint is 180°, not 0°.
    a = np.array([0.0, 0.0, np.deg2rad(170)])
    b = np.array([0.0, 0.0, -np.deg2rad(170)])
    mid = rot.slerp_axis_angle(a, b, 0.5)
    assert np.isclose(np.linalg.norm(mid), np.pi, atol=1e-6)


def test_torch_versions_agree_and_have_finite_gradients_at_zero() -> None:
    aa = np.concatenate([_random_axis_angles(100, seed=7), EDGE_CASES[:3]])
    t = torch.tensor(aa, dtype=torch.float64, requires_grad=True)
    mats = rot.axis_angle_to_matrix_torch(t)
    np.testing.assert_allclose(mats.detach().numpy(), rot.axis_angle_to_matrix(aa), atol=1e-12)
    weights = torch.arange(9, dtype=torch.float64).reshape(3, 3)
    (mats * weights).sum().backward()
    assert t.grad is not None and torch.all(torch.isfinite(t.grad))
    # d/dx of R at 0 is the skew generator: check one component against finite differences.
    x = torch.zeros(1, 3, dtype=torch.float64, requires_grad=True)
    rot.axis_angle_to_matrix_torch(x)[0, 2, 1].backward()
    assert x.grad is not None and torch.allclose(
        x.grad, torch.tensor([[1.0, 0.0, 0.0]], dtype=torch.float64)
    )
    back = rot.matrix_to_axis_angle_torch(mats.detach())
    away = np.linalg.norm(aa, axis=1) < np.pi - 1e-2
    np.testing.assert_allclose(back.numpy()[away], aa[away], atol=1e-7)


def test_bad_shapes_raise_input_error_naming_the_shape() -> None:
    with pytest.raises(InputError, match=r"\(\.\.\., 3\)"):
        rot.axis_angle_to_matrix(np.zeros((4, 2)))
    with pytest.raises(InputError, match="3, 3"):
        rot.matrix_to_axis_angle(np.zeros((4, 3)))
    with pytest.raises(InputError):
        rot.slerp_axis_angle(np.zeros((2, 4)), np.zeros((2, 4)), 0.5)
