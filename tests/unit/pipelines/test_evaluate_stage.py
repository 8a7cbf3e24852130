"""The evaluate and register stages end to end on a tiny synthetic speaker in the data layout."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from speech2video.body.camera import PinholeCamera
from speech2video.body.motion_file import Motion, save_motion
from speech2video.body.skeleton_model import OpenSkeletonModel
from speech2video.model_set import SpeakerProfile, save_speaker_profile
from speech2video.motion.keypose_dictionary import KeyPoseDictionary, KeyPoseEntry
from speech2video.motion.lstm import LSTMConfig, SequenceToPoseLSTM
from speech2video.render.checkpoint import save_renderer
from speech2video.render.generator import Vid2VidGenerator
from speech2video.render.renderer_config import preset
from speech2video.render.renderer_data import write_sequence
from speech2video.render.skeleton_painter import SkeletonPainter

FPS, SIZE, FRAMES = 25.0, 64, 50
RECS = ("rec_a", "rec_b", "rec_c")


def _write_speaker(root: Path) -> None:
    """Three recordings (two held out), fit, features, keypoints, skeletons and models."""
    body, camera = OpenSkeletonModel.default(), PinholeCamera.framing(SIZE, SIZE)
    profile = SpeakerProfile("demo", FPS, SIZE, SIZE, body, camera)
    (root / "spk" / "transcripts").mkdir(parents=True)
    (root / "spk" / "speaker.yaml").write_text("speaker: demo\n")
    words = [{"word": "Huge", "start": 0.52, "end": 0.9}, {"word": "the", "start": 1.0, "end": 1.1}]
    (root / "spk" / "transcripts" / "rec_b.json").write_text(json.dumps({"words": words}))
    params = {"speaker_dir": "spk", "split": {"holdout": ["rec_b", "rec_c"], "seed": 0},
              "evaluate": {"seed": 0, "max_render_frames": 4, "crop_size": 16,
                           "reference_lag_s": 0.04},
              "register": {"alias": "candidate", "promote_to": "production"}}  # fmt: skip
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    work = root / "data" / "interim"
    save_speaker_profile(work / "fit" / "body_model", profile)
    save_speaker_profile(root / "models" / "body_model", profile)
    (work / "fit" / "motion").mkdir(parents=True)
    (work / "features").mkdir()
    (work / "keypoints").mkdir()
    painter = SkeletonPainter(SIZE, SIZE)
    rng = np.random.default_rng(0)
    for rec in RECS:
        (work / "ingest" / rec).mkdir(parents=True)
        (work / "ingest" / rec / "meta.json").write_text(json.dumps({"fps": FPS}))
        poses = (0.05 * rng.normal(0, 1, (FRAMES, 106))).astype(np.float32)
        save_motion(work / "fit" / "motion" / f"{rec}.npz", Motion(poses, FPS, speaker="demo"))
        np.save(work / "features" / f"{rec}.npy", rng.normal(0, 1, (200, 28)).astype(np.float32))
        posed = body.forward(poses)
        joints2d, lm2d = camera.project(posed.joints), camera.project(posed.landmarks)
        np.savez(work / "keypoints" / f"{rec}.npz", joints=joints2d,
                 joint_conf=np.ones((FRAMES, 55), np.float32),
                 landmarks=lm2d + rng.normal(0, 0.5, lm2d.shape).astype(np.float32),
                 landmark_conf=np.ones((FRAMES, 51), np.float32))  # fmt: skip
        sk = np.stack(list(painter.paint_sequence(joints2d[:4], lm2d[:4])))
        write_sequence(work / "skeletons" / rec, sk, rng.integers(0, 255, sk.shape, np.uint8))
    torch.manual_seed(0)
    SequenceToPoseLSTM(LSTMConfig(hidden=16, layers=1)).save(root / "models" / "audio_to_pose")
    huge = KeyPoseEntry("huge", 0.0, np.full((1, 106), 0.3, np.float32), False)
    KeyPoseDictionary("demo", {"huge": huge}).save(
        root / "models" / "key_pose_dictionary" / "dictionary.yaml"
    )
    config = preset("tiny")
    save_renderer(root / "models" / "renderer", config, Vid2VidGenerator(config.generator))


@pytest.fixture()
def speaker_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    _write_speaker(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("S2V_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return tmp_path


@pytest.mark.integration
def test_evaluate_then_register_and_promote(speaker_root: Path) -> None:
    from pipelines import evaluate, register

    evaluate.main()
    metrics = json.loads((speaker_root / "metrics" / "evaluation.json").read_text())
    for key in ("mouth_px", "mouth_px_mean_pose", "mouth_px_shuffled", "mouth_px_fitted",
                "pose_mae_body", "pose_mae_hands_mean_pose", "diversity_jaw",
                "beat_consistency_shuffled", "psnr", "ssim", "face_crop_l1",
                "keypose_within_1f"):  # fmt: skip
        assert key in metrics, key
    assert metrics["num_clips"] == 2 and metrics["num_frames"] == 2 * FRAMES
    assert metrics["mouth_px_fitted"] < 1.0  # detections are the fit's projection + 0.5 px noise
    assert metrics["keypose_within_1f"] == 1.0 and metrics["keypose_insertions"] == 1
    assert metrics["num_render_frames"] == 4
    # what real frames alone score (here noise frames: ~7.7 dB whatever is compared)
    assert metrics["reference_lag_s"] == pytest.approx(0.04)  # one frame at 25 fps
    for key in ("psnr_ref_nearest_training", "psnr_ref_real_lag"):
        assert 6.0 < metrics[key] < 10.0, key
    assert "psnr_ref_plate" not in metrics  # no background plate in this workspace
    assert not any(k.startswith("text_") for k in metrics)  # no text_to_pose: skipped
    report = (speaker_root / "reports" / "evaluation" / "report.md").read_text()
    assert "| mouth_px |" in report and "text_to_pose: skipped" in report
    assert "What the held-out PSNR can be" in report and "the real frame 0.04 s earlier" in report
    assert (speaker_root / "reports" / "evaluation" / "mouth_trajectory.png").is_file()
    # Readability: the detector looked at generated and real frames (no person in either here).
    assert metrics["detect_all_real"] == 0.0 and metrics["detect_all_generated"] == 0.0
    assert (speaker_root / "reports" / "evaluation" / "contact_sheet.png").is_file()
    assert "![generated above real](contact_sheet.png)" in report

    # the docs' "compare runs" snippet runs against the evaluate run just logged
    doc = (Path(__file__).resolve().parents[3] / "docs" / "data-science.md").read_text()
    snippet = next(p[len("python") :] for p in doc.split("```")[1::2] if p.startswith("python"))
    exec(compile(snippet, "data-science.md", "exec"), {})

    register.main()
    registered = json.loads((speaker_root / "metrics" / "registered.json").read_text())
    assert registered["promoted"] == 1 and registered["versions"] == {
        "audio_to_pose": 1, "renderer": 1, "key_pose_dictionary": 1, "body_model": 1}  # fmt: skip
    from speech2video_mlops.registry import ModelRegistry

    ref = ModelRegistry().by_alias("demo", "renderer", "production")
    assert ref.metrics["mouth_px"] == pytest.approx(metrics["mouth_px"])
    assert "git.commit" in ref.tags

    # a worse evaluation: registered as candidate, promotion refused, not a stage failure
    worse = {**metrics, "psnr": metrics["psnr"] * 0.5}
    (speaker_root / "metrics" / "evaluation.json").write_text(json.dumps(worse))
    register.main()
    registered = json.loads((speaker_root / "metrics" / "registered.json").read_text())
    assert registered["promoted"] == 0 and "psnr" in registered["refused"]
    assert registered["versions"]["renderer"] == 2
    assert ModelRegistry().by_alias("demo", "renderer", "production").version == "1"


def test_evaluate_without_fitted_held_out_recordings_fails_naming_the_dir(
    speaker_root: Path,
) -> None:
    from pipelines import evaluate
    from pipelines.stage_io import StageError

    for rec in ("rec_b", "rec_c"):
        (speaker_root / "data" / "interim" / "fit" / "motion" / f"{rec}.npz").unlink()
    with pytest.raises(StageError, match="no fitted motion for held-out recordings"):
        evaluate.main()
    assert not (speaker_root / "metrics" / "evaluation.json").exists()


def test_held_out_words_come_from_the_features_stage_when_the_speaker_has_no_transcript(
    speaker_root: Path,
) -> None:
    """A real speaker's words are transcribed by the features stage (features/words), not
    supplied: the evaluation reads them there, and falls back to the speaker's transcripts."""
    from pipelines.evaluate import load_clips
    from pipelines.recordings import WORDS_DIR

    supplied = speaker_root / "spk" / "transcripts" / "rec_b.json"
    assert [c.words[0].word for c in load_clips(["rec_b"], speaker_root / "spk")] == ["Huge"]
    WORDS_DIR.mkdir(parents=True)
    heard = [{"word": "wave", "start": 0.2, "end": 0.5}]
    (WORDS_DIR / "rec_b.json").write_text(json.dumps({"words": heard, "source": "stt"}))
    supplied.unlink()
    (clip,) = load_clips(["rec_b"], speaker_root / "spk")
    assert [(w.word, w.start) for w in clip.words] == [("wave", 0.2)]
