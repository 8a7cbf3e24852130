"""The per-stage computations of a synthesis, shared by the Serve apps and the in-process CLI.

audio ─► poses (audio-to-pose LSTM at the speaker's fps) ─► key poses ─► skeleton images ─►
rendered frames ─► fragmented-MP4 pieces. Each function works on one loaded model set part.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator, Sequence
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


def poses_from_audio(model: SequenceToPoseLSTM, audio: Audio, fps: float) -> np.ndarray:
    """16 kHz mono audio → (round(duration × fps), 106) float32 poses."""
    return model.predict(compute_features(audio.samples, audio.rate), fps)


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
    """Key poses at key words (paper §3.3); ``disabled`` returns the poses unchanged."""
    if disabled:
        return InsertionResult(motion.poses.copy(), [])
    inserter = KeyPoseInserter(dictionary, motion.fps, interpolation)  # type: ignore[arg-type]
    return inserter.insert(motion.poses, words, seed=seed, force=force, forbid=forbid)


def render_frames(
    renderer: StreamingRenderer, profile: SpeakerProfile, motion: Motion, chunk_frames: int
) -> Iterator[np.ndarray]:
    """Rendered RGB frames (height, width, 3) uint8 of a motion, lazily, chunk by chunk."""
    from speech2video.render.skeleton_painter import SkeletonPainter
    from speech2video.render.skeleton_video import draw_motion

    painter = SkeletonPainter(profile.width, profile.height)
    skeletons = draw_motion(motion, profile.body_model, profile.camera, painter, chunk_frames)
    return renderer.render_images(skeletons, chunk=chunk_frames)


def render_pieces(
    renderer: StreamingRenderer,
    profile: SpeakerProfile,
    motion: Motion,
    audio: Audio | None,
    chunk_frames: int = DEFAULT_CHUNK_FRAMES,
) -> Iterator[Mp4Piece]:
    """A motion rendered and encoded to fragmented-MP4 pieces (H.264, AAC when audio given)."""
    if chunk_frames < 1:
        raise InputError(f"chunk_frames must be >= 1; got {chunk_frames}")
    frames = render_frames(renderer, profile, motion, chunk_frames)
    return encode_pieces(frames, motion.fps, chunk_frames, audio)
