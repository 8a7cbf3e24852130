"""Timed words: what STT and TTS produce and what key-pose insertion reads.

JSON form, either a bare list or an object with a ``words`` key (the ``s2v transcribe --json``
output)::

    [{"word": "huge", "start": 1.23, "end": 1.61, "confidence": 0.93}, ...]

``start`` and ``end`` are seconds from the start of the audio; ``confidence`` is optional (1.0).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from speech2video.errors import InputError

_STRIP = re.compile(r"[^\w']+|_", re.UNICODE)


def normalize_word(word: str) -> str:
    """Case- and punctuation-insensitive key: ``"Huge!"`` → ``"huge"``, ``"don't"`` stays."""
    return _STRIP.sub("", word.casefold()).strip("'")


@dataclass(frozen=True)
class Word:
    """One word with its time span in seconds."""

    word: str
    start: float
    end: float
    confidence: float = 1.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.start) and math.isfinite(self.end)):
            raise InputError(f"word {self.word!r}: start and end must be finite numbers")
        if self.start < 0 or self.end < self.start:
            raise InputError(
                f"word {self.word!r}: need 0 <= start <= end; got start={self.start}, "
                f"end={self.end}"
            )

    def to_dict(self) -> dict:
        return asdict(self)


def words_from_json(data: object) -> list[Word]:
    """Parse the JSON form (list, or object with ``words``); raise InputError naming the fault."""
    if isinstance(data, dict):
        if "words" not in data:
            raise InputError("words JSON object lacks the key 'words'")
        data = data["words"]
    if not isinstance(data, list):
        raise InputError("words JSON must be a list of {word, start, end} objects")
    words = []
    for i, item in enumerate(data):
        if not isinstance(item, dict):
            raise InputError(f"words[{i}] must be an object with word, start, end")
        for key in ("word", "start", "end"):
            if key not in item:
                raise InputError(f"words[{i}] lacks the key '{key}'")
        try:
            words.append(
                Word(
                    str(item["word"]),
                    float(item["start"]),
                    float(item["end"]),
                    float(item.get("confidence", 1.0)),
                )
            )
        except (TypeError, ValueError) as exc:
            raise InputError(f"words[{i}]: {exc}") from None
    return words


def load_words(path: str | Path) -> list[Word]:
    """Read a words JSON file."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"words file not found: {path}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"words file {path.name} is not valid JSON ({exc})") from None
    return words_from_json(data)


def save_words(path: str | Path, words: list[Word], **extra: object) -> None:
    """Write words as ``{"words": [...], **extra}`` (e.g. language, engine)."""
    payload = {**extra, "words": [w.to_dict() for w in words]}
    Path(path).write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", "utf-8")
