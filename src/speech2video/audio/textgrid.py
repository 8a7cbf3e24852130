"""Praat TextGrid files: word times made by annotators or aligners (e.g. BEAT2, MFA, praatio).

Reads the long and the short text formats; interval tiers only (point tiers are skipped).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from speech2video.errors import InputError
from speech2video.motion.words import Word

#: Tier names tried, in order, by :func:`load_textgrid_words`.
WORD_TIERS = ("words", "word")


@dataclass(frozen=True)
class Interval:
    """One TextGrid interval: ``text`` over [start, end) seconds."""

    start: float
    end: float
    text: str


def read_textgrid(path: str | Path) -> dict[str, list[Interval]]:
    """Interval tiers of a Praat TextGrid (long or short text format), by tier name."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: TextGrid file not found")
    values: list[str | float] = []
    for raw in path.read_text(encoding="utf-8", errors="replace").splitlines():
        line = raw.strip()
        if "=" in line:
            line = line.split("=", 1)[1].strip()
        elif not line or line.endswith(":") or line.startswith("<"):
            continue
        if line.startswith('"'):
            values.append(line[1:-1].replace('""', '"'))
        else:
            try:
                values.append(float(line))
            except ValueError:
                continue
    if len(values) < 5 or values[:2] != ["ooTextFile", "TextGrid"]:
        raise InputError(f"{path}: not a Praat TextGrid text file")
    pos = 5  # "ooTextFile", "TextGrid", xmin, xmax, number of tiers
    tiers: dict[str, list[Interval]] = {}
    try:
        for _ in range(int(values[4])):
            kind, name, count = values[pos], str(values[pos + 1]), int(values[pos + 4])
            pos += 5
            if kind == "IntervalTier":
                tiers[name] = [
                    Interval(float(values[p]), float(values[p + 1]), str(values[p + 2]))
                    for p in range(pos, pos + 3 * count, 3)
                ]
                pos += 3 * count
            else:
                pos += 2 * count
    except (IndexError, TypeError, ValueError) as exc:
        raise InputError(f"{path}: truncated or malformed TextGrid ({exc})") from None
    return tiers


def load_textgrid_words(path: str | Path, tiers: tuple[str, ...] = WORD_TIERS) -> list[Word]:
    """The non-empty intervals of the first word tier found (``words``, then ``word``)."""
    found = read_textgrid(path)
    tier = next((found[name] for name in tiers if name in found), None)
    if tier is None:
        raise InputError(f"{path}: no word tier (looked for {list(tiers)}; has {sorted(found)})")
    return [Word(i.text.strip(), i.start, i.end) for i in tier if i.text.strip()]
