"""Protobuf messages ↔ core types. The only module that knows both sides."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

from speech2video.body import pose_layout as pl
from speech2video.body.motion_file import Motion
from speech2video.errors import InputError
from speech2video.motion.keypose_insertion import InsertionLogEntry
from speech2video.motion.words import Word
from speech2video.render.mp4_stream import Mp4Piece
from speech2video_api.v1 import common_pb2 as common

_INTERPOLATION = {
    common.KeyPoseOptions.INTERPOLATION_UNSPECIFIED: "linear",
    common.KeyPoseOptions.INTERPOLATION_LINEAR: "linear",
    common.KeyPoseOptions.INTERPOLATION_ROTATION: "rotation",
}


@dataclass(frozen=True)
class Lineage:
    """Models (``ModelVersionRef.lineage()`` dicts) and data hashes behind a response."""

    models: tuple[dict[str, str], ...] = ()
    data_hashes: dict[str, str] = field(default_factory=dict)

    def merge(self, *others: Lineage) -> Lineage:
        models = {(m["component"], m["name"]): m for m in self.models}
        hashes = dict(self.data_hashes)
        for other in others:
            models.update({(m["component"], m["name"]): m for m in other.models})
            hashes.update(other.data_hashes)
        return Lineage(tuple(models.values()), hashes)


@dataclass(frozen=True)
class KeyPoseRequest:
    """Key-pose options in core terms."""

    force: tuple[str, ...] = ()
    forbid: tuple[str, ...] = ()
    seed: int | None = None
    disabled: bool = False
    interpolation: str = "linear"


def word_to_pb(word: Word) -> common.Word:
    return common.Word(word=word.word, start=word.start, end=word.end, confidence=word.confidence)


def words_to_pb(words: Iterable[Word]) -> list[common.Word]:
    return [word_to_pb(w) for w in words]


def words_from_pb(words: Iterable[common.Word]) -> list[Word]:
    return [Word(w.word, float(w.start), float(w.end), float(w.confidence or 1.0)) for w in words]


def motion_to_pb(motion: Motion) -> common.PoseSequence:
    return common.PoseSequence(
        fps=motion.fps,
        num_frames=motion.num_frames,
        values=motion.poses.reshape(-1).tolist(),
        betas=motion.betas.tolist(),
        global_orient=motion.global_orient.tolist(),
        speaker_id=motion.speaker,
    )


def motion_from_pb(seq: common.PoseSequence) -> Motion:
    """A PoseSequence → Motion; InputError naming what is inconsistent."""
    values = np.asarray(seq.values, np.float32)
    if seq.num_frames == 0 or values.size != seq.num_frames * pl.POSE_DIM:
        raise InputError(
            f"poses: need num_frames > 0 and num_frames x {pl.POSE_DIM} values; got "
            f"num_frames={seq.num_frames}, {values.size} values"
        )
    if not np.all(np.isfinite(values)):
        raise InputError("poses: values must be finite")
    kwargs: dict[str, object] = {"speaker": seq.speaker_id}
    if len(seq.betas):
        kwargs["betas"] = np.asarray(seq.betas, np.float32)
    if len(seq.global_orient):
        kwargs["global_orient"] = np.asarray(seq.global_orient, np.float32)
    return Motion(values.reshape(-1, pl.POSE_DIM), float(seq.fps), **kwargs)  # type: ignore[arg-type]


def key_pose_options_from_pb(options: common.KeyPoseOptions) -> KeyPoseRequest:
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


def model_refs(refs: Iterable[Mapping[str, str]]) -> tuple[dict[str, str], ...]:
    return tuple(dict(r) for r in refs)
