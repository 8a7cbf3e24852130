"""Which recordings a speaker has, which are for training and which are held out."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from pipelines.stage_io import StageError

INGEST_DIR = Path("data/interim/ingest")
FIT_DIR = Path("data/interim/fit")
FEATURES_DIR = Path("data/interim/features")
#: Every recording's words as the features stage used them (supplied or transcribed).
WORDS_DIR = FEATURES_DIR / "words"
#: Speech-embedding rows per recording: ``<EMBEDDING_DIR>/<name>/<rec>.npy`` (T, E).
EMBEDDING_DIR = FEATURES_DIR / "embedding"
KEYPOINTS_DIR = Path("data/interim/keypoints")
SKELETONS_DIR = Path("data/interim/skeletons")
MODELS_DIR = Path("models")
METRICS_DIR = Path("metrics")


@dataclass(frozen=True)
class KeywordClip:
    """One row of a speaker's ``keywords.csv``: a key word posed in a recording."""

    word: str
    recording: str
    start: float
    end: float
    kind: str  # "still" or "motion"


def speaker_info(speaker_dir: str | Path) -> dict:
    """``speaker.yaml`` of a speaker folder (speaker id, language, ...)."""
    path = Path(speaker_dir) / "speaker.yaml"
    if not path.is_file():
        raise StageError(f"{path}: speaker folder lacks speaker.yaml")
    data = yaml.safe_load(path.read_text()) or {}
    if "speaker" not in data:
        raise StageError(f"{path}: lacks the key 'speaker'")
    return data


def keyword_clips(speaker_dir: str | Path) -> list[KeywordClip]:
    """Rows of ``keywords.csv`` (empty when the speaker has none)."""
    path = Path(speaker_dir) / "keywords.csv"
    if not path.is_file():
        return []
    clips = []
    with path.open(newline="") as f:
        for i, row in enumerate(csv.DictReader(f), start=2):
            try:
                clip = KeywordClip(
                    row["word"].strip(),
                    row["recording"].strip(),
                    float(row["start"]),
                    float(row["end"]),
                    (row.get("kind") or "still").strip(),
                )
            except (KeyError, ValueError, AttributeError) as exc:
                raise StageError(f"{path}:{i}: bad row ({exc})") from None
            if clip.kind not in ("still", "motion") or clip.end < clip.start:
                raise StageError(f"{path}:{i}: need kind still|motion and start <= end")
            clips.append(clip)
    return clips


def ingested_recordings() -> list[str]:
    """Recording ids the ingest stage produced, sorted."""
    if not INGEST_DIR.is_dir():
        raise StageError(f"{INGEST_DIR}: not found (run the ingest stage first)")
    return sorted(p.name for p in INGEST_DIR.iterdir() if (p / "meta.json").is_file())


def split_recordings(
    ids: list[str], holdout: float | list[str], seed: int = 0, exclude: set[str] | None = None
) -> tuple[list[str], list[str]]:
    """(training, held-out) ids. ``holdout`` is a fraction of the speech recordings or explicit ids;
    ``exclude`` (e.g. key-pose posing recordings) are in neither list."""
    speech = [i for i in ids if i not in (exclude or set())]
    if isinstance(holdout, list):
        unknown = sorted(set(holdout) - set(speech))
        if unknown:
            raise StageError(f"params split.holdout names unknown recordings {unknown}")
        held = sorted(holdout)
    else:
        n = round(float(holdout) * len(speech))
        n = min(max(n, 1 if len(speech) > 1 and float(holdout) > 0 else 0), len(speech) - 1)
        order = np.random.default_rng(seed).permutation(len(speech))
        held = sorted(speech[i] for i in order[:n])
    train = [i for i in speech if i not in held]
    if not train:
        raise StageError("no training recordings left after the hold-out split")
    return train, held


def held_out_recordings(params: dict[str, Any]) -> list[str]:
    """The ingested recordings ``evaluate`` scores (``split``; key-pose posing recordings are
    never held out). Stages that learn from frames (the plate, the renderer) leave these out."""
    split = params.get("split") or {}
    posing = {c.recording for c in keyword_clips(Path(params["speaker_dir"]))}
    _, held = split_recordings(
        ingested_recordings(), split.get("holdout", 0.1), int(split.get("seed", 0)), posing
    )
    return held


def skeleton_split(params: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(training, held-out) recordings with skeleton sequences in ``SKELETONS_DIR``, split as
    ``evaluate`` splits them (:func:`held_out_recordings`): what the renderer trains on and
    what it is scored on."""
    held = set(held_out_recordings(params))
    seqs = sorted(d.name for d in SKELETONS_DIR.iterdir() if (d / "skeleton").is_dir())
    return [s for s in seqs if s not in held], [s for s in seqs if s in held]


def audio_inputs(rec: str, embedding: str = "") -> np.ndarray | None:
    """The audio model's input rows of a recording: its 28 audio features, with the speech
    embedding's columns when ``embedding`` names one (both written by the ``features`` stage).

    returns: (T, 28 [+ E]) float32, or None when the recording has no features
    Raises StageError when the embedding is asked for and the features stage did not write it.
    """
    path = FEATURES_DIR / f"{rec}.npy"
    if not path.is_file():
        return None
    feats = np.load(path, allow_pickle=False)
    if not embedding:
        return feats
    emb_path = EMBEDDING_DIR / embedding / f"{rec}.npy"
    if not emb_path.is_file():
        raise StageError(
            f"{emb_path} is missing: the features stage writes the {embedding!r} speech "
            "embedding when params.yaml train_audio_to_pose.embedding names it (dvc repro features)"
        )
    emb = np.load(emb_path, allow_pickle=False)
    if emb.shape[0] != feats.shape[0]:
        raise StageError(f"{emb_path}: {emb.shape[0]} rows; {path} has {feats.shape[0]}")
    return np.concatenate([feats, emb], axis=1)
