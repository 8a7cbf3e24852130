"""The per-stage computations of a synthesis, shared by the Serve apps and the in-process CLI.

audio ─► poses (audio-to-pose LSTM at the speaker's fps) ─► key poses ─► skeleton images ─►
rendered frames ─► fragmented-MP4 pieces. Each function works on one loaded model set part.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING

import numpy as np

from speech2video.audio.features import compute_features
from speech2video.audio.io import Audio
from speech2video.body.motion_file import Motion
from speech2video.errors import InputError
from speech2video.motion.keypose_insertion import InsertionResult, KeyPoseInserter
from speech2video.motion.words import Word
from speech2video.render.mp4_stream import Mp4Piece, encode_pieces

if TYPE_CHECKING:
    from speech2video.model_set import SpeakerProfile
    from speech2video.motion.keypose_dictionary import KeyPoseDictionary
    from speech2video.motion.lstm import SequenceToPoseLSTM
    from speech2video.render.renderer_inference import StreamingRenderer

#: Frames per streamed MP4 piece by default.
DEFAULT_CHUNK_FRAMES = 25
#: Frames in the first streamed piece by default: a small piece leaves early.
DEFAULT_FIRST_CHUNK_FRAMES = 4
#: Seconds at the start of every synthesis that key poses leave as the audio-to-pose model made
#: them (insertion rule 6), so the first video piece can leave before any word is heard.
OPENING_S = 0.3


def opening_frames(fps: float) -> int:
    """Frames of the opening (:data:`OPENING_S`) at ``fps``, at least one."""
    return max(1, math.ceil(OPENING_S * fps - 1e-9))


def data_hash(data: bytes | str) -> str:
    """Short sha256 of request data (lineage), 16 hex digits."""
    raw = data.encode() if isinstance(data, str) else data
    return hashlib.sha256(raw).hexdigest()[:16]


def seed_of(data: bytes | str) -> int:
    """A deterministic 63-bit seed derived from request data."""
    raw = data.encode() if isinstance(data, str) else data
    return int.from_bytes(hashlib.sha256(raw).digest()[:8], "big") >> 1


def speaker_motion(poses: np.ndarray, fps: float, profile: SpeakerProfile) -> Motion:
    """poses (T, 106) → a Motion carrying the speaker's fixed global orientation."""
    orient = getattr(profile.body_model, "global_orient", np.zeros(3, np.float32))
    return Motion(poses, fps, global_orient=orient, speaker=profile.speaker)


def poses_from_audio(
    model: SequenceToPoseLSTM, audio: Audio, fps: float, words: Sequence[Word] | None = None
) -> np.ndarray:
    """16 kHz mono audio → (round(duration × fps), 106) float32 poses.

    words: the speech's timed words; only a model with phonetic input (``config.phones``)
    reads them, and it refuses to run without them (``motion.lstm.model_inputs``).
    """
    from speech2video.motion.lstm import model_inputs

    feats = compute_features(audio.samples, audio.rate)
    return model.predict(model_inputs(model.config, feats, audio, words), fps)


def poses_from_words(
    model: SequenceToPoseLSTM, words: Sequence[Word], duration_s: float, lang: str, fps: float
) -> np.ndarray:
    """Timed words (text-driven LSTM) → (round(duration × fps), 106) float32 poses."""
    from speech2video.audio.text_encoding import encode_words

    if not math.isfinite(duration_s) or duration_s <= 0:
        raise InputError(f"duration must be a positive number of seconds; got {duration_s}")
    steps = math.ceil(duration_s * model.config.input_rate)
    return model.predict(encode_words(words, steps, lang or "en"), fps)


def insert_key_poses(
    dictionary: KeyPoseDictionary,
    motion: Motion,
    words: Sequence[Word],
    *,
    seed: int | None,
    force: Sequence[str] = (),
    forbid: Sequence[str] = (),
    interpolation: str = "linear",
    disabled: bool = False,
) -> InsertionResult:
    """Key poses at key words (paper §3.3), none in the opening (:func:`opening_frames`);
    ``disabled`` returns the poses unchanged."""
    if disabled:
        return InsertionResult(motion.poses.copy(), [])
    inserter = KeyPoseInserter(dictionary, motion.fps, interpolation)  # type: ignore[arg-type]
    locked = opening_frames(motion.fps)
    return inserter.insert(
        motion.poses, words, seed=seed, force=force, forbid=forbid, locked_frames=locked
    )


def final_frames(
    dictionary: KeyPoseDictionary,
    motion: Motion,
    words_complete_before_s: float | None,
    disabled: bool = False,
) -> int:
    """Leading frames of ``motion`` that later words (starting at or after
    ``words_complete_before_s``; None: there are none) cannot change; the opening always."""
    t = motion.num_frames
    if disabled or words_complete_before_s is None:
        return t
    inserter = KeyPoseInserter(dictionary, motion.fps)
    return inserter.final_frames(words_complete_before_s, t, opening_frames(motion.fps))


def render_frames(
    renderer: StreamingRenderer,
    profile: SpeakerProfile,
    poses: Motion | Iterable[np.ndarray],
    chunk_frames: int,
) -> Iterator[np.ndarray]:
    """Rendered RGB frames (height, width, 3) uint8, lazily, of a motion or of pose blocks
    (T_i, 106) arriving one after another; each frame is yielded as soon as it is rendered.
    With a framing in the profile the rendered crop is put back into the recording's frame
    (its aspect ratio, over the background plate): frames are then ``framing.frame_size``."""
    from speech2video.render.skeleton_painter import SkeletonPainter
    from speech2video.render.skeleton_video import draw_motion, draw_pose_blocks

    painter = SkeletonPainter(profile.width, profile.height)
    if isinstance(poses, Motion):
        skeletons = draw_motion(poses, profile.body_model, profile.camera, painter, chunk_frames)
    else:
        skeletons = draw_pose_blocks(poses, profile.body_model, profile.camera, painter)
    frames = renderer.render_images(skeletons, chunk=1)
    if profile.framing is None:
        return frames
    from speech2video.render.framing import composite

    framing = profile.framing
    return (composite(frame, framing) for frame in frames)


def render_pieces(
    renderer: StreamingRenderer,
    profile: SpeakerProfile,
    motion: Motion | Iterable[np.ndarray],
    audio: Audio | None,
    chunk_frames: int = DEFAULT_CHUNK_FRAMES,
    first_chunk_frames: int = DEFAULT_FIRST_CHUNK_FRAMES,
    fps: float | None = None,
) -> Iterator[Mp4Piece]:
    """A motion (or its pose blocks, in order, at ``fps``) rendered and encoded to
    fragmented-MP4 pieces (H.264, AAC when audio given): a first piece of
    ``first_chunk_frames`` frames, then ``chunk_frames`` each. The pieces depend only on the
    poses, not on how they were split into blocks."""
    if chunk_frames < 1 or first_chunk_frames < 1:
        raise InputError(f"chunk sizes must be >= 1; got {first_chunk_frames}, {chunk_frames}")
    rate = motion.fps if isinstance(motion, Motion) else fps
    if rate is None:
        raise InputError("fps is needed to render pose blocks")
    frames = render_frames(renderer, profile, motion, chunk_frames)
    return encode_pieces(frames, rate, chunk_frames, audio, first_chunk_frames)
