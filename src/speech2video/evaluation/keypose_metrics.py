"""Key-pose timing: is each inserted key pose on its word?

For every word of a transcript that the dictionary holds, the key pose is inserted (all such words
forced, so the check covers every dictionary word, not only the ones a probability draw picks;
overlapping or out-of-range ones are skipped by the inserter and not counted). In the edited
sequence, the key frame is the frame within the insertion's ramp window whose pose is nearest
(L2 in the 106-space) to the entry's first pose (the first such frame on ties). An insertion is
on time when ``|key frame - word.start * fps| <= tolerance`` (one frame by default). The metric is
the fraction of insertions on time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from speech2video.motion.keypose_dictionary import KeyPoseDictionary
from speech2video.motion.keypose_insertion import KeyPoseInserter
from speech2video.motion.words import Word


@dataclass(frozen=True)
class KeyPoseTiming:
    """offsets: (N,) frames, key frame minus word start x fps, one per insertion checked."""

    offsets: np.ndarray
    tolerance: float

    @property
    def count(self) -> int:
        return int(self.offsets.size)

    @property
    def within(self) -> int:
        return int(np.sum(np.abs(self.offsets) <= self.tolerance + 1e-9))

    @property
    def fraction(self) -> float:
        """Fraction on time; NaN when nothing was inserted."""
        return self.within / self.count if self.count else float("nan")


def key_frame_offsets(
    poses: np.ndarray,
    words: Sequence[Word],
    dictionary: KeyPoseDictionary,
    fps: float,
    seed: int = 0,
) -> np.ndarray:
    """Insert every dictionary word of ``words`` into ``poses`` (T, 106) and measure where each
    key pose landed: (N,) float64 frames, key frame minus ``word.start * fps``."""
    inserter = KeyPoseInserter(dictionary, fps)
    forced = [w.word for w in words if w.word in dictionary]
    result = inserter.insert(poses, words, seed=seed, force=forced)
    out = result.poses
    offsets = []
    for entry_log in result.inserted:
        entry = dictionary.lookup(entry_log.entry)
        if entry is None:  # pragma: no cover - the inserter only logs dictionary words
            continue
        ramp = inserter.ramp_length(entry)
        k0 = round(entry_log.time * fps)
        lo, hi = max(0, k0 - ramp), min(out.shape[0], k0 + ramp + 1)
        dist = np.linalg.norm(out[lo:hi] - entry.first[None, :], axis=1)
        key = lo + int(np.argmin(dist))
        offsets.append(key - entry_log.time * fps)
    return np.asarray(offsets, np.float64)


def keypose_timing(
    clips: Sequence[tuple[np.ndarray, Sequence[Word]]],
    dictionary: KeyPoseDictionary,
    fps: float,
    seed: int = 0,
    tolerance: float = 1.0,
) -> KeyPoseTiming:
    """Key-frame offsets over several (poses (T, 106), words) clips."""
    parts = [key_frame_offsets(p, w, dictionary, fps, seed) for p, w in clips]
    offsets = np.concatenate(parts) if parts else np.zeros(0)
    return KeyPoseTiming(offsets, float(tolerance))
