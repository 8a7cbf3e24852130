"""Stage keypoints: ground-truth projection for synthetic speakers; no person → a clean failure."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pipelines import ingest, keypoints
from pipelines.stage_io import StageError
from speech2video.audio.io import Audio
from speech2video.body.camera import PinholeCamera
from speech2video.body.motion_file import Motion, save_motion
from speech2video.body.skeleton_model import OpenSkeletonModel
from speech2video.fitting.keypoint_set import load_keypoints
from speech2video.fitting.pose_prior import mean_pose
from speech2video.model_set import SpeakerProfile, save_speaker_profile
from speech2video.render.video_io import write_video

W, H, N = 96, 64, 48


def synthetic_speaker(root: Path, params: dict) -> np.ndarray:
    """A speaker folder with one 1.6 s recording (blank frames, a tone) and ground truth;
    returns the true poses (N, 106) at the source rate."""
    spk = root / "speaker"
    (spk / "recordings").mkdir(parents=True)
    (spk / "speaker.yaml").write_text("speaker: s\nlanguage: en\n")
    t = np.arange(int(16000 * N / 30)) / 16000
    audio = Audio((0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 16000)
    write_video(spk / "recordings" / "r1.mp4", [np.zeros((H, W, 3), np.uint8)] * N, 30.0, audio)
    model = OpenSkeletonModel.default()
    camera = PinholeCamera.framing(W, H, model.rest_joints)
    save_speaker_profile(
        spk / "ground_truth" / "body_model", SpeakerProfile("s", 30.0, W, H, model, camera)
    )
    poses = np.tile(mean_pose(), (N, 1))
    poses[:, 63] = np.linspace(0.0, 0.3, N)  # the jaw opens
    save_motion(spk / "ground_truth" / "r1.npz", Motion(poses, 30.0, speaker="s"))
    base = {"speaker_dir": "speaker", "ingest": {"frame_step": 2}}
    (root / "params.yaml").write_text(json.dumps(base | params))
    return poses


def test_ground_truth_keypoints(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synthetic_speaker(tmp_path, {"keypoints": {"use_ground_truth": True}})
    monkeypatch.chdir(tmp_path)
    ingest.main()
    keypoints.main()
    kp = load_keypoints(tmp_path / "data/interim/keypoints/r1.npz")
    assert kp.joints.shape == (N // 2, 55, 2) and kp.landmarks.shape == (N // 2, 51, 2)
    assert np.all(kp.joint_conf == 1.0) and np.all(kp.landmark_conf == 1.0)
    mouth_gap = kp.landmarks[:, 48, 1] - kp.landmarks[:, 45, 1]  # inner lower - inner upper lip
    assert mouth_gap[-1] > mouth_gap[0]


def test_no_person_fails_naming_the_recording(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synthetic_speaker(tmp_path, {"keypoints": {"use_ground_truth": False}})
    monkeypatch.chdir(tmp_path)
    ingest.main()
    with pytest.raises(StageError, match=r"r1\.mp4: no detectable person"):
        keypoints.main()
    assert not (tmp_path / "data/interim/keypoints").exists()
