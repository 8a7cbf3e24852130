"""Readability of generated frames (evaluation/readability.py): detection rates and mouth
agreement, with the real keypoint detector on frames without a person and on the real clip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from speech2video.errors import InputError
from speech2video.evaluation.readability import correlation, detect_parts, readability


def test_correlation_ignores_missing_frames_and_constants() -> None:
    a = np.array([0.0, 1.0, 2.0, np.nan, 4.0])
    assert correlation(a, 2 * a + 1) == pytest.approx(1.0)
    assert correlation(a, -a) == pytest.approx(-1.0)
    assert correlation(a, np.ones(5)) == 0.0
    assert np.isnan(correlation(np.array([1.0, np.nan]), np.array([1.0, 2.0])))


def test_frames_without_a_person_read_as_nothing() -> None:
    frames = [np.full((96, 96, 3), 40 + i, np.uint8) for i in range(4)]
    parts = detect_parts(frames, 15.0)
    assert parts.face_rate == 0.0 and parts.hands_rate == 0.0
    assert np.all(np.isnan(parts.mouth))
    poses = np.zeros((4, 106))
    scores = readability(frames, frames, poses, 15.0)
    assert scores["detect_all_real"] == 0.0 and np.isnan(scores["detect_all_ratio"])
    with pytest.raises(InputError, match="as many generated frames"):
        readability(frames, frames[:3], poses, 15.0)


@pytest.mark.slow
def test_the_real_host_reads_fully(shared_data: Path) -> None:
    from speech2video.render.video_io import iter_frames

    clip = shared_data / "video" / "SHOW_half_oliver.mp4"
    if not clip.is_file():
        pytest.skip(f"{clip} absent")
    frames = [f for i, f in enumerate(iter_frames(clip)) if i < 45]
    parts = detect_parts(frames, 30.0)
    assert parts.face_rate == 1.0 and parts.hands_rate >= 0.9
    assert np.nanmax(parts.mouth) > 2 * np.nanmin(parts.mouth)  # the host talks: the lips move
    poses = np.zeros((45, 106))
    poses[:, 63] = parts.mouth  # a driving jaw that follows the real mouth
    scores = readability(frames, frames, poses, 30.0)
    assert scores["detect_all_ratio"] == pytest.approx(1.0)
    assert scores["mouth_pose_corr"] == pytest.approx(1.0)
