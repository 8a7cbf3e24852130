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
    person_region,
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


def _square_region(i: int, f: Framing) -> np.ndarray:
    """The person region of :func:`_scene`'s frame ``i``: the square's corners, not grown."""
    x0, x1 = 140 + 3 * i, 179 + 3 * i
    corners = np.array([[x0, 60], [x1, 60], [x0, 119], [x1, 119]], np.float32)
    return person_region(corners, np.empty((0, 2)), f, grow=0.0)


def test_a_person_free_plate_has_no_ghost_of_the_person() -> None:
    """Where the square only passes, the person-free plate is the background exactly; where it
    always is (x 164-179), ``fill`` keeps the median's copy of it or inpaints it away."""
    yy, xx = np.mgrid[0:H, 0:W]
    background = np.stack([xx // 2, yy, np.full_like(xx, 100)], -1).astype(np.uint8)
    frames = []
    for i in range(9):
        frame = background.copy()
        frame[60:120, 140 + 3 * i : 180 + 3 * i] = (250, 20, 20)
        frames.append(frame)
    f = Framing(0, 0, W, H, W, H, 1.0)
    people = [_square_region(i, f) for i in range(len(frames))]
    median = background_plate(frames, f)
    kept = background_plate(frames, f, people)
    plate = background_plate(frames, f, people, fill="inpaint")
    assert tuple(median[90, 157]) == (250, 20, 20)  # a ghost where the square passed (7 of 9)
    assert tuple(kept[90, 157]) == tuple(background[90, 157])  # free in the other 2
    assert tuple(median[90, 170]) == tuple(kept[90, 170]) == (250, 20, 20)  # where it always is
    passed = (slice(62, 118), slice(142, 157))
    assert np.abs(kept[passed].astype(int) - background[passed]).max() <= 1
    assert np.abs(plate[passed].astype(int) - background[passed]).max() <= 1
    always = (slice(62, 118), slice(166, 178))
    assert np.abs(plate[always].astype(int) - background[always]).mean() < 20
    assert np.abs(median[always].astype(int) - background[always]).mean() > 60
    assert np.array_equal(plate[:50], background[:50])  # never covered: untouched
    with pytest.raises(InputError, match="covers every pixel"):
        background_plate(frames, f, [None] * len(frames), fill="inpaint")
    assert np.array_equal(background_plate(frames, f, [None] * len(frames)), median)
    with pytest.raises(InputError, match="fill must be 'median' or 'inpaint'"):
        background_plate(frames, f, people, fill="blur")
    with pytest.raises(InputError, match="8 person regions for 9 frames"):
        background_plate(frames, f, people[:8])
    with pytest.raises(InputError, match="person region is"):
        background_plate(frames, f, [m[:10] for m in people])


def test_the_person_region_covers_the_hull_and_the_head() -> None:
    f = Framing(0, 0, W, H, W, H, 0.5)
    joints = np.array([[100, 100], [200, 100], [150, 170]], np.float32)
    face = np.array([[140, 60], [160, 60], [150, 80]], np.float32)  # brows to chin, 20 px
    region = person_region(joints, face, f)
    assert region.shape == (H // 2, W // 2)
    assert region[65, 75]  # inside the hull (source 150, 130)
    assert region[24, 75]  # above the brows (source y 48): the head disk
    assert not region[5, 10] and not region[85, 150]
    assert region[48, 46]  # the hull grown by 12 % of its 100 px side (source 92, 96)
    assert not person_region(joints, face, f, grow=0.0)[48, 46]
    assert not person_region(np.empty((0, 2)), np.empty((0, 2)), f).any()


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
