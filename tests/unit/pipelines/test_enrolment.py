"""Enrolment (pipelines/enrolment.py, ``s2v enrol``): how recordings are cut and held out, the
workspace parameters, refusals that name the file and the problem, and, on the shared real clip,
the whole run from a video to a registered model set (real dvc repro, MLflow on sqlite)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
import yaml

from pipelines import enrolment
from pipelines.stage_io import StageError
from speech2video.render.video_cutting import cut_video
from speech2video_cli.main import main
from tests.unit.fitting.test_recording_checks import _panning, _video


def test_pieces_hold_out_the_end_of_each_recording() -> None:
    pieces = enrolment.plan_pieces(Path("Host Clip.mp4"), 7.0, piece_s=3.0, holdout_fraction=0.15)
    assert [(p.name, p.held_out) for p in pieces] == [
        ("host_clip_p00", False),
        ("host_clip_p01", False),
        ("host_clip_p02", True),
    ]
    assert [(p.start_s, p.end_s) for p in pieces] == [(0.0, 2.5), (2.5, 5.0), (5.0, 7.0)]
    long = enrolment.plan_pieces(Path("a.mp4"), 100.0, piece_s=20.0, holdout_fraction=0.15)
    assert sum(p.held_out for p in long) == 1 and len(long) == 6
    assert all(p.end_s - p.start_s <= 20.0 for p in long)
    assert long[-1].start_s == pytest.approx(85.0) and long[-1].end_s == 100.0
    with pytest.raises(StageError, match="too short to train on and hold out"):
        enrolment.plan_pieces(Path("a.mp4"), 3.0)


def test_workspace_params_are_a_real_speakers() -> None:
    base = {"speaker_dir": "data/demo_speaker", "keypoints": {"use_ground_truth": True}, "x": 1}
    params = enrolment.workspace_params(base, "ann", ["b_p02", "a_p03"], render_size=512)
    assert params["speaker_dir"] == "data/raw/ann"
    assert params["keypoints"]["use_ground_truth"] is False
    assert params["fit"]["use_ground_truth"] is False
    assert params["split"]["holdout"] == ["a_p03", "b_p02"] and params["x"] == 1
    assert params["skeletons"] == {"framing": "speaker", "max_side": 512}
    assert params["train_renderer"]["part_refiner"] == enrolment.REAL_SPEAKER_REFINER
    assert base["keypoints"]["use_ground_truth"] is True  # the base is not changed
    # a base that sets the refiner (here: off) keeps it
    base["train_renderer"] = {"part_refiner": {"steps": 0}}
    params = enrolment.workspace_params(base, "ann", ["a_p03"])
    assert params["train_renderer"]["part_refiner"] == {"steps": 0}


def test_bad_requests_are_refused_before_any_work(tmp_path: Path) -> None:
    video = _video(tmp_path / "ok.mp4", _panning(20))
    cases = [
        (("Bad Name", [video]), "speaker id"),
        (("ann", [tmp_path / "absent.mp4"]), "recording not found"),
        (("ann", [tmp_path / "params.yaml"]), "not a video file"),
        (("ann", []), "no recordings"),
    ]
    (tmp_path / "params.yaml").write_text("{}")
    for (speaker, videos), needle in cases:
        with pytest.raises(StageError, match=needle):
            enrolment.prepare_workspace(speaker, videos, tmp_path / "ws")
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "file").write_text("x")
    with pytest.raises(StageError, match="workspace exists"):
        enrolment.prepare_workspace("ann", [video], busy)


def test_an_unusable_recording_is_named_and_nothing_is_created(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    video = _video(tmp_path / "pan.mp4", _panning(45))
    assert main(["enrol", "ann", str(video), "--workspace", str(tmp_path / "ws")]) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("s2v: error: ") and "pan.mp4" in err and "camera moves" in err
    assert not (tmp_path / "ws").exists()
    assert main(["enrol", "ann", str(video), "--check-only"]) == 1
    assert "pan.mp4: " in capsys.readouterr().out
    assert main(["enrol", "ann", str(video), "--check-only", "--min-hands-rate", "1.5"]) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "--min-hands-rate must be within [0, 1]; got 1.5" in err


def test_the_summary_names_the_key_words(tmp_path: Path) -> None:
    from speech2video_cli.enrol_command import key_word_lines

    report = {
        "from_keywords_csv": [{"word": "wave", "recording": "r2", "start": 1, "end": 2}],
        "from_transcripts": {
            "chosen": [
                {"word": "huge", "recording": "r1", "start": 1.7, "end": 2.6, "kind": "motion",
                 "score": 4.21, "source": "vocabulary", "occurrences": 2},
            ]
        },
    }  # fmt: skip
    (tmp_path / "metrics").mkdir()
    (tmp_path / "metrics" / "key_words.json").write_text(json.dumps(report))
    found = enrolment.summary(tmp_path)
    text = "\n".join(key_word_lines(found["key_words"]))
    assert "2 key word(s)" in text and "from keywords.csv: wave" in text
    assert re.search(r"huge +r1 1\.70-2\.60 s, motion, gesture score 4\.2", text), text
    assert "none" in key_word_lines({"from_keywords_csv": [], "from_transcripts": {}})[0]
    assert key_word_lines(None) == []


@pytest.mark.slow
@pytest.mark.integration
def test_enrol_the_real_host_clip_end_to_end(
    shared_data: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    clip = shared_data / "video" / "SHOW_half_oliver.mp4"
    if not clip.is_file():
        pytest.skip(f"{clip} absent")
    monkeypatch.setenv("S2V_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    ws = tmp_path / "ws"
    short = tmp_path / "SHOW_half_oliver.mp4"  # the first 4.5 s keep the test short
    cut_video(clip, short, 0.0, 4.5)
    tiny = enrolment.project_root() / "pipelines" / "params" / "tiny.yaml"
    argv = ["enrol", "oliver", str(short), "--workspace", str(ws), "--params", str(tiny)]
    assert main([*argv, "--piece-seconds", "2", "--render-size", "96"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"stage 1/(\d+): ingest.*stage \1/\1: register", out, flags=re.S), out
    assert "s2v models promote oliver" in out
    assert "[enrol] key poses" in out  # the key words found in the transcript (or none)
    key_words = json.loads((ws / "metrics/key_words.json").read_text())
    mined = key_words["from_transcripts"]
    assert "show_half_oliver_p02" not in mined["recordings"]  # held out: never learnt from
    assert all(c["recording"] in mined["recordings"] for c in mined["chosen"])
    params = yaml.safe_load((ws / "params.yaml").read_text())
    assert params["split"]["holdout"] == ["show_half_oliver_p02"]  # [2.5, 4.5) s
    pieces = sorted(p.name for p in (ws / "data/raw/oliver/recordings").iterdir())
    assert pieces == [f"show_half_oliver_p0{i}.mp4" for i in range(3)]
    assert "Feedback manager" not in out  # the detector's logging went to the log file
    framing = json.loads((ws / "models/body_model/framing.json").read_text())
    assert max(framing["width"], framing["height"]) * framing["scale"] == pytest.approx(96, abs=1)
    assert framing["width"] < 1280  # the crop follows the host, not the whole frame
    assert (ws / "models/body_model/background.png").is_file()
    words = json.loads((ws / "data/interim/features/words/show_half_oliver_p00.json").read_text())
    assert words["source"] == "stt" and len(words["words"]) >= 2
    registered = json.loads((ws / "metrics/registered.json").read_text())
    assert registered["speaker"] == "oliver" and set(registered["versions"]) >= {
        "audio_to_pose",
        "renderer",
        "body_model",
    }
    evaluation = json.loads((ws / "metrics/evaluation.json").read_text())
    assert np.isfinite(evaluation["psnr"]) and evaluation["num_render_frames"] > 0
    trained = json.loads((ws / "metrics/train_renderer.json").read_text())
    refined = (ws / "models/renderer/part_refiner.json").is_file()
    assert refined == (trained["part_refiner"] == 1.0)  # on, unless no hand was found at 96 px
    status = subprocess.run(
        ["git", "status", "--porcelain", "data/raw"], cwd=ws, capture_output=True, text=True
    )
    assert status.stdout == ""  # the recordings are DVC-tracked, committed as .dvc files


def test_the_summary_shows_the_renderer_beside_its_references(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from speech2video_cli.enrol_command import _print_summary

    metrics = {"psnr": 20.5, "psnr_ref_nearest_training": 21.9, "psnr_ref_real_lag": 21.4,
               "reference_lag_s": 0.2, "mouth_pose_corr": 0.77,
               "detect_all_real": 0.98}  # fmt: skip
    _print_summary("ann", {"evaluation": metrics})
    out = capsys.readouterr().out
    assert re.search(r"PSNR on held-out frames \(dB\) +20\.5", out)
    assert re.search(r"reference: the real frame 0\.2 s earlier \(dB\) +21\.4", out)
    assert re.search(r"mouth agreement \(r\) +0\.77", out) and "found, generated" not in out
