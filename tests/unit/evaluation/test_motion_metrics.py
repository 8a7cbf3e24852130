"""Motion metrics on constructed data: known offsets give known errors."""

from __future__ import annotations

import numpy as np
import pytest

from speech2video.body import pose_layout as pl
from speech2video.body.camera import PinholeCamera
from speech2video.body.skeleton_model import OpenSkeletonModel
from speech2video.errors import InputError
from speech2video.evaluation import motion_metrics as mm


def test_mouth_pixel_error_known_offset_and_confidence() -> None:
    rng = np.random.default_rng(0)
    detected = rng.uniform(0, 200, (10, 20, 2))
    predicted = detected + np.array([3.0, 4.0])  # 5 px everywhere
    assert mm.mouth_pixel_error(predicted, detected) == pytest.approx(5.0)
    # landmarks with zero confidence do not count, however wrong they are
    predicted[:, :5] += 100.0
    conf = np.ones((10, 20))
    conf[:, :5] = 0.0
    assert mm.mouth_pixel_error(predicted, detected, conf) == pytest.approx(5.0)
    # half-weight landmarks count half
    conf2 = np.ones((10, 20))
    off = detected.copy()
    off[:, :10] += [6.0, 8.0]  # 10 px, weight 1; the rest 0 px, weight 1
    assert mm.mouth_pixel_error(off, detected, conf2) == pytest.approx(5.0)
    assert np.isnan(mm.mouth_pixel_error(predicted, detected, np.zeros((10, 20))))


def test_project_mouth_through_body_model_and_camera() -> None:
    model = OpenSkeletonModel.default()
    camera = PinholeCamera.framing(256, 256)
    poses = np.zeros((4, pl.POSE_DIM), np.float32)
    poses[2:, pl.JAW] = [0.3, 0.0, 0.0]  # open the jaw on the last two frames
    mouth = mm.project_mouth(poses, model, camera)
    assert mouth.shape == (4, 20, 2)
    assert np.all((mouth > 0) & (mouth < 256))
    opening = mm.mouth_opening(mouth)
    assert opening[2] > opening[0] + 0.5
    shifted = mouth + np.array([3.0, 4.0])
    assert mm.mouth_pixel_error(shifted, mouth) == pytest.approx(5.0, abs=1e-4)


def test_part_errors_and_diversity() -> None:
    target = np.zeros((6, pl.POSE_DIM), np.float32)
    pred = target.copy()
    pred[:, pl.HANDS] = 0.1
    errs = mm.part_errors(pred, target)
    assert errs["hands"] == pytest.approx(0.1)
    assert errs["body"] == errs["jaw"] == errs["face"] == 0.0
    assert mm.motion_diversity(target) == {p: 0.0 for p in mm.PARTS}
    alt = target.copy()
    alt[::2, 0], alt[1::2, 0] = 0.5, -0.5  # each frame 0.5 from the mean in one body column
    assert mm.motion_diversity(alt)["body"] == pytest.approx(0.5)
    assert mm.match_length(alt[:4], 6).shape == (6, pl.POSE_DIM)


ONSETS = np.array([0.7, 1.9, 2.6, 4.1, 5.0, 6.3, 7.7, 8.4, 9.3])


def _features(onsets: np.ndarray, seconds: float = 10.0) -> np.ndarray:
    feats = np.zeros((int(seconds * 100), 28), np.float32)
    feats[:, mm.LOG_VOLUME_COLUMN] = -10.0
    for t in onsets:
        i = round(t * 100)
        feats[i : i + 20, mm.LOG_VOLUME_COLUMN] = 0.0  # 200 ms bursts
    return feats


def _motion_with_minima(beat_times: np.ndarray, fps: float = 25.0, seconds: float = 10.0):
    t = np.arange(int(seconds * fps)) / fps
    nearest = np.abs(t[:, None] - beat_times[None, :]).min(axis=1)
    speed = 0.05 + 1.0 - np.exp(-(nearest**2) / (2 * 0.08**2))
    poses = np.zeros((t.size, pl.POSE_DIM), np.float32)
    poses[:, 0] = np.cumsum(speed) / fps
    return poses


def test_audio_onsets_found_at_bursts() -> None:
    found = mm.audio_onsets(_features(ONSETS))
    assert found.size == ONSETS.size
    assert np.max(np.abs(found - ONSETS)) <= 0.03


def test_beat_consistency_aligned_beats_random() -> None:
    fps = 25.0
    onsets = mm.audio_onsets(_features(ONSETS))
    aligned = mm.motion_beats(_motion_with_minima(ONSETS, fps), fps)
    assert np.max(np.abs(aligned[:, None] - ONSETS[None]).min(axis=1)) <= 1.01 / fps
    rng = np.random.default_rng(3)
    scores = []
    for _ in range(5):
        random_times = np.sort(rng.uniform(0.3, 9.7, ONSETS.size))
        beats = mm.motion_beats(_motion_with_minima(random_times, fps), fps)
        scores.append(mm.beat_consistency(onsets, beats))
    good = mm.beat_consistency(onsets, aligned)
    assert good > 0.8
    assert good > max(scores) + 0.2
    still = np.zeros((250, pl.POSE_DIM), np.float32)
    assert mm.motion_beats(still, fps).size == 0
    assert mm.beat_consistency(onsets, mm.motion_beats(still, fps)) == 0.0


def test_mouth_shape_error_ignores_where_the_mouth_is() -> None:
    from speech2video.evaluation.motion_metrics import mouth_pixel_error, mouth_shape_error

    rng = np.random.default_rng(0)
    detected = rng.normal(size=(6, 20, 2)) * 5 + 100
    moved = detected + np.array([7.0, -3.0])  # the head put the mouth elsewhere
    assert mouth_pixel_error(moved, detected) == pytest.approx(np.hypot(7, 3))
    assert mouth_shape_error(moved, detected) == pytest.approx(0.0, abs=1e-9)
    opened = detected.copy()
    opened[:, 10:, 1] += 2.0  # the lower half of the landmarks 2 px further down
    assert mouth_shape_error(opened, detected) == pytest.approx(1.0)  # each point 1 px off
    with pytest.raises(InputError):
        mouth_shape_error(detected[:, :5], detected)


def test_jaw_opening_and_correlation() -> None:
    from speech2video.evaluation.motion_metrics import correlation, jaw_opening

    poses = np.zeros((20, 106), np.float32)
    poses[:, 63] = np.sin(np.arange(20) / 3.0)
    np.testing.assert_array_equal(jaw_opening(poses), poses[:, 63])
    assert correlation(poses[:, 63], 2 * poses[:, 63] + 1) == pytest.approx(1.0)
    assert correlation(poses[:, 63], -poses[:, 63]) == pytest.approx(-1.0)
    assert correlation(poses[:, 63], np.zeros(20)) == 0.0  # a still pose has no correlation
    with pytest.raises(InputError, match="one length"):
        correlation(np.zeros(3), np.zeros(4))


def test_other_audio_is_cut_or_tiled_to_the_clip() -> None:
    from speech2video.evaluation.baselines import other_features

    feats = np.arange(10, dtype=np.float32).reshape(5, 2)
    np.testing.assert_array_equal(other_features(feats, 3), feats[:3])
    tiled = other_features(feats, 12)
    assert tiled.shape == (12, 2)
    np.testing.assert_array_equal(tiled[5:10], feats)
    with pytest.raises(InputError, match="non-empty"):
        other_features(np.zeros((0, 2)), 3)
