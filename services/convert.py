"""Protobuf messages ↔ core types. The only module that knows both sides."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from services.pcm import pcm16_bytes, pcm16_samples
from services.synthesis_types import KeyPoseRequest, Lineage
from speech2video.audio.io import Audio
from speech2video.body import pose_layout as pl
from speech2video.body.motion_file import Motion
from speech2video.errors import InputError
from speech2video.motion.keypose_insertion import InsertionLogEntry
from speech2video.motion.words import Word
from speech2video.render.mp4_stream import Mp4Piece
from speech2video_api.v1 import common_pb2 as common

#: Largest magnitude of a pose value (axis-angle radians, PCA and expression coefficients).
MAX_POSE_VALUE = 1000.0
_INTERPOLATION = {
    common.KeyPoseOptions.INTERPOLATION_UNSPECIFIED: "linear",
    common.KeyPoseOptions.INTERPOLATION_LINEAR: "linear",
    common.KeyPoseOptions.INTERPOLATION_ROTATION: "rotation",
}


def word_to_pb(word: Word) -> common.Word:
    return common.Word(word=word.word, start=word.start, end=word.end, confidence=word.confidence)


def words_to_pb(words: Iterable[Word]) -> list[common.Word]:
    return [word_to_pb(w) for w in words]


def words_from_pb(words: Iterable[common.Word]) -> list[Word]:
    return [Word(w.word, float(w.start), float(w.end), float(w.confidence or 1.0)) for w in words]


def motion_to_pb(motion: Motion, *, raw: bool = True) -> common.PoseSequence:
    """Motion → PoseSequence; raw: the poses as little-endian float32 bytes in ``data`` (between
    stages: one copy, 4 bytes a value), else as ``values`` (the product API's form)."""
    poses = motion.poses
    if raw:
        data = np.ascontiguousarray(poses, dtype="<f4").tobytes()
        values: list[float] = []
    else:
        data, values = b"", poses.reshape(-1).tolist()
    return common.PoseSequence(
        fps=motion.fps,
        num_frames=motion.num_frames,
        values=values,
        data=data,
        betas=motion.betas.tolist(),
        global_orient=motion.global_orient.tolist(),
        speaker_id=motion.speaker,
    )


def _pose_values(seq: common.PoseSequence) -> np.ndarray:
    """(num_frames * 106,) float32 from ``data`` or ``values`` (InputError when both or the
    size does not match), checked before any copy."""
    if seq.data and len(seq.values):
        raise InputError("poses: set data or values, not both")
    given = len(seq.data) // 4 if seq.data else len(seq.values)
    if seq.data and len(seq.data) % 4:
        raise InputError(f"poses.data: {len(seq.data)} bytes is not whole float32 values")
    if seq.num_frames == 0 or given != seq.num_frames * pl.POSE_DIM:
        raise InputError(
            f"poses: need num_frames > 0 and num_frames x {pl.POSE_DIM} values; got "
            f"num_frames={seq.num_frames}, {given} values"
        )
    if seq.data:
        return np.frombuffer(seq.data, dtype="<f4").astype(np.float32)
    return np.asarray(seq.values, np.float32)


def motion_from_pb(seq: common.PoseSequence, max_seconds: float | None = None) -> Motion:
    """A PoseSequence → Motion; InputError naming what is inconsistent or over a bound (fps in
    [1, 120], at most ``max_seconds`` of frames, finite values), checked before the values
    are copied."""
    from services.limits import check_fps, check_text

    check_fps(seq.fps, "poses.fps")
    if max_seconds is not None and seq.num_frames > math.ceil(max_seconds * seq.fps):
        raise InputError(
            f"poses: {seq.num_frames} frames at {seq.fps:g} fps is "
            f"{seq.num_frames / seq.fps:.1f} s; the limit is {max_seconds:g} s"
        )
    check_text(seq.speaker_id, "poses.speaker_id", 64)
    for name, size in (("betas", pl.NUM_BETAS), ("global_orient", 3)):
        given = len(getattr(seq, name))
        if given not in (0, size):
            raise InputError(f"poses.{name} needs {size} values (or none); got {given}")
    values = _pose_values(seq)
    if not np.all(np.isfinite(values)) or np.abs(values).max(initial=0) > MAX_POSE_VALUE:
        raise InputError(f"poses: values must be finite, within +-{MAX_POSE_VALUE:g}")
    kwargs: dict[str, object] = {"speaker": seq.speaker_id}
    for name in ("betas", "global_orient"):
        if len(getattr(seq, name)):
            array = np.asarray(getattr(seq, name), np.float32)
            if not np.all(np.isfinite(array)) or np.abs(array).max() > MAX_POSE_VALUE:
                raise InputError(f"poses.{name} must be finite, within +-{MAX_POSE_VALUE:g}")
            kwargs[name] = array
    return Motion(values.reshape(-1, pl.POSE_DIM), float(seq.fps), **kwargs)  # type: ignore[arg-type]


def key_pose_options_from_pb(options: common.KeyPoseOptions) -> KeyPoseRequest:
    if options.HasField("seed") and options.seed < 0:
        raise InputError(f"key_poses.seed must be >= 0; got {options.seed}")
    return KeyPoseRequest(
        force=tuple(options.force_words),
        forbid=tuple(options.forbid_words),
        seed=int(options.seed) if options.HasField("seed") else None,
        disabled=options.disabled,
        interpolation=_INTERPOLATION.get(options.interpolation, "linear"),
    )


def key_pose_options_to_pb(options: KeyPoseRequest) -> common.KeyPoseOptions:
    interp = {"linear": 1, "rotation": 2}[options.interpolation]
    pb = common.KeyPoseOptions(
        force_words=list(options.force),
        forbid_words=list(options.forbid),
        disabled=options.disabled,
        interpolation=interp,  # type: ignore[arg-type]
    )
    if options.seed is not None:
        pb.seed = options.seed
    return pb


def insertion_to_pb(entry: InsertionLogEntry) -> common.KeyPoseInsertion:
    return common.KeyPoseInsertion(
        word=entry.word,
        time=entry.time,
        entry=entry.entry,
        start_frame=max(entry.start_frame, 0),
        end_frame=max(entry.end_frame, 0),
        status=entry.status,
    )


def insertion_from_pb(pb: common.KeyPoseInsertion) -> InsertionLogEntry:
    placed = pb.status in ("inserted", "overlap")
    return InsertionLogEntry(
        pb.word,
        pb.time,
        pb.entry,
        int(pb.start_frame) if placed else -1,
        int(pb.end_frame) if placed else -1,
        pb.status,
    )


def lineage_to_pb(lineage: Lineage, request_id: str = "") -> common.Lineage:
    return common.Lineage(
        models=[common.ModelRef(**m) for m in lineage.models],
        data_hashes=dict(lineage.data_hashes),
        request_id=request_id,
    )


def lineage_from_pb(pb: common.Lineage) -> Lineage:
    keys = ("component", "name", "version", "alias", "run_id")
    models = tuple({k: getattr(m, k) for k in keys} for m in pb.models)
    return Lineage(models, dict(pb.data_hashes))


def piece_to_pb(piece: Mp4Piece, index: int) -> common.VideoChunk:
    return common.VideoChunk(
        index=index,
        data=piece.data,
        first_frame=piece.first_frame,
        num_frames=piece.num_frames,
        last=piece.last,
    )


def piece_from_pb(chunk: common.VideoChunk) -> Mp4Piece:
    return Mp4Piece(chunk.data, chunk.first_frame, chunk.num_frames, chunk.last)


def pcm_to_pb(audio: Audio) -> common.PcmAudio:
    """16 kHz mono :class:`Audio` → 16-bit PCM (lossless for samples on the 16-bit grid, see
    :func:`pcm_grid`)."""
    return common.PcmAudio(data=pcm16_bytes(audio.samples), sample_rate=audio.rate)


def pcm_grid(audio: Audio) -> Audio:
    """``audio`` with its samples rounded to the 16-bit grid (what a stage receives as PCM), so
    that a flow in this process hears exactly what the stages hear over gRPC; a 16-bit source
    is unchanged (the decoder's float samples are ``int16 / 32768``)."""
    return Audio(pcm16_samples(pcm16_bytes(audio.samples)), audio.rate)
