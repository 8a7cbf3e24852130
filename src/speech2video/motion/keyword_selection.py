"""Key words and their key poses found in a speaker's own transcribed recordings (paper §3.3).

The paper picks key poses by hand from recordings where the speaker posed for key words. A
person enrolled from ordinary video has no such recordings, so this module finds them in what
they said and how they moved:

1. **Candidates.** Every occurrence of a word of the *vocabulary* (:data:`GESTURE_WORDS` by
   default: words English speakers typically gesture on) in the transcripts, plus, with
   ``energy_words > 0``, the speaker's *habitual* gesture words: words outside the vocabulary
   and outside :data:`FUNCTION_WORDS`, of three letters or more, spoken at least
   ``energy_min_count`` times, ranked by the lower median of their occurrences' gesture scores
   (a word the speaker gestures on at least half the times, not once by chance); the best
   ``energy_words`` whose lower median reaches ``min_score`` join.
2. **Gesture score of an occurrence.** Gesture energy is the mean speed of the wrists and elbows
   (m/s, from the fitted motion's 3D joints, smoothed over ``smooth_s``); the score is its peak
   within ``peak_window_s`` of the word's onset (a gesture's stroke comes just before or with
   the word it stresses) divided by the speaker's median energy over all candidate recordings:
   1 is ordinary motion, a still speaker scores near 0.
3. **Eligible occurrences.** The key pose's window ``[onset - before_s, onset + after_s]``
   must lie wholly inside its recording (a word at a cut or
   at either end would give a truncated gesture); words whose times the aligner could not place
   (``confidence < min_confidence``) are skipped. Which recordings are offered at all is the
   caller's business (the pipeline offers training recordings only, never held-out ones).
4. **Choice.** A word's occurrence with the highest score wins (the clearest gesture); a word
   whose best score is below ``min_score`` gets no key pose. One gesture serves one word: words
   are served in order of their best score, and an occurrence whose peak lies within
   ``min_gap_s`` of a peak already taken in the same recording gives way to the word's next best.
5. **The key pose.** ``motion`` (default): the window's frames; ``still``: the one frame of the
   window where the wrists are furthest from their median position in the recording (the apex
   of the gesture). ``kinds`` sets it per word.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from speech2video.body.joint_tree import JOINT_INDEX, NUM_JOINTS
from speech2video.errors import InputError
from speech2video.motion.words import Word, normalize_word

#: Words English speakers typically gesture on: size and quantity, negation and assent, people
#: (pointing), place and direction, greeting, emphasis, counting.
GESTURE_WORDS: tuple[str, ...] = (
    "huge", "big", "large", "enormous", "massive", "small", "tiny", "little",
    "all", "every", "everyone", "everybody", "everything", "nothing", "many", "more", "most",
    "no", "not", "never", "nobody", "yes", "absolutely", "exactly",
    "me", "myself", "you", "we", "us", "they", "together",
    "here", "there", "up", "down", "over", "around", "away", "back", "forward",
    "hello", "hi", "bye", "goodbye", "wave", "thanks", "welcome", "please", "stop", "wait",
    "one", "two", "three", "first", "second", "finally",
)  # fmt: skip
#: Frequent words that carry no gesture of their own (never habitual gesture words).
FUNCTION_WORDS: frozenset[str] = frozenset((
    "the", "a", "an", "and", "or", "but", "if", "of", "to", "in", "on", "at", "by", "for", "from",
    "with", "about", "as", "into", "than", "then", "so", "that", "this", "these", "those", "it",
    "its", "it's", "is", "are", "was", "were", "be", "been", "being", "am", "do", "does", "did",
    "done", "have", "has", "had", "i", "i'm", "i've", "i'd", "he", "she", "him", "her", "his",
    "hers", "their", "them", "our", "your", "my", "what", "which", "who", "whom", "whose", "when",
    "where", "why", "how", "can", "could", "would", "should", "will", "shall", "may", "might",
    "must", "just", "like", "um", "uh", "er", "ah", "oh", "okay", "well", "also", "very",
    "really", "there's", "that's", "don't",
))  # fmt: skip
#: Joints whose speed is the gesture energy.
GESTURE_JOINTS: tuple[int, ...] = tuple(
    JOINT_INDEX[n] for n in ("left_elbow", "right_elbow", "left_wrist", "right_wrist")
)
WRISTS: tuple[int, ...] = (JOINT_INDEX["left_wrist"], JOINT_INDEX["right_wrist"])
KINDS = ("motion", "still")


@dataclass(frozen=True)
class SelectionConfig:
    """The selection rule's settings (see the module doc); ``from_params`` reads params.yaml."""

    vocabulary: tuple[str, ...] = GESTURE_WORDS
    energy_words: int = 3
    energy_min_count: int = 2
    before_s: float = 0.3
    after_s: float = 0.6
    peak_window_s: float = 0.3
    smooth_s: float = 0.1
    min_score: float = 2.0
    min_gap_s: float = 0.5
    min_confidence: float = 0.05
    kind: str = "motion"
    kinds: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in KINDS or any(k not in KINDS for k in self.kinds.values()):
            raise InputError(f"key-pose kind must be one of {KINDS}")
        for name in ("before_s", "after_s", "peak_window_s", "smooth_s", "min_score", "min_gap_s"):
            if not float(getattr(self, name)) >= 0:
                raise InputError(f"{name} must be >= 0; got {getattr(self, name)!r}")
        if self.before_s + self.after_s <= 0:
            raise InputError("before_s + after_s must be > 0")
        if self.energy_words < 0 or self.energy_min_count < 1:
            raise InputError("energy_words must be >= 0 and energy_min_count >= 1")

    @classmethod
    def from_params(cls, p: Mapping[str, Any]) -> SelectionConfig:
        """``vocabulary`` (a list) replaces :data:`GESTURE_WORDS`, ``extra_words`` extends it;
        the other keys are the fields of the same name. Unknown keys raise InputError."""
        known = set(cls.__dataclass_fields__) | {"extra_words"}
        unknown = sorted(set(p) - known)
        if unknown:
            raise InputError(f"unknown key-word selection key(s) {unknown}")
        vocab = p.get("vocabulary")
        words = list(GESTURE_WORDS if vocab is None else vocab) + list(p.get("extra_words") or [])
        if not all(isinstance(w, str) for w in words):
            raise InputError("vocabulary and extra_words must be lists of words")
        kinds = {normalize_word(k): str(v) for k, v in (p.get("kinds") or {}).items()}
        defaults = cls()
        rest = {k: p[k] for k in cls.__dataclass_fields__ if k in p and k not in ("vocabulary",)}
        try:
            numbers = {k: type(getattr(defaults, k))(v) for k, v in rest.items() if k != "kinds"}
        except (TypeError, ValueError) as exc:
            raise InputError(f"bad key-word selection value ({exc})") from None
        vocabulary = tuple(dict.fromkeys(normalize_word(w) for w in words if normalize_word(w)))
        return cls(**{**numbers, "vocabulary": vocabulary, "kinds": kinds})

    def kind_of(self, word: str) -> str:
        return self.kinds.get(word, self.kind)


@dataclass(frozen=True)
class GestureTrack:
    """One recording's motion as the selection sees it.

    energy: (T,) float32 — smoothed mean speed of the wrists and elbows, m/s
    extent: (T,) float32 — mean distance of the wrists from their median position, m
    """

    recording: str
    fps: float
    energy: np.ndarray
    extent: np.ndarray

    @property
    def duration_s(self) -> float:
        return self.energy.shape[0] / self.fps


def gesture_track(
    recording: str, joints: np.ndarray, fps: float, smooth_s: float = 0.1
) -> GestureTrack:
    """joints: (T, 55, 3) float32 positions in metres at ``fps`` → :class:`GestureTrack`."""
    joints = np.asarray(joints, np.float32)
    if joints.ndim != 3 or joints.shape[1:] != (NUM_JOINTS, 3) or joints.shape[0] < 2:
        raise InputError(f"{recording}: joints must be (T>=2, {NUM_JOINTS}, 3); got {joints.shape}")
    if not fps > 0:
        raise InputError(f"{recording}: fps must be > 0; got {fps!r}")
    arms = joints[:, list(GESTURE_JOINTS)]
    speed = np.linalg.norm(np.gradient(arms, axis=0), axis=-1).mean(axis=1) * fps
    width = max(1, round(smooth_s * fps)) | 1  # odd, centred
    padded = np.pad(speed, width // 2, mode="edge")
    energy = np.convolve(padded, np.ones(width) / width, mode="valid")
    wrists = joints[:, list(WRISTS)]
    extent = np.linalg.norm(wrists - np.median(wrists, axis=0), axis=-1).mean(axis=1)
    return GestureTrack(recording, float(fps), energy.astype(np.float32), extent.astype(np.float32))


@dataclass(frozen=True)
class Occurrence:
    """One spoken word in a recording, scored; times in seconds."""

    word: str
    recording: str
    onset: float
    start: float  # the scoring window (it lies inside the recording)
    end: float
    score: float
    peak_s: float  # time of the energy peak near the onset
    apex_s: float  # time of the wrists' furthest extent in the window


@dataclass(frozen=True)
class KeyWordChoice:
    """A chosen key word: the ``keywords.csv`` row it amounts to, and why.

    start, end: the span of ``recording`` (seconds) the key pose is cut from; a ``still``
    pose's span is the one apex frame (start == end)
    """

    word: str
    recording: str
    start: float
    end: float
    kind: str
    score: float
    source: str  # "vocabulary" or "gesture energy"
    occurrences: int

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for key in ("start", "end", "score"):
            out[key] = round(float(out[key]), 3)
        return out


@dataclass(frozen=True)
class Selection:
    """What :func:`select_key_words` chose, and what it passed over with the reason."""

    chosen: tuple[KeyWordChoice, ...]
    rejected: Mapping[str, str]
    reference_energy: float  # the speaker's median gesture energy, m/s

    def to_dict(self) -> dict[str, Any]:
        return {
            "reference_energy_m_s": round(self.reference_energy, 4),
            "chosen": [c.to_dict() for c in self.chosen],
            "rejected": dict(sorted(self.rejected.items())),
        }


def score_occurrences(
    words: Sequence[Word], track: GestureTrack, reference: float, config: SelectionConfig
) -> tuple[list[Occurrence], dict[str, str]]:
    """Score each word of ``words`` (spoken in ``track``'s recording) whose window fits inside
    the recording; also returns, per word with no eligible occurrence there, why not."""
    out: list[Occurrence] = []
    why: dict[str, str] = {}
    n = track.energy.shape[0]
    for w in words:
        key = normalize_word(w.word)
        if not key:
            continue
        if w.confidence < config.min_confidence:
            why.setdefault(key, "its times were not heard (aligner confidence too low)")
            continue
        lo, hi = w.start - config.before_s, w.start + config.after_s
        first, last = round(lo * track.fps), round(hi * track.fps)
        if lo < 0 or first < 0 or hi > track.duration_s or last >= n:
            why.setdefault(key, "too close to a recording edge")
            continue
        near = (max(first, round((w.start - config.peak_window_s) * track.fps)),
                min(last, round((w.start + config.peak_window_s) * track.fps)))  # fmt: skip
        peak = near[0] + int(np.argmax(track.energy[near[0] : near[1] + 1]))
        apex = first + int(np.argmax(track.extent[first : last + 1]))
        score = float(track.energy[peak]) / reference
        out.append(
            Occurrence(key, track.recording, w.start, first / track.fps, last / track.fps,
                       score, peak / track.fps, apex / track.fps)
        )  # fmt: skip
    return out, why


def select_key_words(
    transcripts: Mapping[str, Sequence[Word]],
    tracks: Mapping[str, GestureTrack],
    config: SelectionConfig | None = None,
    exclude: Collection[str] = (),
) -> Selection:
    """Key words of a speaker and the span of each one's clearest gesture (see the module doc).

    transcripts: recording → its timed words; tracks: recording → its :class:`GestureTrack`
    (recordings in one and not the other are ignored); exclude: words already given a key pose
    (``keywords.csv``), never chosen here.
    """
    config = config or SelectionConfig()
    recs = [r for r in transcripts if r in tracks]
    if not recs:
        return Selection((), {}, 0.0)
    reference = float(np.median(np.concatenate([tracks[r].energy for r in recs])))
    reference = max(reference, 1e-3)  # a still speaker: scores near 0, nothing is chosen
    skipped = {normalize_word(w) for w in exclude}
    by_word: dict[str, list[Occurrence]] = {}
    why: dict[str, str] = {}
    for rec in recs:
        found, reasons = score_occurrences(transcripts[rec], tracks[rec], reference, config)
        for occ in found:
            by_word.setdefault(occ.word, []).append(occ)
        for word, reason in reasons.items():
            why.setdefault(word, reason)
    vocabulary = set(config.vocabulary)
    sources: dict[str, str] = {w: "vocabulary" for w in by_word if w in vocabulary}
    habitual = [
        (sorted(o.score for o in occ)[(len(occ) - 1) // 2], w)  # the lower median
        for w, occ in by_word.items()
        if w not in vocabulary and w not in FUNCTION_WORDS and len(w) >= 3
        and len(occ) >= config.energy_min_count and w not in skipped
    ]  # fmt: skip
    habitual.sort(key=lambda x: (-x[0], x[1]))
    for median, word in habitual[: config.energy_words]:
        if median >= config.min_score:
            sources[word] = "gesture energy"
    rejected = {w: r for w, r in why.items() if w in vocabulary and w not in by_word}
    rejected = {w: r for w, r in rejected.items() if w not in skipped}
    order: list[tuple[float, str]] = []
    for word in sources:
        if word in skipped:
            continue
        best = max(o.score for o in by_word[word])
        if best < config.min_score:
            rejected[word] = f"weak gesture (best score {best:.2f} < {config.min_score:g})"
        else:
            order.append((best, word))
    order.sort(key=lambda x: (-x[0], x[1]))
    taken: list[Occurrence] = []
    chosen: list[KeyWordChoice] = []
    for _, word in order:
        ranked = sorted(by_word[word], key=lambda o: (-o.score, o.recording, o.onset))
        free = [
            o for o in ranked if o.score >= config.min_score and not any(
                t.recording == o.recording and abs(t.peak_s - o.peak_s) < config.min_gap_s
                for t in taken
            )
        ]  # fmt: skip
        if not free:
            rejected[word] = "its gestures already serve other key words"
            continue
        occ = free[0]
        taken.append(occ)
        kind = config.kind_of(word)
        start, end = (occ.start, occ.end) if kind == "motion" else (occ.apex_s, occ.apex_s)
        chosen.append(
            KeyWordChoice(word, occ.recording, start, end, kind, occ.score, sources[word],
                          len(by_word[word]))
        )  # fmt: skip
    return Selection(tuple(chosen), rejected, reference)
