"""Forced alignment: times for every word of a known transcript.

Engines:

- ``pocketsphinx``: HMM forced alignment (pocketsphinx 5 English model) — onsets within a few tens
  of milliseconds when it succeeds, but it can silently drop words. A fresh decoder per utterance,
  wide beams, the audio padded with silence, and words missing from its dictionary given an
  espeak-ng pronunciation. Every word is checked; dropped words are reported as not placed.
- ``whisper``: the Whisper model transcribes with the transcript as its prompt, and its words are
  matched to the transcript by edit-distance alignment. Coarser (~100 ms) but rarely drops words.
- ``hybrid`` (default): pocketsphinx, with words it did not place taken from the whisper result.

:func:`refine_word_times` applies the same pocketsphinx alignment to a recogniser's own words,
so recognised speech gets aligner-grade onsets (the speech-to-text path does it by default).

Words no engine placed are interpolated between their neighbours (``confidence`` 0). When no word
at all could be placed, or more than ``max_guessed`` of them had to be guessed,
:class:`AlignmentError` names them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from speech2video.audio.io import DEFAULT_MAX_SECONDS, Audio, decode
from speech2video.errors import InputError
from speech2video.motion.words import Word, normalize_word

ENGINES = ("hybrid", "pocketsphinx", "whisper")
DEFAULT_ENGINE = "hybrid"
#: Silence added before and after the audio for pocketsphinx (seconds): words at the very edges
#: of a file are otherwise often dropped.
_PAD_SECONDS = 0.3
_FILLERS = re.compile(r"^(<.*>|\[.*\])$")
_VARIANT = re.compile(r"\(\d+\)$")

# espeak-ng en-us phoneme mnemonics → the CMU phone set of pocketsphinx's English model.
_ESPEAK_TO_CMU: dict[str, tuple[str, ...]] = {
    "p": ("P",), "b": ("B",), "t": ("T",), "t#": ("T",), "?": ("T",), "d": ("D",),
    "k": ("K",), "x": ("K",), "g": ("G",), "f": ("F",), "v": ("V",), "T": ("TH",),
    "D": ("DH",), "s": ("S",), "z": ("Z",), "S": ("SH",), "Z": ("ZH",), "h": ("HH",),
    "m": ("M",), "n": ("N",), "n-": ("N",), "N": ("NG",), "l": ("L",), "l-": ("L",),
    "r": ("R",), "r-": ("R",), "j": ("Y",), "w": ("W",), "tS": ("CH",), "dZ": ("JH",),
    "@": ("AH",), "@2": ("AH",), "@5": ("AH",), "a#": ("AH",), "V": ("AH",), "@L": ("AH", "L"),
    "3": ("ER",), "3:": ("ER",), "I": ("IH",), "I2": ("IH",), "I#": ("IH",), "i": ("IY",),
    "i:": ("IY",), "E": ("EH",), "a": ("AE",), "aa": ("AE",), "A:": ("AA",), "A": ("AA",),
    "0": ("AA",), "A@": ("AA", "R"), "O:": ("AO",), "O": ("AO",), "O@": ("AO", "R"),
    "o@": ("AO", "R"), "U": ("UH",), "U@": ("UH", "R"), "u:": ("UW",), "eI": ("EY",),
    "aI": ("AY",), "aI@": ("AY", "ER"), "aI3": ("AY", "ER"), "aU": ("AW",), "OI": ("OY",),
    "oU": ("OW",), "e@": ("EH", "R"), "i@": ("IH", "R"), "i@3": ("IH", "R"),
}  # fmt: skip


class AlignmentError(InputError):
    """Some words of the transcript could not be placed in the audio; ``words`` names them."""

    def __init__(self, message: str, words: Sequence[str]) -> None:
        super().__init__(message)
        self.words = list(words)


@dataclass(frozen=True)
class Alignment:
    """Every transcript word with its time span, in transcript order.

    engine: which engine placed them; guessed: indices of words placed by interpolation only.
    """

    engine: str
    words: list[Word]
    guessed: tuple[int, ...] = field(default=())


def transcript_words(text: str) -> list[str]:
    """The words of a written transcript, edge punctuation removed (``"Hi, you!"`` → Hi, you)."""
    out = []
    for token in text.split():
        word = re.sub(r"^[\W_]+|[\W_]+$", "", token)
        if word:
            out.append(word)
    return out


def match_words(ref: Sequence[str], hyp: Sequence[str]) -> list[tuple[int | None, int | None]]:
    """Minimum-edit-distance alignment of two word sequences (compared by
    :func:`normalize_word`): pairs ``(i, j)`` for a match or substitution, ``(i, None)`` for a
    deletion, ``(None, j)`` for an insertion, in order."""
    a = [normalize_word(w) for w in ref]
    b = [normalize_word(w) for w in hyp]
    n, m = len(a), len(b)
    cost = np.zeros((n + 1, m + 1), np.int32)
    cost[:, 0] = np.arange(n + 1)
    cost[0, :] = np.arange(m + 1)
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            sub = cost[i - 1, j - 1] + (a[i - 1] != b[j - 1])
            cost[i, j] = min(sub, cost[i - 1, j] + 1, cost[i, j - 1] + 1)
    pairs: list[tuple[int | None, int | None]] = []
    i, j = n, m
    while i > 0 or j > 0:
        if i > 0 and j > 0 and cost[i, j] == cost[i - 1, j - 1] + (a[i - 1] != b[j - 1]):
            pairs.append((i - 1, j - 1))
            i, j = i - 1, j - 1
        elif i > 0 and cost[i, j] == cost[i - 1, j] + 1:
            pairs.append((i - 1, None))
            i -= 1
        else:
            pairs.append((None, j - 1))
            j -= 1
    return pairs[::-1]


def word_error_rate(ref: Sequence[str], hyp: Sequence[str]) -> float:
    """(substitutions + deletions + insertions) / len(ref), words compared normalized."""
    if not ref:
        return float(len(hyp) > 0)
    a = [normalize_word(w) for w in ref]
    b = [normalize_word(w) for w in hyp]
    errors = sum(1 for i, j in match_words(ref, hyp) if i is None or j is None or a[i] != b[j])
    return errors / len(ref)


def onset_errors(reference: Sequence[Word], hypothesis: Sequence[Word]) -> np.ndarray:
    """|onset difference| (s) for each word the two share, matched by edit distance.

    returns: (K,) float64, one entry per matched pair whose words are the same after
    :func:`~speech2video.motion.words.normalize_word`
    """
    errs = []
    for i, j in match_words([w.word for w in reference], [w.word for w in hypothesis]):
        if i is None or j is None:
            continue
        if normalize_word(reference[i].word) == normalize_word(hypothesis[j].word):
            errs.append(abs(reference[i].start - hypothesis[j].start))
    return np.asarray(errs, np.float64)


def cmu_pronunciation(word: str) -> str | None:
    """A CMU-phone pronunciation of ``word`` from espeak-ng (``"hello"`` → ``"HH AH L OW"``),
    for words pocketsphinx's dictionary lacks; None when espeak gives no phone."""
    from speech2video.audio.tts import get_synthesizer

    phones: list[str] = []
    for ph in get_synthesizer().phonemes(word):
        phones.extend(_ESPEAK_TO_CMU.get(ph.lstrip("',"), ()))
    return " ".join(phones) or None


#: Decoder settings tried in turn until one places every word (each in a fresh decoder): wide
#: beams without the second passes first; the second passes are where words get dropped.
_DECODER_SETTINGS: tuple[dict[str, object], ...] = (
    {"beam": 1e-100, "wbeam": 1e-80, "pbeam": 1e-100, "fwdflat": False, "bestpath": False},
    {},
    {"beam": 1e-100, "wbeam": 1e-80, "pbeam": 1e-100},
)


def align_pocketsphinx(audio: Audio, words: Sequence[str]) -> list[Word | None]:
    """Pocketsphinx forced alignment; one entry per word, None where it was not placed.

    audio: 16 kHz mono
    """
    best: list[Word | None] = [None] * len(words)
    for settings in _DECODER_SETTINGS:
        placed = _pocketsphinx_pass(audio, words, settings)
        if sum(p is not None for p in placed) > sum(p is not None for p in best):
            best = placed
        if all(p is not None for p in best):
            break
    return best


#: A recognised word whose aligned onset lands further than this from the recogniser's own
#: (seconds) keeps the recogniser's times: the aligner has lost its place there.
MAX_REFINE_SHIFT_S = 0.5


def refine_word_times(
    audio: Audio, words: Sequence[Word], *, max_shift_s: float = MAX_REFINE_SHIFT_S
) -> list[Word]:
    """Recognised ``words`` with their times from forced alignment of their own text (English).

    A speech recogniser's word times are coarse (Whisper's onsets are off by ~90 ms median on
    real speech); pocketsphinx forced alignment of the recognised words places them within a
    few tens of ms. Words the aligner did not place, or placed more than ``max_shift_s`` away,
    keep the recogniser's times, clipped between their retimed neighbours so the result stays in
    spoken order (each onset ≥ the previous one); confidences are the recogniser's.

    audio: 16 kHz mono; words: in spoken order → the same words, retimed
    """
    if not words:
        return []
    placed = align_pocketsphinx(audio, [w.word for w in words])
    accepted = [
        a if a is not None and abs(a.start - w.start) <= max_shift_s else None
        for w, a in zip(words, placed, strict=True)
    ]
    # The next accepted onset after each word (inf past the last): a word that keeps the
    # recogniser's time is kept between its retimed neighbours, never pushing them.
    next_onset = [math.inf] * len(words)
    for i in range(len(words) - 2, -1, -1):
        later = accepted[i + 1]
        next_onset[i] = later.start if later is not None else next_onset[i + 1]
    out: list[Word] = []
    previous = 0.0
    for i, heard in enumerate(words):
        aligned = accepted[i]
        if aligned is not None:
            start, end = max(aligned.start, previous), aligned.end
        else:
            start = min(max(heard.start, previous), max(next_onset[i], previous))
            end = heard.end
        out.append(Word(heard.word, start, max(end, start), heard.confidence))
        previous = start
    return out


def _pocketsphinx_pass(
    audio: Audio, words: Sequence[str], settings: dict[str, object]
) -> list[Word | None]:
    from pocketsphinx import Decoder

    decoder = Decoder(samprate=audio.rate, loglevel="FATAL", **settings)
    keys: list[str | None] = []
    for i, word in enumerate(words):
        key = normalize_word(word).replace("’", "'")
        if not key or decoder.lookup_word(key) is None:
            phones = cmu_pronunciation(word)
            if phones is None:
                keys.append(None)
                continue
            key = f"oov{i}"
            decoder.add_word(key, phones, False)
        keys.append(key)
    present = [k for k in keys if k is not None]
    if not present:
        return [None] * len(words)
    pad = np.zeros(round(_PAD_SECONDS * audio.rate), np.float32)
    samples = np.concatenate([pad, np.clip(audio.samples, -1.0, 1.0), pad])
    decoder.set_align_text(" ".join(present))
    decoder.start_utt()
    decoder.process_raw((samples * 32767).astype(np.int16).tobytes(), full_utt=True)
    decoder.end_utt()
    frame = 1.0 / 100.0
    placed: list[Word | None] = [None] * len(words)
    cursor = 0
    for seg in decoder.seg() or ():  # None when the decoder found no alignment
        name = _VARIANT.sub("", seg.word)
        if _FILLERS.match(name):
            continue
        k = next((k for k in range(cursor, len(keys)) if keys[k] == name), None)
        if k is None:
            continue
        start = min(max(seg.start_frame * frame - _PAD_SECONDS, 0.0), audio.duration)
        end = min(max((seg.end_frame + 1) * frame - _PAD_SECONDS, start), audio.duration)
        placed[k] = Word(words[k], start, end, 1.0)
        cursor = k + 1
    return placed


def align_whisper(
    audio: Audio, words: Sequence[str], *, engine: str | None = None, model_dir: str | None = None
) -> list[Word | None]:
    """Whisper transcription prompted with the transcript, matched word by word; None where the
    recognized word differs from the transcript's.

    audio: 16 kHz mono
    """
    from speech2video.audio.transcriber import get_transcriber

    heard = get_transcriber(engine, model_dir).transcribe(audio, prompt=" ".join(words)).words
    placed: list[Word | None] = [None] * len(words)
    for i, j in match_words(words, [w.word for w in heard]):
        if (
            i is not None
            and j is not None
            and normalize_word(words[i]) == normalize_word(heard[j].word)
        ):
            w = heard[j]
            placed[i] = Word(words[i], w.start, w.end, w.confidence)
    return placed


def _merge(primary: list[Word | None], secondary: list[Word | None]) -> list[Word | None]:
    """Fill gaps of ``primary`` with ``secondary`` words that fit between primary neighbours."""
    out = list(primary)
    for i, word in enumerate(primary):
        if word is not None or secondary[i] is None:
            continue
        cand = secondary[i]
        k_prev = next((k for k in range(i - 1, -1, -1) if out[k] is not None), None)
        prev = out[k_prev] if k_prev is not None else None
        nxt = next((primary[k] for k in range(i + 1, len(primary)) if primary[k]), None)
        if prev is not None and cand.start <= prev.start:
            continue
        if nxt is not None and cand.start >= nxt.start:
            continue
        end = min(cand.end, nxt.start) if nxt is not None else cand.end
        out[i] = Word(cand.word, cand.start, max(end, cand.start), cand.confidence)
        if prev is not None and k_prev is not None and prev.end > cand.start:
            out[k_prev] = Word(prev.word, prev.start, cand.start, prev.confidence)
    return out


def _interpolate(
    placed: list[Word | None], words: Sequence[str], duration: float
) -> tuple[list[Word], tuple[int, ...]]:
    """Give unplaced words spans between their placed neighbours, proportional to length."""
    out = list(placed)
    guessed = tuple(i for i, w in enumerate(placed) if w is None)
    i = 0
    while i < len(out):
        if out[i] is not None:
            i += 1
            continue
        j = i
        while j < len(out) and out[j] is None:
            j += 1
        prev = out[i - 1] if i > 0 else None
        nxt = out[j] if j < len(out) else None
        lo = prev.end if prev else max((nxt.start if nxt else duration) - 0.3 * (j - i), 0.0)
        hi = nxt.start if nxt else min(lo + 0.3 * (j - i), duration)
        if hi - lo < 0.05 * (j - i):  # no room: take half of each neighbour
            lo = (prev.start + prev.end) / 2 if prev else lo
            hi = (nxt.start + nxt.end) / 2 if nxt else hi
            if prev:
                out[i - 1] = Word(prev.word, prev.start, lo, prev.confidence)
            if nxt:
                out[j] = Word(nxt.word, hi, nxt.end, nxt.confidence)
        weights = np.array([max(len(words[k]), 1) for k in range(i, j)], np.float64)
        edges = lo + (hi - lo) * np.concatenate([[0.0], np.cumsum(weights) / weights.sum()])
        for n, k in enumerate(range(i, j)):
            out[k] = Word(words[k], float(edges[n]), float(max(edges[n + 1], edges[n])), 0.0)
        i = j
    return [w for w in out if w is not None], guessed


def align(
    source: str | bytes | Audio,
    text: str | Sequence[str],
    *,
    engine: str = DEFAULT_ENGINE,
    max_guessed: float = 0.5,
    stt_engine: str | None = None,
    model_dir: str | None = None,
    max_seconds: float | None = DEFAULT_MAX_SECONDS,
) -> Alignment:
    """Times for every word of ``text`` (a transcript string or its words) in ``source``.

    engine: ``hybrid``, ``pocketsphinx`` or ``whisper`` (English). stt_engine/model_dir: the
    speech-to-text engine the whisper step uses. Raises :class:`AlignmentError` when no word, or
    more than ``max_guessed`` (a fraction) of the words, could be placed.
    """
    if engine not in ENGINES:
        raise InputError(f"unknown alignment engine {engine!r}; choose one of {list(ENGINES)}")
    words = transcript_words(text) if isinstance(text, str) else [str(w) for w in text]
    if not words:
        raise InputError("the transcript to align has no words")
    audio = source if isinstance(source, Audio) else decode(source, max_seconds=max_seconds)
    if engine == "whisper":
        placed = align_whisper(audio, words, engine=stt_engine, model_dir=model_dir)
    else:
        placed = align_pocketsphinx(audio, words)
        if engine == "hybrid" and any(w is None for w in placed):
            whisper = align_whisper(audio, words, engine=stt_engine, model_dir=model_dir)
            placed = _merge(placed, whisper)
    missing = [words[i] for i, w in enumerate(placed) if w is None]
    if len(missing) == len(words) or len(missing) > max_guessed * len(words):
        raise AlignmentError(
            f"{len(missing)} of {len(words)} words could not be placed in the audio "
            f"({engine}): {' '.join(missing[:20])}{' ...' if len(missing) > 20 else ''}",
            missing,
        )
    final, guessed = _interpolate(placed, words, audio.duration)
    return Alignment(engine, final, guessed)
