"""Sending a motion once: content digests, a replica's cache of motions it was sent, and edits.

The synthesis flow calls the KeyPose stage twice with the same predicted motion (head words,
then all words). The first call sends the poses and gets their digest back; the second sends the
digest only. Each reply carries just the frames the key poses changed (a key pose touches the
1.5 s around its word), which the caller applies to its own copy. A replica that no longer holds
a digest says so (FAILED_PRECONDITION) and the caller sends the poses again, so the cache is an
optimisation, never a source of truth.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

import numpy as np

from speech2video.body.motion_file import Motion

#: Motions a KeyPose replica keeps for later calls, and their total size (bytes).
CACHE_MOTIONS = 32
CACHE_BYTES = 64 << 20
#: A digest is the hex SHA-256 (64 characters).
DIGEST_CHARS = 64


def motion_digest(motion: Motion) -> str:
    """Hex SHA-256 of everything a PoseSequence carries: poses, fps, betas, orientation, speaker."""
    h = hashlib.sha256()
    for array in (motion.poses, motion.betas, motion.global_orient):
        h.update(np.ascontiguousarray(array, dtype="<f4").tobytes())
        h.update(np.asarray(array.shape, "<i8").tobytes())
    h.update(np.float64(motion.fps).tobytes())
    h.update(motion.speaker.encode())
    return h.hexdigest()


class MotionCache:
    """Motions by digest, least recently used dropped first; safe across threads."""

    def __init__(self, max_motions: int = CACHE_MOTIONS, max_bytes: int = CACHE_BYTES) -> None:
        self.max_motions, self.max_bytes = max_motions, max_bytes
        self._items: OrderedDict[str, Motion] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def put(self, digest: str, motion: Motion) -> None:
        with self._lock:
            if digest in self._items:
                self._items.move_to_end(digest)
                return
            self._items[digest] = motion
            self._bytes += motion.poses.nbytes
            while len(self._items) > self.max_motions or (
                self._bytes > self.max_bytes and len(self._items) > 1
            ):
                _, dropped = self._items.popitem(last=False)
                self._bytes -= dropped.poses.nbytes

    def get(self, digest: str) -> Motion | None:
        with self._lock:
            motion = self._items.get(digest)
            if motion is not None:
                self._items.move_to_end(digest)
            return motion

    def __len__(self) -> int:
        return len(self._items)


def pose_edits(before: np.ndarray, after: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """The runs of frames that differ: [(start_frame, after[start:end])], in order.

    before, after: (T, 106) float32
    """
    if before.shape != after.shape:
        raise ValueError(f"shapes differ: {before.shape} vs {after.shape}")
    changed = np.any(before != after, axis=1)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], changed.astype(np.int8), [0]])))
    return [(int(s), after[s:e]) for s, e in zip(edges[::2], edges[1::2], strict=True)]


def apply_edits(poses: np.ndarray, edits: list[tuple[int, np.ndarray]]) -> np.ndarray:
    """``poses`` with each edit's frames written in (a copy); ValueError when one falls outside.

    poses: (T, 106); each edit (start, (n, 106)) → (T, 106)
    """
    out = poses.copy()
    for start, frames in edits:
        if start < 0 or start + frames.shape[0] > out.shape[0] or frames.shape[1:] != out.shape[1:]:
            raise ValueError(
                f"an edit of {frames.shape[0]} frames at {start} does not fit {out.shape[0]} frames"
            )
        out[start : start + frames.shape[0]] = frames
    return out
