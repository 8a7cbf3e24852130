"""Stage ingest: each recording → 16 kHz mono WAV, every ``frame_step``-th frame as PNG, meta.

params: ``speaker_dir``; ``ingest: {frame_step: 1, max_seconds: 600, min_seconds: 1.0,
min_frames: 20}``. Output ``data/interim/ingest/<rec>/`` (audio.wav, frames/000000.png, meta.json).
A recording without audio, with a variable frame rate, too short, too long or undecodable fails
the stage naming the file; nothing is written then.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pipelines.stage_io import StageError, load_params, run_stage, stage_output
from speech2video.errors import InputError

OUTPUT = Path("data/interim/ingest")
DEFAULTS: dict[str, Any] = {
    "frame_step": 1,
    "max_seconds": 600,
    "min_seconds": 1.0,
    "min_frames": 20,
}


def check_recording(path: Path, settings: dict[str, Any]) -> Any:
    """Probe ``path``; raise StageError naming it and the reason when it cannot be used."""
    from speech2video.render.video_io import probe

    try:
        info = probe(path)
    except InputError as exc:
        raise StageError(f"{path}: undecodable video ({exc})") from None
    step = int(settings["frame_step"])
    if info.frames == 0 or info.fps <= 0:
        raise StageError(f"{path}: undecodable video (no video frames)")
    if not info.has_audio:
        raise StageError(f"{path}: no audio stream")
    if info.variable_frame_rate:
        raise StageError(f"{path}: variable frame rate (re-encode at a constant rate)")
    kept = (info.frames + step - 1) // step
    if info.duration < float(settings["min_seconds"]) or kept < int(settings["min_frames"]):
        raise StageError(
            f"{path}: too short ({info.duration:.2f} s, {kept} frames kept; need "
            f"{settings['min_seconds']} s and {settings['min_frames']} frames)"
        )
    if info.duration > float(settings["max_seconds"]):
        raise StageError(
            f"{path}: too long ({info.duration:.1f} s; the limit is {settings['max_seconds']} s)"
        )
    return info


def ingest_recording(path: Path, out: Path, settings: dict[str, Any]) -> dict[str, Any]:
    """Write one recording's audio, frames and meta.json under ``out``; returns the meta."""
    import cv2

    from speech2video.audio.io import decode, write_wav
    from speech2video.render.video_io import iter_frames

    info = check_recording(path, settings)
    step = int(settings["frame_step"])
    try:
        audio = decode(path, max_seconds=float(settings["max_seconds"]))
    except InputError as exc:
        raise StageError(f"{path}: {exc}") from None
    frames_dir = out / "frames"
    frames_dir.mkdir(parents=True)
    count = 0
    try:
        for frame in iter_frames(path, step):
            cv2.imwrite(str(frames_dir / f"{count:06d}.png"), frame[:, :, ::-1])
            count += 1
    except InputError as exc:
        raise StageError(f"{path}: undecodable video ({exc})") from None
    if count < int(settings["min_frames"]):
        raise StageError(f"{path}: too short (only {count} frames decoded)")
    write_wav(out / "audio.wav", audio)
    meta = {
        "recording": path.stem,
        "source": str(path),
        "fps": info.fps / step,
        "source_fps": info.fps,
        "frame_step": step,
        "width": info.width,
        "height": info.height,
        "duration": info.duration,
        "frames": count,
        "audio_seconds": audio.duration,
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    return meta


def main() -> None:
    params = load_params()
    settings = DEFAULTS | dict(params.get("ingest") or {})
    if int(settings["frame_step"]) < 1:
        raise StageError(
            f"params.yaml: ingest.frame_step must be >= 1; got {settings['frame_step']}"
        )
    if "speaker_dir" not in params:
        raise StageError("params.yaml: lacks the key 'speaker_dir'")
    from pipelines.mocap_ingest import ingest_mocap, motion_source

    if motion_source(params) == "mocap":  # audio beside motion capture: no frames
        with stage_output(OUTPUT) as tmp:
            ingest_mocap(params, tmp)
        return
    recordings = sorted((Path(params["speaker_dir"]) / "recordings").glob("*.mp4"))
    if not recordings:
        raise StageError(f"{Path(params['speaker_dir']) / 'recordings'}: no .mp4 recordings")
    for path in recordings:  # fail fast, before writing anything
        check_recording(path, settings)
    with stage_output(OUTPUT) as tmp:
        for path in recordings:
            ingest_recording(path, tmp / path.stem, settings)


if __name__ == "__main__":
    run_stage("ingest", main)
