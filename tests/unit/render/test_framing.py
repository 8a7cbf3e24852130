"""Framing (render/framing.py): the crop around the speaker, cropping frames, the background
plate, putting a rendered crop back into the frame, and the profile that carries it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from speech2video.body.camera import PinholeCamera
from speech2video.body.skeleton_model import OpenSkeletonModel
from speech2video.errors import InputError
from speech2video.model_set import SpeakerProfile, load_speaker_profile, save_speaker_profile
from speech2video.render.framing import (
    FEATHER_PX,
    Framing,
    background_plate,
    composite,
    crop_frame,
    framing_from_points,
    load_framing,
    save_framing,
)

W, H = 320, 180


def test_the_crop_holds_the_points_with_a_margin_and_ignores_strays() -> None:
    rng = np.random.default_rng(0)
    body = rng.uniform([120, 40], [200, 170], (4000, 2))
    strays = np.array([[2.0, 2.0], [310.0, 5.0]])
    f = framing_from_points(np.concatenate([body, strays]), (W, H), max_side=256)
    assert 100 <= f.x <= 120 and 20 <= f.y <= 40  # margin of ~12 % of the 80 x 130 box
    assert f.x + f.width >= 200 and f.y + f.height == H  # clipped at the bottom edge
    assert f.scale == pytest.approx(min(1.0, 256 / max(f.width, f.height)))
    big = framing_from_points(body, (W, H), max_side=512)
    assert big.scale == 1.0  # never upscaled past the source
    assert all(v % 2 == 0 for v in (*f.render_size, *f.frame_size))
    with pytest.raises(InputError, match="too few keypoints"):
        framing_from_points(body[:2], (W, H), 256)


def test_framing_outside_the_frame_is_refused() -> None:
    with pytest.raises(InputError, match="outside"):
        Framing(300, 0, 40, 40, W, H, 1.0)


def _scene(n: int = 9) -> list[np.ndarray]:
    """A fixed background with a moving square (the 'person')."""
    yy, xx = np.mgrid[0:H, 0:W]
    background = np.stack([xx % 256, yy % 256, (xx + yy) % 256], -1).astype(np.uint8)
    frames = []
    for i in range(n):
        f = background.copy()
        f[60:120, 140 + 3 * i : 180 + 3 * i] = (250, 20, 20)
        frames.append(f)
    return frames


def test_composite_of_a_crop_rebuilds_the_frame() -> None:
    frames = _scene()
    f = Framing(100, 30, 140, 140, W, H, 0.5)
    plate = background_plate(frames, f)
    assert plate.shape == (H // 2, W // 2, 3)
    framed = Framing(**{**f.to_dict(), "background": plate})
    crop = crop_frame(frames[4], framed)
    assert crop.shape == (70, 70, 3)
    full = composite(crop, framed)
    assert full.shape == plate.shape
    import cv2

    want = cv2.resize(frames[4], framed.frame_size, interpolation=cv2.INTER_AREA).astype(int)
    inner = (slice(15 + FEATHER_PX, 85 - FEATHER_PX), slice(50 + FEATHER_PX, 120 - FEATHER_PX))
    assert np.abs(full[inner].astype(int) - want[inner]).max() <= 2  # the crop, as rendered
    assert np.array_equal(full[:10, :40], plate[:10, :40])  # outside: the plate
    with pytest.raises(InputError, match="renders 70x70"):
        composite(crop[:10], framed)
    with pytest.raises(InputError, match="framing is for"):
        crop_frame(frames[0][:50], framed)


def test_framing_and_profile_round_trip(tmp_path: Path) -> None:
    plate = np.full((90, 160, 3), 77, np.uint8)
    f = Framing(100, 30, 140, 140, W, H, 0.5, plate)
    save_framing(tmp_path / "a", f)
    back = load_framing(tmp_path / "a")
    assert back is not None and back.to_dict() == f.to_dict()
    assert np.array_equal(back.background, plate)
    assert load_framing(tmp_path / "nothing") is None
    model = OpenSkeletonModel.default()
    camera = PinholeCamera.framing(70, 70, model.rest_joints)
    profile = SpeakerProfile("s", 30.0, 70, 70, model, camera, f)
    save_speaker_profile(tmp_path / "bm", profile)
    loaded = load_speaker_profile(tmp_path / "bm")
    assert loaded.framing is not None and loaded.framing.to_dict() == f.to_dict()
    plain = SpeakerProfile("s", 30.0, 64, 64, model, camera)
    save_speaker_profile(tmp_path / "plain", plain)
    assert load_speaker_profile(tmp_path / "plain").framing is None
    with pytest.raises(InputError, match="framing renders"):
        save_speaker_profile(tmp_path / "bad", SpeakerProfile("s", 30.0, 64, 64, model, camera, f))


def test_synthesis_puts_rendered_crops_back_into_the_frame() -> None:
    from speech2video import synthesis
    from speech2video.body.motion_file import Motion
    from speech2video.fitting.pose_prior import mean_pose

    class EchoRenderer:  # stands in for the vid2vid generator: returns the skeleton image
        def render_images(self, skeletons, chunk=1):
            yield from skeletons

    model = OpenSkeletonModel.default()
    camera = PinholeCamera.framing(70, 70, model.rest_joints)
    f = Framing(100, 30, 140, 140, W, H, 0.5, np.zeros((90, 160, 3), np.uint8))
    profile = SpeakerProfile("s", 15.0, 70, 70, model, camera, f)
    motion = Motion(np.tile(mean_pose(), (3, 1)), 15.0)
    frames = list(synthesis.render_frames(EchoRenderer(), profile, motion, chunk_frames=2))
    assert len(frames) == 3 and frames[0].shape == (90, 160, 3)
    assert frames[0][15:85, 50:120].any() and not frames[0][:, :40].any()
