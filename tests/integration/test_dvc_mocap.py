"""`dvc repro` of a mocap-enrolled speaker (``motion_source: mocap``), in a temp git + DVC repo.

The speaker folder is made here: four short recordings of speech-like audio with AMASS/BEAT2
SMPL-X motion capture whose jaw follows the audio's loudness. The motion part runs for real
(ingest → keypoints (none) → fit (mocap conversion) → features → training → dictionary →
evaluate → register) and the model set lands in the MLflow registry, without a renderer; with
no keywords.csv, the key-pose dictionary comes from the transcripts' words and the capture. A
recording whose capture does not last as long as its audio fails the ingest stage, naming it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pipelines.enrolment import copy_project, pipeline_env

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
DVC = [sys.executable, "-m", "dvc"]
FPS = 30
RATE = 16_000


def _envelope(seconds: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Speech-like audio (N,) and its syllable envelope at the frame rate (T,)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    rate = rng.uniform(3.0, 5.0)
    env = np.clip(np.sin(2 * np.pi * rate * t + rng.uniform(0, 6)), 0, None)
    env *= np.sin(2 * np.pi * 0.25 * t + rng.uniform(0, 6)) > -0.3
    pitch = 110 + 15 * np.sin(2 * np.pi * 0.3 * t)
    voiced = sum(np.sin(2 * np.pi * k * np.cumsum(pitch) / RATE) / k for k in range(1, 5))
    audio = (0.25 * env * voiced + 0.005 * rng.normal(size=t.size)).astype(np.float32)
    frames = np.arange(int(seconds * FPS)) / FPS
    return audio, np.interp(frames, t, env)


def make_mocap_speaker(root: Path, seconds: float = 5.0, count: int = 4) -> None:
    import soundfile as sf
    import yaml

    (root / "mocap").mkdir(parents=True)
    (root / "audio").mkdir()
    (root / "transcripts").mkdir()
    (root / "speaker.yaml").write_text(yaml.safe_dump({"speaker": "cap", "language": "en"}))
    mixing = np.random.default_rng(7).normal(0, 0.2, (2, 2, 45))  # the speaker's hand synergies
    for i in range(count):
        rng = np.random.default_rng(100 + i)
        audio, env = _envelope(seconds, i)
        t = env.size
        poses = np.zeros((t, 165), np.float32)
        time = np.arange(t) / FPS
        phase = rng.uniform(0, 6, 63)
        poses[:, 3:66] = 0.1 * np.sin(time[:, None] * rng.uniform(0.5, 2, 63) + phase)
        poses[:, 66] = 0.02 + 0.1 * env  # jaw opens with the loudness
        # the right arm swings out on "me" (1.5 s): a key gesture for the dictionary to find
        poses[:, 3 * 17 + 2] += 1.2 * np.sin(np.pi * np.clip((time - 1.5) / 0.5, 0, 1))
        for hand, start in enumerate((75, 120)):
            poses[:, start : start + 45] = rng.normal(size=(t, 2)) @ mixing[hand]
        expressions = 0.3 * np.sin(time[:, None] * rng.uniform(0.5, 3, 100))
        np.savez(
            root / "mocap" / f"rec{i}.npz",
            poses=poses,
            expressions=expressions,
            betas=np.zeros(300, np.float32),
            trans=np.zeros((t, 3)),
            mocap_frame_rate=np.int32(FPS),
        )
        sf.write(root / "audio" / f"rec{i}.wav", audio, RATE)
        words = [{"word": w, "start": 0.5 + k, "end": 0.9 + k} for k, w in enumerate(["hi", "me"])]
        (root / "transcripts" / f"rec{i}.json").write_text(json.dumps({"words": words}))


def _run(cmd: list[str], cwd: Path, env: dict[str, str], ok: bool = True) -> str:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    if ok:
        assert proc.returncode == 0, f"{cmd} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout + proc.stderr


def _repo(root: Path) -> dict[str, str]:
    import yaml

    copy_project(REPO, root)  # dvc.yaml, the stages' code (what s2v enrol copies too)
    params = yaml.safe_load((REPO / "pipelines" / "params" / "tiny.yaml").read_text())
    params.update(speaker_dir="data/mocap_speaker", motion_source="mocap")
    # the audio model with the Whisper-encoder readout of the mouth and face (motion/readout.py)
    params["train_audio_to_pose"].update(embedding="whisper", val_fraction=0.25, val_block_s=1.0)
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    make_mocap_speaker(root / "data" / "mocap_speaker")
    env = {**pipeline_env(root), "S2V_HOME": str(root / ".s2v")}
    env.pop("MLFLOW_TRACKING_URI", None)
    _run(["git", "init", "-q"], root, env)
    _run([*DVC, "init", "-q"], root, env)
    _run(["git", "add", "-A"], root, env)
    _run(["git", "commit", "-qm", "mocap pipeline"], root, env)
    return env


def test_mocap_speaker_enrols_end_to_end_into_the_registry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import yaml

    root = tmp_path / "repo"
    root.mkdir()
    env = _repo(root)
    _run([*DVC, "repro", "register"], root, env)

    report = json.loads((root / "data/interim/fit/report.json").read_text())
    assert report["source"] == "mocap"
    assert set(report["recordings"]) == {f"rec{i}" for i in range(4)}
    # the speaker's hands move in a shared rank-2 space: the PCA basis keeps all of it
    assert all(r["hand_variance_kept"] > 0.99 for r in report["recordings"].values())
    meta = json.loads((root / "data/interim/ingest/rec0/meta.json").read_text())
    assert meta["source"] == "mocap" and meta["fps"] == FPS and meta["mocap_frames"] == 150
    assert not any((root / "models" / "renderer").iterdir())  # no video: no renderer
    metrics = json.loads((root / "metrics/evaluation.json").read_text())
    keys = ("pose_mae_jaw", "pose_mae_jaw_other_audio", "jaw_opening_corr", "pose_mae_face_gain")
    for key in keys:
        assert key in metrics, key
    assert "psnr" not in metrics and "mouth_px" not in metrics
    assert (root / "data/interim/features/embedding/whisper/rec0.npy").is_file()
    trained = json.loads((root / "metrics/train_audio_to_pose.json").read_text())
    assert trained["readout_ridge"] > 0
    report_md = (root / "reports/evaluation/report.md").read_text()
    assert "motion capture" in report_md
    assert (root / "reports/evaluation/jaw_trajectory.png").is_file()
    # no keywords.csv: the key words come from the transcripts and the capture's gestures
    key_words = json.loads((root / "metrics/key_words.json").read_text())
    assert key_words["from_keywords_csv"] == []
    chosen = {c["word"]: c for c in key_words["from_transcripts"]["chosen"]}
    assert list(chosen) == ["me"] and chosen["me"]["kind"] == "motion"
    assert chosen["me"]["recording"] in key_words["from_transcripts"]["recordings"]
    dictionary = yaml.safe_load((root / "models/key_pose_dictionary/dictionary.yaml").read_text())
    assert list(dictionary["entries"]) == ["me"]

    monkeypatch.setenv("S2V_HOME", str(root / ".s2v"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    from speech2video_mlops.registry import ModelRegistry

    components = set(ModelRegistry().speakers()["cap"])
    assert {"audio_to_pose", "body_model"} <= components and "renderer" not in components
    from speech2video import synthesis
    from speech2video.audio.io import decode
    from speech2video.motion.lstm import SequenceToPoseLSTM

    model = SequenceToPoseLSTM.load(root / "models/audio_to_pose")  # what serving loads
    assert model.config.embedding == "whisper" and model.readout.is_ready
    audio = decode(root / "data/mocap_speaker/audio/rec3.wav")
    poses = synthesis.poses_from_audio(model, audio, FPS)  # the embedding computed from audio
    assert poses.shape == (round(audio.duration * FPS), 106) and np.all(np.isfinite(poses))

    # a capture that does not match its audio fails ingest, naming the file and both durations
    bad = root / "data/mocap_speaker/mocap/rec1.npz"
    with np.load(bad) as data:
        arrays = dict(data)
    arrays["mocap_frame_rate"] = np.int32(60)  # claims 2.5 s beside 5 s of audio
    np.savez(bad, **arrays)
    out = _run([*DVC, "repro", "ingest"], root, env, ok=False)
    assert "rec1.npz" in out and "motion lasts 2.50 s" in out and "audio 5.00 s" in out
