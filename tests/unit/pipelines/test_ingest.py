"""Stage ingest: good recordings become audio + frames + meta; each bad input fails cleanly."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from pipelines import ingest
from pipelines.stage_io import StageError
from speech2video.audio.io import Audio
from speech2video.render.video_io import write_video


def frames(n: int, size: tuple[int, int] = (64, 48)) -> list[np.ndarray]:
    w, h = size
    return [np.full((h, w, 3), (i * 7) % 255, np.uint8) for i in range(n)]


def tone(seconds: float) -> Audio:
    t = np.arange(int(16000 * seconds)) / 16000
    return Audio((0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 16000)


def setup_speaker(root: Path, params: dict | None = None) -> Path:
    (root / "speaker" / "recordings").mkdir(parents=True)
    base = {"speaker": "s", "speaker_dir": "speaker", "ingest": {"frame_step": 2}}
    (root / "params.yaml").write_text(json.dumps(base | (params or {})))
    return root / "speaker" / "recordings"


def write_vfr(path: Path, n: int) -> None:
    import av

    with av.open(str(path), "w", format="mp4") as container:
        video = container.add_stream("libx264", rate=30)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        audio = container.add_stream("aac", rate=16000)
        audio.layout = "mono"
        video.codec_context.time_base = Fraction(1, 1000)
        pts = 0
        for i, img in enumerate(frames(n)):
            vf = av.VideoFrame.from_ndarray(img, format="rgb24")
            vf.pts, vf.time_base = pts, Fraction(1, 1000)
            pts += 33 if i % 2 else 80
            container.mux(video.encode(vf))
        container.mux(video.encode(None))
        samples = tone(3.0).samples[None, :]
        af = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
        af.sample_rate, af.pts = 16000, 0
        container.mux(audio.encode(af))
        container.mux(audio.encode(None))


def test_ingests_frames_audio_and_meta(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rec = setup_speaker(tmp_path)
    write_video(rec / "a.mp4", frames(60), 30.0, tone(2.0))
    monkeypatch.chdir(tmp_path)
    ingest.main()
    out = tmp_path / "data/interim/ingest/a"
    meta = json.loads((out / "meta.json").read_text())
    assert meta["fps"] == pytest.approx(15.0) and meta["source_fps"] == pytest.approx(30.0)
    assert meta["frames"] == 30 and (meta["width"], meta["height"]) == (64, 48)
    assert len(list((out / "frames").glob("*.png"))) == 30
    assert (out / "frames" / "000000.png").is_file() and (out / "audio.wav").is_file()


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("no_audio", "no audio stream"),
        ("short", "too short"),
        ("garbage", "undecodable"),
        ("vfr", "variable frame rate"),
    ],
)
def test_bad_input_fails_naming_the_file_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str, reason: str
) -> None:
    rec = setup_speaker(tmp_path)
    write_video(rec / "good.mp4", frames(60), 30.0, tone(2.0))
    bad = rec / f"z_{case}.mp4"
    if case == "no_audio":
        write_video(bad, frames(60), 30.0)
    elif case == "short":
        write_video(bad, frames(12), 30.0, tone(0.4))
    elif case == "garbage":
        bad.write_bytes(b"\x00not a video" * 100)
    else:
        write_vfr(bad, 40)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(StageError, match=reason) as info:
        ingest.main()
    assert bad.name in str(info.value)
    assert not (tmp_path / "data/interim/ingest").exists()
    assert not list((tmp_path / "data").rglob("*")) if (tmp_path / "data").exists() else True


def test_failure_while_writing_leaves_no_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rec = setup_speaker(tmp_path)
    for name in ("a", "b"):
        write_video(rec / f"{name}.mp4", frames(60), 30.0, tone(2.0))
    calls = []

    def fail_second(path: Path, out: Path, settings: dict) -> dict:
        calls.append(path.name)
        if len(calls) == 2:
            raise StageError(f"{path}: undecodable video (damaged)")
        return real(path, out, settings)

    real = ingest.ingest_recording
    monkeypatch.setattr(ingest, "ingest_recording", fail_second)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(StageError, match=r"b\.mp4"):
        ingest.main()
    assert not list((tmp_path / "data/interim").iterdir())  # a's frames were not left behind
