"""Inserting key poses into a pose sequence at their key words (paper §3.3, Fig. 6).

The rules, with ``fps`` the sequence's frame rate and ``P`` the sequence being edited:

1. **Matching.** Each word is looked up in the dictionary through ``normalize_word``. Words not
   in the dictionary are ignored (no log entry).
2. **Probability.** For every matched word, in the order the words are given, exactly one number
   ``u`` is drawn from ``np.random.default_rng(seed)``; the word is inserted when
   ``u < probability`` (so 0 never inserts and 1 always does). The draw happens even for forced,
   forbidden and out-of-range words, so forcing one word never shifts the others' draws.
   ``force`` words insert regardless of ``u``; ``forbid`` words never insert (forbid wins).
3. **Key frames.** ``k = round(word.start × fps)``. A still pose overwrites frames
   ``k .. k+H-1`` with ``H = max(1, round(hold_s × fps))`` (the paper holds 0.3 s). A motion
   overwrites frames ``k .. k+L-1`` with its ``L`` frames. Both are clipped at the end of the
   sequence; ``k_last`` is the last key frame written. ``k >= T`` → status ``out_of_range``.
4. **Ramps.** ``N = round(ramp_s × fps)`` (the paper's 0.6 s: 18 frames at 30 fps).
   Before: the ramp start ``s = k − N`` keeps its frame; frames ``i = s+1 .. k−1`` become
   ``(1−w)·P[s] + w·K_first`` with ``w = (i−s)/N``. After: the ramp end ``e = k_last + N`` keeps
   its frame; frames ``i = k_last+1 .. e−1`` become ``(1−w)·P[e] + w·K_last`` with
   ``w = (e−i)/N``. At the sequence boundaries a ramp is shortened: ``s`` is clipped to frame 0
   and ``e`` to the last frame, and the weights use the shortened length (``(i−s)/(k−s)``,
   ``(e−i)/(e−k_last)``) so the ramp still reaches the key pose.
5. **Overlap.** Accepted insertions are applied in time order (by ``k``; ties keep word order).
   One whose key span ``[k, k_last]`` intersects the key span of an earlier accepted insertion
   is skipped with status ``overlap``. Ramps may overlap: each ramp reads ``P`` as already
   edited, and a before-ramp never starts earlier than the previous insertion's ``k_last``, so
   consecutive key poses chain smoothly (key pose → ramp → key pose) and key frames are never
   overwritten by a later ramp.
6. **Locked opening.** With ``locked_frames = F`` (streaming: frames already sent), frames
   ``0 .. F-1`` are never written: a word with ``k < F`` gets status ``opening``, and a
   before-ramp starts no earlier than frame ``F-1`` (it is shortened like a boundary ramp).
7. **Interpolation.** ``"linear"`` blends all 106 numbers linearly, as the paper does.
   ``"rotation"`` slerps each of the 24 joint rotations (body, jaw, eyes) along the great circle
   and blends the hand PCA and expression coefficients linearly.

Log statuses: ``inserted``, ``skipped_probability``, ``forbidden``, ``overlap``, ``out_of_range``,
``opening``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from speech2video.body import pose_layout as pl
from speech2video.errors import InputError
from speech2video.motion.keypose_dictionary import KeyPoseDictionary, KeyPoseEntry
from speech2video.motion.words import Word, normalize_word

Interpolation = Literal["linear", "rotation"]
INTERPOLATIONS: tuple[str, ...] = ("linear", "rotation")

INSERTED = "inserted"
SKIPPED_PROBABILITY = "skipped_probability"
FORBIDDEN = "forbidden"
OVERLAP = "overlap"
OUT_OF_RANGE = "out_of_range"
OPENING = "opening"


@dataclass(frozen=True)
class InsertionLogEntry:
    """What happened to one matched key word; frames are inclusive, -1 when not placed."""

    word: str
    time: float
    entry: str
    start_frame: int
    end_frame: int
    status: str

    def to_dict(self) -> dict[str, object]:
        return {
            "word": self.word,
            "time": self.time,
            "entry": self.entry,
            "start_frame": self.start_frame,
            "end_frame": self.end_frame,
            "status": self.status,
        }


@dataclass(frozen=True)
class InsertionResult:
    """poses: (T, 106) float32 — the edited sequence; log: one entry per matched word, in word
    order."""

    poses: np.ndarray
    log: list[InsertionLogEntry]

    @property
    def inserted(self) -> list[InsertionLogEntry]:
        return [e for e in self.log if e.status == INSERTED]


def blend(
    a: np.ndarray, b: np.ndarray, w: np.ndarray, interpolation: Interpolation = "linear"
) -> np.ndarray:
    """Interpolate between two poses.

    a, b: (106,) poses; w: (n,) weights, 0 gives a and 1 gives b
    returns: (n, 106) float32
    """
    w = np.asarray(w, np.float32)
    out = (1.0 - w)[:, None] * a[None, :] + w[:, None] * b[None, :]
    if interpolation == "rotation" and w.size:
        from speech2video.body.rotations import slerp_axis_angle

        ra = a[pl.ROTATIONS].reshape(1, pl.NUM_ROTATIONS, 3)
        rb = b[pl.ROTATIONS].reshape(1, pl.NUM_ROTATIONS, 3)
        rot = slerp_axis_angle(ra, rb, w[:, None])  # (n, 24, 3)
        out[:, pl.ROTATIONS] = rot.reshape(w.size, -1)
    return out.astype(np.float32, copy=False)


class KeyPoseInserter:
    """Inserts a speaker's key poses at their key words' times (rules in the module docstring)."""

    def __init__(
        self,
        dictionary: KeyPoseDictionary,
        fps: float,
        interpolation: Interpolation = "linear",
    ) -> None:
        if not np.isfinite(fps) or fps <= 0:
            raise InputError(f"fps must be a positive number; got {fps}")
        if interpolation not in INTERPOLATIONS:
            raise InputError(
                f"interpolation must be one of {list(INTERPOLATIONS)}; got {interpolation!r}"
            )
        self.dictionary = dictionary
        self.fps = float(fps)
        self.interpolation: Interpolation = interpolation

    def key_length(self, entry: KeyPoseEntry) -> int:
        """Frames the entry's key span covers before end clipping (H for a still pose, L for a
        motion)."""
        if entry.is_motion:
            return int(entry.poses.shape[0])
        return max(1, round(entry.hold_s * self.fps))

    def ramp_length(self, entry: KeyPoseEntry) -> int:
        """N = round(ramp_s × fps)."""
        return round(entry.ramp_s * self.fps)

    def final_frames(
        self, words_complete_before_s: float, num_frames: int, locked_frames: int = 0
    ) -> int:
        """How many leading frames no word starting at or after ``words_complete_before_s`` can
        change (streaming: those frames may be rendered before the later words are known).

        Such a word has ``k >= round(t × fps)`` and writes frames ``>= k − N + 1`` (rules 3-5),
        so frames ``< round(t × fps) − N`` are final, ``N`` the longest ramp of the dictionary;
        so are the ``locked_frames`` (rule 6). The draws of earlier words come first (rule 2),
        so they do not change either."""
        if not np.isfinite(words_complete_before_s):
            return num_frames
        ramp = max((self.ramp_length(e) for e in self.dictionary.entries.values()), default=0)
        k = round(max(words_complete_before_s, 0.0) * self.fps)
        return int(min(max(k - ramp, locked_frames, 0), num_frames))

    def insert(
        self,
        poses: np.ndarray,
        words: Sequence[Word],
        seed: int | None = None,
        force: Iterable[str] = (),
        forbid: Iterable[str] = (),
        locked_frames: int = 0,
    ) -> InsertionResult:
        """Insert key poses.

        poses: (T, 106) float32 — the sequence (not modified)
        words: timed words (seconds); force/forbid: words, matched like dictionary keys
        locked_frames: leading frames left as they are (rule 6)
        returns: InsertionResult with the edited (T, 106) poses and the log
        """
        if locked_frames < 0:
            raise InputError(f"locked_frames must be >= 0; got {locked_frames}")
        out = pl.check_poses(poses).copy()
        t = out.shape[0]
        forced = {normalize_word(w) for w in force}
        forbidden = {normalize_word(w) for w in forbid}
        rng = np.random.default_rng(seed)

        log: list[InsertionLogEntry | None] = []
        candidates: list[tuple[int, int, KeyPoseEntry, Word]] = []
        for word in words:
            entry = self.dictionary.lookup(word.word)
            if entry is None:
                continue
            u = float(rng.random())
            k = round(word.start * self.fps)
            idx = len(log)
            if k >= t:
                status = OUT_OF_RANGE
            elif k < locked_frames:
                status = OPENING
            elif entry.word in forbidden:
                status = FORBIDDEN
            elif entry.word in forced or u < entry.probability:
                candidates.append((k, idx, entry, word))
                log.append(None)
                continue
            else:
                status = SKIPPED_PROBABILITY
            log.append(InsertionLogEntry(word.word, word.start, entry.word, -1, -1, status))

        prev_last = locked_frames - 1  # last frame no ramp may write (previous key, or opening)
        for k, idx, entry, word in sorted(candidates, key=lambda c: (c[0], c[1])):
            k_last = min(k + self.key_length(entry), t) - 1
            if k <= prev_last:
                log[idx] = InsertionLogEntry(word.word, word.start, entry.word, k, k_last, OVERLAP)
                continue
            self._apply(out, entry, k, k_last, prev_last)
            prev_last = k_last
            log[idx] = InsertionLogEntry(word.word, word.start, entry.word, k, k_last, INSERTED)
        return InsertionResult(out, [e for e in log if e is not None])

    def _apply(
        self, out: np.ndarray, entry: KeyPoseEntry, k: int, k_last: int, prev_last: int
    ) -> None:
        t = out.shape[0]
        span = k_last - k + 1
        if entry.is_motion:
            out[k : k_last + 1] = entry.poses[:span]
        else:
            out[k : k_last + 1] = entry.poses[0]
        first, last = out[k].copy(), out[k_last].copy()
        n = self.ramp_length(entry)
        if n <= 0:
            return
        # Before: s keeps its frame; s+1 .. k-1 ramp towards the key pose.
        s = max(k - n, 0, prev_last)
        if k - s > 1:
            i = np.arange(s + 1, k)
            out[s + 1 : k] = blend(out[s], first, (i - s) / (k - s), self.interpolation)
        # After: e keeps its frame; k_last+1 .. e-1 ramp from the key pose.
        e = min(k_last + n, t - 1)
        if e - k_last > 1:
            i = np.arange(k_last + 1, e)
            out[k_last + 1 : e] = blend(out[e], last, (e - i) / (e - k_last), self.interpolation)
