"""A speaker's key-pose dictionary: key words → still poses or short motions (paper §3.3, Fig. 5).

YAML form (read with ``yaml.safe_load`` only)::

    speaker: demo
    entries:
      huge: {probability: 0.8, pose: [106 floats]}       # a still pose
      wave: {probability: 1.0, motion: clips/wave.npy}   # a (T, 106) motion, path relative to
                                                         # the YAML file (.npy, or a motion .npz)
      tiny: {probability: 0.5, pose: [...], ramp_s: 0.4, hold_s: 0.5}

``probability`` (in [0, 1]) is the chance that a spoken key word gets its pose; ``ramp_s``
(default 0.6 s, the paper's ramp duration) is the length of the smooth transition on each side;
``hold_s`` (default 0.3 s, the paper's hold) is how long a still pose is held. Keys are matched
through :func:`speech2video.motion.words.normalize_word`, so ``"Huge!"`` finds ``huge``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from speech2video.body import pose_layout as pl
from speech2video.errors import InputError
from speech2video.motion.words import normalize_word

#: Paper §3.3: "the ramp duration is set to be 0.6 seconds".
DEFAULT_RAMP_S = 0.6
#: Paper §3.3: "we keep the pose for 0.3 seconds".
DEFAULT_HOLD_S = 0.3
_ENTRY_FIELDS = frozenset({"probability", "pose", "motion", "ramp_s", "hold_s"})


@dataclass(frozen=True)
class KeyPoseEntry:
    """One key word's pose.

    poses: (L, 106) float32 — one row for a still pose, the clip's frames for a motion
    """

    word: str
    probability: float
    poses: np.ndarray
    is_motion: bool
    ramp_s: float = DEFAULT_RAMP_S
    hold_s: float = DEFAULT_HOLD_S

    @property
    def first(self) -> np.ndarray:
        """(106,) the pose the entry starts with."""
        return self.poses[0]

    @property
    def last(self) -> np.ndarray:
        """(106,) the pose the entry ends with."""
        return self.poses[-1]


def _number(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(f"{where} must be a number; got {value!r}")
    out = float(value)
    if not math.isfinite(out):
        raise InputError(f"{where} must be finite; got {value!r}")
    return out


def _load_clip(path: Path, where: str) -> np.ndarray:
    if not path.is_file():
        raise InputError(f"{where}: motion file not found: {path}")
    try:
        if path.suffix == ".npz":
            from speech2video.body.motion_file import load_motion

            arr = load_motion(path).poses
        else:
            arr = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise InputError(f"{where}: motion file {path.name} is not readable ({exc})") from None
    if arr.ndim != 2 or arr.shape[1] != pl.POSE_DIM or arr.shape[0] == 0:
        raise InputError(f"{where}: motion must have shape (T, {pl.POSE_DIM}); got {arr.shape}")
    if not np.issubdtype(arr.dtype, np.floating) or not np.all(np.isfinite(arr)):
        raise InputError(f"{where}: motion must hold finite floating-point values")
    return arr.astype(np.float32)


def _parse_entry(name: object, spec: object, base_dir: Path) -> KeyPoseEntry:
    where = f"entry {name!r}"
    if not isinstance(name, str) or not normalize_word(name):
        raise InputError(f"{where}: the key must be a non-empty word")
    if not isinstance(spec, dict):
        raise InputError(f"{where} must be a mapping with probability and pose or motion")
    unknown = set(spec) - _ENTRY_FIELDS
    if unknown:
        raise InputError(f"{where}: unknown field(s) {sorted(map(str, unknown))}")
    if "probability" not in spec:
        raise InputError(f"{where} lacks the field 'probability'")
    prob = _number(spec["probability"], f"{where}: probability")
    if not 0.0 <= prob <= 1.0:
        raise InputError(f"{where}: probability must be in [0, 1]; got {prob}")
    ramp_s = _number(spec.get("ramp_s", DEFAULT_RAMP_S), f"{where}: ramp_s")
    hold_s = _number(spec.get("hold_s", DEFAULT_HOLD_S), f"{where}: hold_s")
    if ramp_s < 0:
        raise InputError(f"{where}: ramp_s must be >= 0; got {ramp_s}")
    if hold_s < 0:
        raise InputError(f"{where}: hold_s must be >= 0; got {hold_s}")
    has_pose, has_motion = "pose" in spec, "motion" in spec
    if has_pose == has_motion:
        raise InputError(f"{where} needs exactly one of the fields 'pose' or 'motion'")
    if has_pose:
        raw = spec["pose"]
        if not isinstance(raw, list) or len(raw) != pl.POSE_DIM:
            got = len(raw) if isinstance(raw, list) else type(raw).__name__
            raise InputError(f"{where}: pose must be a list of {pl.POSE_DIM} numbers; got {got}")
        values = [_number(v, f"{where}: pose[{i}]") for i, v in enumerate(raw)]
        poses = np.asarray(values, np.float32)[None, :]
    else:
        rel = spec["motion"]
        if not isinstance(rel, str) or not rel:
            raise InputError(f"{where}: motion must be a file path; got {rel!r}")
        poses = _load_clip(base_dir / rel, where)
    return KeyPoseEntry(normalize_word(name), prob, poses, has_motion, ramp_s, hold_s)


@dataclass(frozen=True)
class KeyPoseDictionary:
    """Word → key pose lookup of one speaker; keys are normalized words."""

    speaker: str
    entries: dict[str, KeyPoseEntry]

    def lookup(self, word: str) -> KeyPoseEntry | None:
        """The entry for a spoken word (case- and punctuation-insensitive), or None."""
        return self.entries.get(normalize_word(word))

    def __contains__(self, word: object) -> bool:
        return isinstance(word, str) and self.lookup(word) is not None

    def __len__(self) -> int:
        return len(self.entries)

    @classmethod
    def from_mapping(cls, data: object, base_dir: str | Path = ".") -> KeyPoseDictionary:
        """Build from the parsed YAML form; motion paths resolve against ``base_dir``."""
        if not isinstance(data, dict):
            raise InputError("key-pose dictionary must be a mapping with 'speaker' and 'entries'")
        entries_raw = data.get("entries")
        if not isinstance(entries_raw, dict):
            raise InputError("key-pose dictionary lacks the mapping 'entries'")
        speaker = data.get("speaker", "")
        if not isinstance(speaker, str):
            raise InputError(f"key-pose dictionary: speaker must be a string; got {speaker!r}")
        entries: dict[str, KeyPoseEntry] = {}
        for name, spec in entries_raw.items():
            entry = _parse_entry(name, spec, Path(base_dir))
            if entry.word in entries:
                raise InputError(f"entry {name!r}: duplicates the key {entry.word!r}")
            entries[entry.word] = entry
        return cls(speaker, entries)

    @classmethod
    def load(cls, path: str | Path) -> KeyPoseDictionary:
        """Read a dictionary YAML; raise :class:`InputError` naming the bad entry and field."""
        import yaml

        path = Path(path)
        if not path.is_file():
            raise InputError(f"key-pose dictionary not found: {path}")
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise InputError(
                f"key-pose dictionary {path.name} is not valid YAML ({first})"
            ) from None
        try:
            return cls.from_mapping(data, path.parent)
        except InputError as exc:
            raise InputError(f"key-pose dictionary {path.name}: {exc}") from None

    def save(self, path: str | Path, clip_dir: str = "clips") -> None:
        """Write the YAML and each motion clip as ``<clip_dir>/<word>.npy`` beside it."""
        import yaml

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        out: dict[str, dict] = {}
        for word, entry in self.entries.items():
            spec: dict[str, object] = {"probability": float(entry.probability)}
            if entry.is_motion:
                rel = f"{clip_dir}/{word}.npy"
                (path.parent / clip_dir).mkdir(parents=True, exist_ok=True)
                np.save(path.parent / rel, entry.poses.astype(np.float32))
                spec["motion"] = rel
            else:
                spec["pose"] = [float(v) for v in entry.poses[0]]
            if entry.ramp_s != DEFAULT_RAMP_S:
                spec["ramp_s"] = float(entry.ramp_s)
            if entry.hold_s != DEFAULT_HOLD_S:
                spec["hold_s"] = float(entry.hold_s)
            out[word] = spec
        text = yaml.safe_dump(
            {"speaker": self.speaker, "entries": out}, sort_keys=False, default_flow_style=None
        )
        path.write_text(text, encoding="utf-8")
