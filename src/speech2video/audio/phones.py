"""Phonetic input for the audio-to-pose LSTM: timed words → phone spans → one vector per step.

Phone spans come from pocketsphinx's sub-word alignment (pocketsphinx 5 English model, CMU
phones): the words are cut into chunks at pauses of at least :data:`CHUNK_GAP_S` (using their
given times), each chunk's audio is aligned to its words' text (first pass) and then phone by
phone (``Decoder.set_alignment``, second pass). A word the aligner did not place keeps its given
span, split evenly over its dictionary pronunciation (``aligned`` False); so does one the
aligner moved more than :data:`MAX_SHIFT_S` from its given times. Training (a
transcript's words with their annotated times) and serving (recognised words retimed by
``alignment.refine_word_times``, or a text request's TTS word times) go through this same
function, so the model sees the same kind of phone input in both.

Encodings (:data:`PHONE_SETS`), one row per 10 ms step (the audio features' rate), one-hot:

- ``cmu``: the 39 CMU phones plus silence (40 columns);
- ``viseme``: 15 mouth-shape classes (the Oculus/Meta viseme set: sil PP FF TH DD kk CH SS nn
  RR aa E I O U), the CMU phones grouped by how they look.

Step ``t`` (time ``t / 100`` s) takes the phone whose ``[round(100 start), round(100 end))``
contains it (a later phone wins on overlap); steps no phone covers are silence.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from speech2video.audio.io import Audio
from speech2video.errors import InputError
from speech2video.motion.words import Word, normalize_word

#: The CMU phone set of pocketsphinx's English model (stress marks dropped).
CMU_PHONES: tuple[str, ...] = (
    "AA", "AE", "AH", "AO", "AW", "AY", "B", "CH", "D", "DH", "EH", "ER", "EY", "F", "G",
    "HH", "IH", "IY", "JH", "K", "L", "M", "N", "NG", "OW", "OY", "P", "R", "S", "SH", "T",
    "TH", "UH", "UW", "V", "W", "Y", "Z", "ZH",
)  # fmt: skip
SILENCE = "SIL"
#: CMU phone → viseme (Oculus/Meta set; HH and the glides take their nearest mouth shape).
_VISEME_OF: dict[str, str] = {
    "P": "PP", "B": "PP", "M": "PP", "F": "FF", "V": "FF", "TH": "TH", "DH": "TH",
    "T": "DD", "D": "DD", "K": "kk", "G": "kk", "NG": "kk", "HH": "kk", "CH": "CH",
    "JH": "CH", "SH": "CH", "ZH": "CH", "S": "SS", "Z": "SS", "N": "nn", "L": "nn",
    "R": "RR", "ER": "RR", "AA": "aa", "AE": "aa", "AH": "aa", "AY": "aa", "AW": "aa",
    "EH": "E", "EY": "E", "IH": "I", "IY": "I", "Y": "I", "AO": "O", "OW": "O", "OY": "O",
    "UH": "U", "UW": "U", "W": "U",
}  # fmt: skip
VISEMES: tuple[str, ...] = (
    "sil", "PP", "FF", "TH", "DD", "kk", "CH", "SS", "nn", "RR", "aa", "E", "I", "O", "U",
)  # fmt: skip
#: Encoding name → column labels (the one-hot order).
PHONE_SETS: dict[str, tuple[str, ...]] = {
    "cmu": (SILENCE, *CMU_PHONES),
    "viseme": VISEMES,
}
#: Steps per second (the audio features' 10 ms hop).
STEP_RATE = 100
#: Words further apart than this (seconds) are aligned in separate chunks.
CHUNK_GAP_S = 0.3
#: An aligned word whose first phone starts, or last phone ends, further than this from the
#: word's given time (seconds) is taken as lost (e.g. stretched over silence): even spans instead.
MAX_SHIFT_S = 0.3
#: Audio kept around a chunk's words (seconds), and silence padded around it for the aligner.
CHUNK_MARGIN_S = 0.15
_PAD_S = 0.3
_VARIANT = re.compile(r"\(\d+\)$")


@dataclass(frozen=True)
class PhoneSpan:
    """One phone: a CMU phone over [start, end) seconds, of word ``word`` (its index).

    aligned: False when the span was spread evenly over the word's given time, not aligned
    """

    phone: str
    start: float
    end: float
    word: int
    aligned: bool = True


def phone_dim(phone_set: str) -> int:
    """Columns of an encoding (``cmu`` 40, ``viseme`` 15)."""
    return len(_labels(phone_set))


def _labels(phone_set: str) -> tuple[str, ...]:
    if phone_set not in PHONE_SETS:
        raise InputError(f"unknown phone set {phone_set!r}; choose one of {sorted(PHONE_SETS)}")
    return PHONE_SETS[phone_set]


def _column(phone: str, phone_set: str) -> int:
    if phone_set == "viseme":
        return VISEMES.index(_VISEME_OF.get(phone, "sil"))
    labels = PHONE_SETS["cmu"]
    return labels.index(phone) if phone in labels else 0


def encode_phones(
    phones: Sequence[PhoneSpan], num_steps: int, phone_set: str = "cmu"
) -> np.ndarray:
    """Phone spans → (num_steps, phone_dim(phone_set)) float32 one-hot rows (rule: module doc)."""
    labels = _labels(phone_set)
    if num_steps < 0:
        raise InputError(f"num_steps must be >= 0; got {num_steps}")
    index = np.zeros(num_steps, np.int64)  # column 0 is silence in both sets
    for span in phones:
        lo = max(round(span.start * STEP_RATE), 0)
        hi = min(max(round(span.end * STEP_RATE), lo + 1), num_steps)
        if lo < hi:
            index[lo:hi] = _column(span.phone, phone_set)
    out = np.zeros((num_steps, len(labels)), np.float32)
    out[np.arange(num_steps), index] = 1.0
    return out


def _chunks(words: Sequence[Word]) -> list[list[int]]:
    """Indices of ``words`` (in time order) grouped at pauses of at least CHUNK_GAP_S."""
    order = sorted(range(len(words)), key=lambda i: (words[i].start, i))
    groups: list[list[int]] = []
    end = -np.inf
    for i in order:
        if not groups or words[i].start - end >= CHUNK_GAP_S:
            groups.append([])
        groups[-1].append(i)
        end = max(end, words[i].end)
    return groups


def _dictionary_phones(decoder: object, key: str, word: str) -> list[str]:
    """A word's CMU phones from the decoder's dictionary, else espeak-ng; [] when neither."""
    from speech2video.audio.alignment import cmu_pronunciation

    found = decoder.lookup_word(key) if key else None  # type: ignore[attr-defined]
    if found is None:
        found = cmu_pronunciation(word)
    return [p for p in (found or "").split() if p in CMU_PHONES]


def _even_spans(word: Word, index: int, phones: Sequence[str]) -> list[PhoneSpan]:
    step = (word.end - word.start) / max(len(phones), 1)
    return [
        PhoneSpan(p, word.start + k * step, word.start + (k + 1) * step, index, False)
        for k, p in enumerate(phones)
    ]


def align_phones(audio: Audio, words: Sequence[Word]) -> list[PhoneSpan]:
    """Phone spans of timed ``words`` in ``audio`` (method: module doc), in time order.

    audio: 16 kHz mono; words: with times in seconds (transcript or recogniser, retimed)
    """
    from pocketsphinx import Decoder

    if audio.rate != 16_000:
        raise InputError(f"phone alignment needs 16 kHz audio; got {audio.rate} Hz")
    if not words:
        return []
    decoder = Decoder(samprate=audio.rate, loglevel="FATAL", beam=1e-100, wbeam=1e-80,
                      pbeam=1e-100, fwdflat=False, bestpath=False)  # fmt: skip
    out: list[PhoneSpan] = []
    for group in _chunks(words):
        placed = _align_chunk(decoder, audio, words, group)
        for i in group:
            if i in placed:
                out.extend(placed[i])
            else:
                key = normalize_word(words[i].word).replace("’", "'")
                phones = _dictionary_phones(decoder, key, words[i].word)
                out.extend(_even_spans(words[i], i, phones))
    return sorted(out, key=lambda s: (s.start, s.end))


def _align_chunk(
    decoder: object, audio: Audio, words: Sequence[Word], group: list[int]
) -> dict[int, list[PhoneSpan]]:
    """Aligned phones of the chunk's words (word index → spans); words it missed are absent."""
    keys: dict[int, str] = {}
    for n, i in enumerate(group):
        key = normalize_word(words[i].word).replace("’", "'")
        if not key or decoder.lookup_word(key) is None:  # type: ignore[attr-defined]
            phones = _dictionary_phones(decoder, "", words[i].word)
            if not phones:
                continue
            key = f"oov{i}x{n}"
            decoder.add_word(key, " ".join(phones), False)  # type: ignore[attr-defined]
        keys[i] = key
    if not keys:
        return {}
    t0 = max(0.0, min(words[i].start for i in group) - CHUNK_MARGIN_S)
    t1 = min(audio.duration, max(words[i].end for i in group) + CHUNK_MARGIN_S)
    if t1 - t0 < 0.05:
        return {}
    pad = np.zeros(round(_PAD_S * audio.rate), np.float32)
    clip = audio.samples[round(t0 * audio.rate) : round(t1 * audio.rate)]
    raw = (np.concatenate([pad, np.clip(clip, -1.0, 1.0), pad]) * 32767).astype(np.int16).tobytes()
    order = [i for i in group if i in keys]
    try:
        decoder.set_align_text(" ".join(keys[i] for i in order))  # type: ignore[attr-defined]
        for second in (False, True):
            if second:
                decoder.set_alignment()  # type: ignore[attr-defined]
            decoder.start_utt()  # type: ignore[attr-defined]
            decoder.process_raw(raw, full_utt=True)  # type: ignore[attr-defined]
            decoder.end_utt()  # type: ignore[attr-defined]
        alignment = decoder.get_alignment()  # type: ignore[attr-defined]
    except RuntimeError:  # no alignment of this chunk: its words fall back to even spans
        return {}
    if alignment is None:
        return {}
    offset = t0 - _PAD_S
    placed: dict[int, list[PhoneSpan]] = {}
    cursor = 0
    for entry in alignment:
        name = _VARIANT.sub("", entry.name)
        k = next((k for k in range(cursor, len(order)) if keys[order[k]] == name), None)
        if k is None:
            continue
        cursor, i = k + 1, order[k]
        spans = [
            PhoneSpan(p.name, offset + p.start / 100.0, offset + (p.start + p.duration) / 100.0, i)
            for p in entry
            if p.name in CMU_PHONES
        ]
        w = words[i]
        if (
            spans
            and abs(spans[0].start - w.start) <= MAX_SHIFT_S
            and abs(spans[-1].end - w.end) <= MAX_SHIFT_S
        ):
            placed[i] = spans
    return placed


def phone_features(
    audio: Audio, words: Sequence[Word], num_steps: int, phone_set: str = "cmu"
) -> np.ndarray:
    """Timed words → (num_steps, phone_dim) phonetic input rows (align, then encode)."""
    return encode_phones(align_phones(audio, words), num_steps, phone_set)
