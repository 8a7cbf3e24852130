"""Motion .npz files: round trip, rejection naming the key, AMASS/BEAT2 export."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from speech2video.body import pose_layout as pl
from speech2video.body.motion_file import Motion, export_amass, load_amass, load_motion, save_motion
from speech2video.errors import InputError


def _motion(t: int = 6) -> Motion:
    rng = np.random.default_rng(0)
    return Motion(rng.normal(size=(t, 106)).astype(np.float32) * 0.1, 30.0,
                  betas=np.arange(10, dtype=np.float32), global_orient=np.array([0.0, 0.1, 0.0]),
                  speaker="demo")  # fmt: skip


def test_round_trip(tmp_path: Path) -> None:
    m = _motion()
    save_motion(tmp_path / "m.npz", m)
    back = load_motion(tmp_path / "m.npz")
    np.testing.assert_array_equal(back.poses, m.poses)
    assert back.fps == 30.0 and back.speaker == "demo"
    np.testing.assert_array_equal(back.betas, m.betas)
    assert back.duration == pytest.approx(6 / 30)


@pytest.mark.parametrize(
    "arrays, message",
    [
        ({"fps": 30.0}, "lacks the key 'poses'"),
        ({"poses": np.zeros((3, 106), "f4")}, "lacks the key 'fps'"),
        ({"poses": np.zeros((3, 100), "f4"), "fps": 30.0}, "key 'poses' must have shape"),
        ({"poses": np.zeros((0, 106), "f4"), "fps": 30.0}, "no frames"),
        ({"poses": np.zeros((3, 106), "f4"), "fps": 30.0, "betas": np.zeros(9)}, "key 'betas'"),
        ({"poses": np.zeros((3, 106), "f4"), "fps": -1.0}, "fps must be a positive"),
    ],
)
def test_bad_files_are_rejected_naming_the_key(tmp_path: Path, arrays: dict, message: str) -> None:
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(InputError, match=message):
        load_motion(path)


def test_not_an_npz(tmp_path: Path) -> None:
    (tmp_path / "x.npz").write_text("hello")
    with pytest.raises(InputError, match=r"not a readable \.npz"):
        load_motion(tmp_path / "x.npz")
    with pytest.raises(InputError, match="not found"):
        load_motion(tmp_path / "missing.npz")


def test_amass_export_layout(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    basis = pl.HandBasis(*(np.linalg.qr(rng.normal(size=(45, 45)))[0][:12] for _ in range(2)),
                         np.zeros(45, "f4"), np.zeros(45, "f4"))  # fmt: skip
    m = _motion()
    export_amass(tmp_path / "a.npz", m, basis)
    with np.load(tmp_path / "a.npz") as data:
        assert data["poses"].shape == (6, 165)
        assert data["expressions"].shape == (6, 10)
        assert data["trans"].shape == (6, 3) and data["betas"].shape == (10,)
        assert float(data["mocap_frame_rate"]) == 30.0
        np.testing.assert_allclose(data["poses"][:, 3:66], m.poses[:, :63])
    back, trans = load_amass(tmp_path / "a.npz", basis)
    np.testing.assert_allclose(back.poses[:, :72], m.poses[:, :72], atol=1e-6)
    np.testing.assert_allclose(back.poses[:, pl.EXPRESSION], m.poses[:, pl.EXPRESSION])
    np.testing.assert_allclose(back.global_orient, m.global_orient)
    assert trans.shape == (6, 3)
