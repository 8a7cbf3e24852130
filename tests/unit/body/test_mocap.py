"""Mocap (AMASS/BEAT2 SMPL-X) → 106-float contract: mapping, hand PCA, clear rejections."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from speech2video.body import pose_layout as pl
from speech2video.body.mocap import (
    check_audio_length,
    check_mocap,
    fit_mocap_hand_basis,
    load_mocap,
    mocap_to_motion,
)
from speech2video.errors import InputError


def _arrays(t: int = 40, fps: float = 30.0, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    poses = rng.normal(scale=0.2, size=(t, 165)).astype(np.float32)
    # fingers on a 3-D subspace per hand, so 12 PCA components reconstruct them exactly
    for sl in (pl.FULL_LHAND, pl.FULL_RHAND):
        poses[:, sl] = rng.normal(size=(t, 3)) @ rng.normal(scale=0.3, size=(3, 45)) + 0.1
    return {
        "poses": poses,
        "expressions": rng.normal(size=(t, 100)),
        "betas": rng.normal(size=300).astype(np.float32),
        "trans": rng.normal(size=(t, 3)),
        "mocap_frame_rate": np.int32(fps),
    }


def test_mapping_copies_joints_and_first_ten_expressions() -> None:
    arrays = _arrays()
    rec = check_mocap(arrays, "a")
    basis = fit_mocap_hand_basis([rec])
    conv = mocap_to_motion(rec, basis, "scott")
    m = conv.motion
    full = arrays["poses"]
    assert m.poses.shape == (40, 106) and m.fps == 30.0 and m.speaker == "scott"
    np.testing.assert_allclose(m.poses[:, pl.BODY], full[:, pl.FULL_BODY])
    np.testing.assert_allclose(m.poses[:, pl.JAW], full[:, pl.FULL_JAW])
    np.testing.assert_allclose(m.poses[:, pl.EYES], full[:, 69:75])
    np.testing.assert_allclose(m.poses[:, pl.EXPRESSION], arrays["expressions"][:, :10], rtol=1e-6)
    np.testing.assert_allclose(m.global_orient, full[0, :3])
    np.testing.assert_allclose(m.betas, arrays["betas"][:10])
    # hands: the fitted basis reconstructs the (rank-3) finger poses
    left, right = basis.to_axis_angle(m.poses)
    np.testing.assert_allclose(left, full[:, pl.FULL_LHAND], atol=1e-4)
    np.testing.assert_allclose(right, full[:, pl.FULL_RHAND], atol=1e-4)
    assert conv.hand_variance_kept == pytest.approx(1.0, abs=1e-4)
    assert 0.0 < conv.expression_kept < 0.3  # 10 of 100 equal-variance coefficients


def test_without_expressions_the_face_is_zero(tmp_path: Path) -> None:
    arrays = _arrays()
    del arrays["expressions"]
    np.savez(tmp_path / "b.npz", **arrays)
    rec = load_mocap(tmp_path / "b.npz")
    assert rec.name == "b" and rec.expressions is None
    conv = mocap_to_motion(rec, fit_mocap_hand_basis([rec]))
    assert np.all(conv.motion.poses[:, pl.EXPRESSION] == 0.0) and conv.expression_kept == 1.0


@pytest.mark.parametrize(
    "change, message",
    [
        ({"poses": np.zeros((40, 72), "f4")}, r"SMPL-X \(T, 165\).*SMPL \(24 joints\)"),
        ({"poses": np.zeros((40, 156), "f4")}, "SMPL-H"),
        ({"poses": np.full((40, 165), 90.0, "f4")}, "not axis-angle in radians"),
        ({"poses": np.full((40, 165), np.nan, "f4")}, "finite"),
        ({"mocap_frame_rate": np.float32(0.0)}, "0 frames per second"),
        ({"mocap_frame_rate": np.zeros(3)}, "must be one number"),
        ({"expressions": np.zeros((39, 100))}, "key 'expressions' must be"),
        ({"expressions": np.zeros((40, 5))}, "E >= 10"),
        ({"trans": np.zeros((40, 2))}, "key 'trans'"),
    ],
)
def test_bad_layouts_are_rejected_by_name(change: dict, message: str) -> None:
    arrays = {**_arrays(), **change}
    with pytest.raises(InputError, match=message):
        check_mocap(arrays, "bad")


def test_missing_keys_and_files(tmp_path: Path) -> None:
    arrays = _arrays()
    del arrays["mocap_frame_rate"]
    with pytest.raises(InputError, match="lacks the key 'mocap_frame_rate'"):
        check_mocap(arrays)
    with pytest.raises(InputError, match="lacks the key 'poses'"):
        check_mocap({"mocap_frame_rate": np.int32(30)})
    with pytest.raises(InputError, match="not found"):
        load_mocap(tmp_path / "missing.npz")
    (tmp_path / "x.npz").write_text("text")
    with pytest.raises(InputError, match=r"not a readable \.npz"):
        load_mocap(tmp_path / "x.npz")


def test_length_mismatch_with_the_audio_names_both_durations() -> None:
    rec = check_mocap(_arrays(t=300, fps=30.0), "c")  # 10 s
    check_audio_length(rec, 10.2)
    with pytest.raises(InputError, match=r"motion lasts 10.00 s .* audio 5.00 s"):
        check_audio_length(rec, 5.0)
    wrong_rate = check_mocap(_arrays(t=300, fps=60.0), "c")  # claims 5 s
    with pytest.raises(InputError, match="wrong mocap_frame_rate"):
        check_audio_length(wrong_rate, 10.0)


@pytest.mark.slow
def test_the_shared_beat2_recording_converts(shared_data: Path) -> None:
    path = shared_data / "motion" / "BEAT2_2_scott_0_1_1_first40s.npz"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    rec = load_mocap(path)
    check_audio_length(rec, 40.0)
    conv = mocap_to_motion(rec, fit_mocap_hand_basis([rec]), "scott")
    assert conv.motion.poses.shape == (1200, 106) and conv.motion.fps == 30.0
    # the speaker's own PCA keeps most of the finger motion; jaw moves (speech)
    assert conv.hand_variance_kept > 0.8
    assert conv.motion.poses[:, pl.JAW][:, 0].std() > 1e-3
