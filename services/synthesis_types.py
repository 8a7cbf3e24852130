"""What a synthesis says about itself and what it is asked for, in core terms: the models and
data behind a response (:class:`Lineage`) and the key-pose options (:class:`KeyPoseRequest`).
Shared by the flow, the stage client and the protobuf conversions."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from speech2video.motion.words import normalize_word


@dataclass(frozen=True)
class Lineage:
    """Models (``ModelVersionRef.lineage()`` dicts) and data hashes behind a response."""

    models: tuple[dict[str, str], ...] = ()
    data_hashes: dict[str, str] = field(default_factory=dict)

    def merge(self, *others: Lineage) -> Lineage:
        models = {(m["component"], m["name"]): m for m in self.models}
        hashes = dict(self.data_hashes)
        for other in others:
            models.update({(m["component"], m["name"]): m for m in other.models})
            hashes.update(other.data_hashes)
        return Lineage(tuple(models.values()), hashes)


@dataclass(frozen=True)
class KeyPoseRequest:
    """Key-pose options in core terms."""

    force: tuple[str, ...] = ()
    forbid: tuple[str, ...] = ()
    seed: int | None = None
    disabled: bool = False
    interpolation: str = "linear"

    def words_to_align(self, key_words: Iterable[str]) -> frozenset[str]:
        """Of a speaker's (normalized) ``key_words``, those that may put a key pose on a frame
        under these options: hearing one makes a transcription align its word times (onsets
        place key poses); none when key poses are off."""
        if self.disabled:
            return frozenset()
        return frozenset(key_words) - {normalize_word(w) for w in self.forbid}
