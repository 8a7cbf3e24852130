"""Key poses on a live pose stream: frames arrive as speech is heard, words later (paper §3.3).

The rules of :mod:`speech2video.motion.keypose_insertion` applied incrementally. Frames come
from the streaming audio-to-pose model (:class:`speech2video.motion.pose_stream.PoseStream`),
words from recognising the speech heard so far, each batch with the time before which the words
are complete. A frame is *final* (may be rendered) when no word still to come and no insertion
still waiting for its frames can change it:

- words: a word starting at or after ``complete_before_s`` writes frames ``>= k − N + 1``
  (``N`` the dictionary's longest ramp), so frames ``< round(complete_before_s × fps) − N`` are
  final (as :meth:`KeyPoseInserter.final_frames`);
- insertions: an accepted key pose is applied once the frame its after-ramp ends on has arrived
  (until then its ramp start ``s`` bounds the final frames), exactly as the whole-file inserter
  applies it, so with every word known in time the frames equal the whole-file ones.

A live stream cannot wait for ever: :meth:`LiveKeyPoses.take` is given the frame the renderer
must have by now (the caller's latency budget). Frames before it are released even when not
final; a key word whose key frame is then already released is logged ``late`` (an accepted one
whose ramp was overtaken too), and a word whose before-ramp was partly released gets a shorter
ramp from the last released frame (rule 6). Probability draws happen in word order as words
arrive, so the same words give the same draws as the whole-file path.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from speech2video.body import pose_layout as pl
from speech2video.errors import InputError
from speech2video.motion.keypose_dictionary import KeyPoseDictionary, KeyPoseEntry
from speech2video.motion.keypose_insertion import (
    FORBIDDEN,
    INSERTED,
    OPENING,
    OUT_OF_RANGE,
    OVERLAP,
    SKIPPED_PROBABILITY,
    InsertionLogEntry,
    Interpolation,
    KeyPoseInserter,
)
from speech2video.motion.words import Word, normalize_word

#: Status of a key word heard after its frames had to be rendered.
LATE = "late"


@dataclass
class _Pending:
    """An accepted key pose waiting for its frames: key frame ``k``, its full key span end
    ``k_last`` (before end clipping), the earliest frame a ramp may keep (``floor``) and its
    place in the log."""

    k: int
    k_last: int
    floor: int
    entry: KeyPoseEntry
    word: Word
    log_index: int
    ramp: int

    @property
    def start(self) -> int:
        """The ramp start frame ``s`` (kept as it is); frames after it change."""
        return max(self.k - self.ramp, 0, self.floor)

    @property
    def end(self) -> int:
        """The frame the after-ramp ends on (kept as it is)."""
        return self.k_last + self.ramp


class LiveKeyPoses:
    """Push pose frames and words as they come; take the frames that may be rendered."""

    def __init__(
        self,
        dictionary: KeyPoseDictionary,
        fps: float,
        *,
        seed: int | None,
        force: Iterable[str] = (),
        forbid: Iterable[str] = (),
        interpolation: Interpolation = "linear",
        disabled: bool = False,
        locked_frames: int = 0,
    ) -> None:
        self.inserter = KeyPoseInserter(dictionary, fps, interpolation)
        self.fps = float(fps)
        self.disabled = disabled
        self._rng = np.random.default_rng(seed)
        self._force = {normalize_word(w) for w in force}
        self._forbid = {normalize_word(w) for w in forbid}
        self._locked = int(locked_frames)
        entries = dictionary.entries.values()
        self._ramp_max = max((self.inserter.ramp_length(e) for e in entries), default=0)
        self._buf = np.zeros((256, pl.POSE_DIM), np.float32)  # frames [base, t)
        self._base = 0
        self.num_frames = 0  # frames pushed (t)
        self.released = 0
        self._words_before = 0  # frames no later word can reach (round(complete_before × fps))
        self._words_done = False
        self._prev_last = self._locked - 1
        self._pending: list[_Pending] = []
        self.log: list[InsertionLogEntry] = []

    # ------------------------------------------------------------------ input

    def push_frames(self, poses: np.ndarray) -> None:
        """poses: (k, 106) float32 — the next frames of the stream."""
        poses = pl.check_poses(poses) if len(poses) else poses.reshape(0, pl.POSE_DIM)
        need = self.num_frames + len(poses) - self._base
        if need > len(self._buf):
            grown = np.zeros((max(need, 2 * len(self._buf)), pl.POSE_DIM), np.float32)
            grown[: self.num_frames - self._base] = self._buf[: self.num_frames - self._base]
            self._buf = grown
        start = self.num_frames - self._base
        self._buf[start : start + len(poses)] = poses
        self.num_frames += len(poses)
        self._apply_ready(final=False)

    def push_words(self, words: Sequence[Word], complete_before_s: float | None) -> None:
        """The next words (in time order, after those pushed before) and the time before which
        every word has now been pushed (None: there will be no more words)."""
        for word in words:
            self._decide(word)
        if complete_before_s is None:
            self._words_done = True
        else:
            if not np.isfinite(complete_before_s) or complete_before_s < 0:
                raise InputError(f"complete_before_s must be >= 0; got {complete_before_s}")
            k = round(complete_before_s * self.fps)
            self._words_before = max(self._words_before, k)
        self._apply_ready(final=False)

    def _decide(self, word: Word) -> None:
        entry = self.inserter.dictionary.lookup(word.word)
        if entry is None or self.disabled:
            return
        u = float(self._rng.random())  # one draw per matched word, as the whole-file rule 2
        k = round(word.start * self.fps)
        status = None
        if k < self._locked:
            status = OPENING
        elif k < self.released:
            status = LATE
        elif entry.word in self._forbid:
            status = FORBIDDEN
        elif not (entry.word in self._force or u < entry.probability):
            status = SKIPPED_PROBABILITY
        elif k <= self._prev_last:
            k_last = k + self.inserter.key_length(entry) - 1
            entry_log = InsertionLogEntry(word.word, word.start, entry.word, k, k_last, OVERLAP)
            self.log.append(entry_log)
            return
        if status is not None:
            self.log.append(InsertionLogEntry(word.word, word.start, entry.word, -1, -1, status))
            return
        k_last = k + self.inserter.key_length(entry) - 1
        floor = max(self._prev_last, self.released - 1)
        ramp = self.inserter.ramp_length(entry)
        self._pending.append(_Pending(k, k_last, floor, entry, word, len(self.log), ramp))
        self.log.append(InsertionLogEntry(word.word, word.start, entry.word, k, k_last, "pending"))
        self._prev_last = k_last

    # ------------------------------------------------------------------ output

    def final_frames(self) -> int:
        """Leading frames nothing still to come can change."""
        t = self.num_frames
        if self.disabled:
            return t
        bound = t if self._words_done else max(self._words_before - self._ramp_max, self._locked)
        if self._pending:
            bound = min(bound, self._pending[0].start + 1)
        return int(max(min(bound, t), self.released))

    def take(self, deadline_frame: int | None = None) -> np.ndarray:
        """(k, 106) float32: the frames after those taken before that are final, and at least
        those before ``deadline_frame`` (that have arrived) even when not final; a pending
        key pose whose key frame they overtake is dropped (logged ``late``), one whose ramp they
        enter gets a shorter ramp."""
        upto = self.final_frames()
        if deadline_frame is not None and deadline_frame > upto:
            upto = min(deadline_frame, self.num_frames)
            while self._pending and self._pending[0].start + 1 < upto:
                if self._pending[0].k >= upto:  # its key frame is still to come: shorter ramp
                    self._pending[0].floor = upto - 1
                    break
                self._drop(self._pending.pop(0))
        return self._release(upto)

    def finish(self) -> np.ndarray:
        """End of the stream (every frame and word pushed): the rest of the frames."""
        self._words_done = True
        self._apply_ready(final=True)
        return self._release(self.num_frames)

    def close(self) -> None:
        """The video ended before its last words (every frame taken): key poses still pending
        are late, and so is every key word pushed from now on."""
        for item in self._pending:
            self._drop(item)
        self._pending = []
        self._words_done = True

    @property
    def inserted(self) -> list[InsertionLogEntry]:
        return [e for e in self.log if e.status == INSERTED]

    @property
    def late(self) -> list[InsertionLogEntry]:
        return [e for e in self.log if e.status == LATE]

    # ------------------------------------------------------------------ internals

    def _drop(self, item: _Pending) -> None:
        self.log[item.log_index] = replace(self.log[item.log_index], status=LATE)

    def _apply_ready(self, final: bool) -> None:
        """Apply pending key poses, in order, whose frames (up to the after-ramp end) are all
        here; at the end of the stream all of them, clipped as the whole-file inserter does."""
        t = self.num_frames
        while self._pending:
            item = self._pending[0]
            if not final and item.end >= t:
                return
            self._pending.pop(0)
            if item.k >= t:
                self.log[item.log_index] = replace(
                    self.log[item.log_index], start_frame=-1, end_frame=-1, status=OUT_OF_RANGE
                )
                continue
            b = self._base
            view = self._buf[: t - b]
            k_last = min(item.k_last, t - 1)
            self.inserter._apply(view, item.entry, item.k - b, k_last - b, item.floor - b)
            self.log[item.log_index] = replace(
                self.log[item.log_index], end_frame=k_last, status=INSERTED
            )

    def _release(self, upto: int) -> np.ndarray:
        out = self._buf[self.released - self._base : upto - self._base].copy()
        self.released = max(self.released, upto)
        keep = max(self.released - 1, 0)  # a later ramp may start on the last released frame
        if self._pending:
            keep = min(keep, self._pending[0].floor, self._pending[0].start)
        if keep - self._base >= 1024:  # drop released frames now and then (flat memory)
            n = self.num_frames - keep
            self._buf[:n] = self._buf[keep - self._base : self.num_frames - self._base]
            self._base = keep
        return out
