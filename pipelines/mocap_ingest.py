"""Motion from motion capture (``motion_source: mocap``): a mocap speaker folder → the interim data
the training stages read, in place of video fitting.

Speaker folder::

    speaker.yaml                 speaker, language; optional width, height (skeleton image size)
    mocap/<rec>.npz              AMASS/BEAT2 SMPL-X layout (speech2video/body/mocap.py)
    audio/<rec>.wav              the recording's speech (any format ``audio.io.decode`` reads)

With ``motion_source: mocap`` in ``params.yaml`` the ``ingest`` stage calls :func:`ingest_mocap`
(``data/interim/ingest/<rec>/audio.wav`` + ``meta.json``, no frames), ``keypoints`` and
``skeletons`` find no frames and write empty outputs, ``fit`` calls :func:`fit_mocap`
(``data/interim/fit/motion/<rec>.npz``, ``body_model/``, ``report.json``: the same files video
fitting writes), and ``train_renderer`` is skipped (no video: no renderer). Features, training,
key poses, evaluation and registration run as for video. Every recording is validated (layout,
frame rate, length against its audio within ``mocap.length_tolerance_s``); a bad one fails the
stage naming the file.

The hand PCA basis is fitted on the training recordings only (``split``), so held-out ones are
scored in a basis they did not shape; it travels with the body model.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pipelines.recordings import speaker_info, split_recordings
from pipelines.stage_io import StageError

SOURCES = ("video", "mocap")
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3", ".m4a")
DEFAULTS: dict[str, Any] = {"length_tolerance_s": 0.5, "width": 512, "height": 512}


def motion_source(params: dict[str, Any]) -> str:
    """``params.yaml`` ``motion_source``: ``video`` (default) or ``mocap``."""
    source = params.get("motion_source", "video")
    if source not in SOURCES:
        raise StageError(f"params.yaml: motion_source must be one of {SOURCES}; got {source!r}")
    return str(source)


def mocap_files(speaker_dir: Path) -> dict[str, tuple[Path, Path]]:
    """Recording id → (mocap .npz, audio file) of a mocap speaker folder."""
    mocap_dir = speaker_dir / "mocap"
    npzs = sorted(mocap_dir.glob("*.npz"))
    if not npzs:
        raise StageError(f"{mocap_dir}: no mocap recordings (<rec>.npz) for motion_source: mocap")
    out = {}
    for npz in npzs:
        audio = [speaker_dir / "audio" / f"{npz.stem}{s}" for s in AUDIO_SUFFIXES]
        found = [a for a in audio if a.is_file()]
        if not found:
            raise StageError(f"{npz}: no audio for it (expected {audio[0]})")
        out[npz.stem] = (npz, found[0])
    return out


def _settings(params: dict[str, Any]) -> dict[str, Any]:
    return DEFAULTS | dict(params.get("mocap") or {})


def ingest_mocap(params: dict[str, Any], out: Path) -> dict[str, dict[str, Any]]:
    """Write ``<rec>/audio.wav`` and ``<rec>/meta.json`` under ``out`` for every recording."""
    from speech2video.audio.io import decode, write_wav
    from speech2video.body.mocap import check_audio_length, load_mocap
    from speech2video.errors import InputError

    speaker_dir = Path(params["speaker_dir"])
    info = speaker_info(speaker_dir)
    settings = _settings(params)
    metas = {}
    for rec, (npz, audio_path) in mocap_files(speaker_dir).items():
        try:
            motion = load_mocap(npz)
            audio = decode(audio_path)
            check_audio_length(motion, audio.duration, float(settings["length_tolerance_s"]))
        except InputError as exc:
            raise StageError(f"{npz}: {exc}") from None
        (out / rec).mkdir(parents=True)
        write_wav(out / rec / "audio.wav", audio)
        meta = {
            "recording": rec,
            "source": "mocap",
            "mocap": str(npz),
            "audio": str(audio_path),
            "fps": motion.fps,
            "frame_step": 1,
            "width": int(info.get("width", settings["width"])),
            "height": int(info.get("height", settings["height"])),
            "duration": motion.duration,
            "frames": 0,
            "mocap_frames": motion.num_frames,
            "audio_seconds": audio.duration,
        }
        (out / rec / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
        metas[rec] = meta
    return metas


def fit_mocap(params: dict[str, Any], out: Path) -> dict[str, Any]:
    """Write ``motion/<rec>.npz``, ``body_model/`` and ``report.json`` under ``out``."""
    from speech2video.body.camera import PinholeCamera
    from speech2video.body.mocap import fit_mocap_hand_basis, load_mocap, mocap_to_motion
    from speech2video.body.motion_file import save_motion
    from speech2video.body.skeleton_model import OpenSkeletonModel
    from speech2video.errors import InputError
    from speech2video.model_set import SpeakerProfile, save_speaker_profile

    speaker_dir = Path(params["speaker_dir"])
    speaker = str(speaker_info(speaker_dir)["speaker"])
    settings = _settings(params)
    files = mocap_files(speaker_dir)
    try:
        recordings = {rec: load_mocap(npz) for rec, (npz, _) in files.items()}
    except InputError as exc:
        raise StageError(str(exc)) from None
    split = params.get("split") or {}
    train_ids, _ = split_recordings(
        sorted(recordings), split.get("holdout", 0.1), int(split.get("seed", 0))
    )
    basis = fit_mocap_hand_basis([recordings[r] for r in train_ids])
    (out / "motion").mkdir(parents=True)
    report: dict[str, Any] = {"source": "mocap", "hand_basis_from": train_ids, "recordings": {}}
    first = None
    for rec, mocap in recordings.items():
        conv = mocap_to_motion(mocap, basis, speaker)
        save_motion(out / "motion" / f"{rec}.npz", conv.motion)
        first = first or conv.motion
        report["recordings"][rec] = {
            "frames": conv.motion.num_frames,
            "fps": conv.motion.fps,
            "hand_variance_kept": round(conv.hand_variance_kept, 4),
            "expression_variance_kept": round(conv.expression_kept, 4),
        }
    assert first is not None
    width = int(speaker_info(speaker_dir).get("width", settings["width"]))
    height = int(speaker_info(speaker_dir).get("height", settings["height"]))
    body = OpenSkeletonModel.default(global_orient=first.global_orient)
    body = OpenSkeletonModel(body.rest_joints, body.face, basis, body.global_orient)
    camera = PinholeCamera.framing(width, height, body.rest_joints)
    save_speaker_profile(
        out / "body_model", SpeakerProfile(speaker, first.fps, width, height, body, camera)
    )
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    return report
