"""Stage outputs are atomic: a failure leaves the old output (or nothing), never half of one."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.stage_io import StageError, load_params, run_stage, stage_file, stage_output


def test_success_replaces_and_failure_keeps_the_old_output(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with stage_output(out) as tmp:
        (tmp / "a.txt").write_text("one")
    assert (out / "a.txt").read_text() == "one"
    with pytest.raises(RuntimeError), stage_output(out) as tmp:
        (tmp / "a.txt").write_text("half")
        raise RuntimeError("crash mid-stage")
    assert (out / "a.txt").read_text() == "one"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no temp left behind
    with stage_output(out) as tmp:
        (tmp / "b.txt").write_text("two")
    assert sorted(p.name for p in out.iterdir()) == ["b.txt"]


def test_stage_file(tmp_path: Path) -> None:
    target = tmp_path / "m.json"
    with pytest.raises(ValueError), stage_file(target) as tmp:
        tmp.write_text("{")
        raise ValueError("bad")
    assert not target.exists() and list(tmp_path.iterdir()) == []
    with stage_file(target) as tmp:
        tmp.write_text("{}")
    assert target.read_text() == "{}"


def test_params_and_one_line_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(StageError, match="params file not found"):
        load_params()
    (tmp_path / "params.yaml").write_text("fit: {iterations: 3}\n")
    assert load_params("fit") == {"iterations": 3}
    with pytest.raises(StageError, match="lacks the section 'ingest'"):
        load_params("ingest")

    def fails() -> None:
        raise StageError("data/x.mp4: the recording has no audio stream")

    with pytest.raises(SystemExit) as exc:
        run_stage("ingest", fails)
    assert exc.value.code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["stage ingest: error: data/x.mp4: the recording has no audio stream"]
