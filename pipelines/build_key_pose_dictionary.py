"""Stage ``build_key_pose_dictionary``: the speaker's key words → key poses (paper §3.3).

Two sources, the first winning where both name a word:

- ``keywords.csv`` in the speaker folder: each row names a span of a recording where the speaker
  posed for a key word; a ``still`` row takes the fitted pose at the middle of the span, a
  ``motion`` row the fitted frames of the whole span.
- the transcripts (``build_key_pose_dictionary.from_transcripts``, on by default): the words of
  every *training* recording as the features stage wrote them (``data/interim/features/words``:
  the speaker's transcript, else the project's speech-to-text with word times refined by forced
  alignment), scored against the fitted motion's gesture energy
  (:mod:`speech2video.motion.keyword_selection` states the rule). Held-out recordings
  (``split``) and ``keywords.csv``'s posing recordings are never mined.

Probabilities come from ``probabilities`` (per word) or ``default_probability``; ``ramp_s`` and
``hold_s`` from the params (paper: 0.6 s and 0.3 s). ``metrics/key_words.json`` lists every entry
(word, recording, span, kind, gesture score, source) and the vocabulary words passed over and why,
in ``keywords.csv`` terms, so an operator can review it and override a word with a csv row.
"""

from __future__ import annotations

import json
from typing import Any

from pipelines.recordings import (
    FIT_DIR,
    METRICS_DIR,
    MODELS_DIR,
    WORDS_DIR,
    KeywordClip,
    ingested_recordings,
    keyword_clips,
    speaker_info,
    split_recordings,
)
from pipelines.stage_io import StageError, load_params, run_stage, stage_file, stage_output

REPORT_FILE = METRICS_DIR / "key_words.json"


def mine_transcripts(params: dict[str, Any], manual: set[str]) -> dict[str, Any]:
    """Key words chosen from the training recordings' words and fitted motion.

    Returns the report's part: ``rule``, ``recordings``, ``without_words``,
    ``reference_energy_m_s``, ``chosen`` (keywords.csv-like rows with ``score``, ``source``,
    ``occurrences``) and ``rejected`` (word → reason)."""
    from speech2video.body.motion_file import load_motion
    from speech2video.errors import InputError, NotFoundError
    from speech2video.model_set import load_speaker_profile
    from speech2video.motion.keyword_selection import (
        SelectionConfig,
        gesture_track,
        select_key_words,
    )
    from speech2video.motion.words import load_words

    p = dict((params.get("build_key_pose_dictionary") or {}).get("from_transcripts") or {})
    p.pop("enabled", None)
    try:
        config = SelectionConfig.from_params(p)
    except InputError as exc:
        raise StageError(f"params.yaml build_key_pose_dictionary.from_transcripts: {exc}") from None
    split = params.get("split") or {}
    posing = {c.recording for c in keyword_clips(params["speaker_dir"])}
    train, _ = split_recordings(
        ingested_recordings(), split.get("holdout", 0.1), int(split.get("seed", 0)), posing
    )
    profile_dir = FIT_DIR / "body_model"
    try:
        body = load_speaker_profile(profile_dir).body_model
    except (InputError, NotFoundError) as exc:
        raise StageError(f"{profile_dir}: {exc} (run the fit stage first)") from None
    transcripts, tracks, without = {}, {}, []
    for rec in train:
        words_path, motion_path = WORDS_DIR / f"{rec}.json", FIT_DIR / "motion" / f"{rec}.npz"
        if not words_path.is_file() or not motion_path.is_file():
            without.append(rec)
            continue
        try:
            transcripts[rec] = load_words(words_path)
        except InputError as exc:
            raise StageError(f"{words_path}: {exc}") from None
        try:
            motion = load_motion(motion_path)
            joints = body.forward(motion.poses).joints
            tracks[rec] = gesture_track(rec, joints, motion.fps, config.smooth_s)
        except InputError as exc:
            raise StageError(f"{motion_path}: {exc}") from None
    selection = select_key_words(transcripts, tracks, config, exclude=manual)
    rule = {
        k: getattr(config, k)
        for k in ("energy_words", "energy_min_count", "before_s", "after_s", "peak_window_s",
                  "min_score", "min_gap_s", "min_confidence", "kind")
    }  # fmt: skip
    rule["vocabulary_size"] = len(config.vocabulary)
    return {
        "rule": rule,
        "recordings": sorted(transcripts),
        "without_words": without,
        **selection.to_dict(),
    }


def main() -> None:
    from speech2video.body.motion_file import load_motion
    from speech2video.model_set import DICTIONARY_FILE
    from speech2video.motion.keypose_dictionary import KeyPoseDictionary, KeyPoseEntry
    from speech2video.motion.words import normalize_word

    params = load_params()
    p = dict(params.get("build_key_pose_dictionary") or {})
    speaker = speaker_info(params["speaker_dir"])["speaker"]
    probabilities = {normalize_word(k): float(v) for k, v in (p.get("probabilities") or {}).items()}
    default_p = float(p.get("default_probability", 0.8))
    ramp_s, hold_s = float(p.get("ramp_s", 0.6)), float(p.get("hold_s", 0.3))
    manual = keyword_clips(params["speaker_dir"])
    manual_words = {normalize_word(c.word) for c in manual}
    mining = dict(p.get("from_transcripts") or {})
    mined: dict[str, Any] = {}
    if mining.get("enabled", True):
        mined = mine_transcripts(params, manual_words)
    clips = [*manual]
    clips += [
        KeywordClip(c["word"], c["recording"], c["start"], c["end"], c["kind"])
        for c in mined.get("chosen", [])
    ]
    entries: dict[str, KeyPoseEntry] = {}
    for clip in clips:
        path = FIT_DIR / "motion" / f"{clip.recording}.npz"
        if not path.is_file():
            raise StageError(f"keywords.csv: recording {clip.recording!r} has no fitted motion")
        motion = load_motion(path)
        first = max(0, round(clip.start * motion.fps))
        last = min(motion.num_frames - 1, round(clip.end * motion.fps))
        if last < first:
            raise StageError(f"keywords.csv: span of {clip.word!r} lies outside {clip.recording}")
        if clip.kind == "still":
            mid = (first + last) // 2
            poses = motion.poses[mid : mid + 1]
        else:
            poses = motion.poses[first : last + 1]
        key = normalize_word(clip.word)
        if key in entries:
            continue  # a csv row was first; the transcripts never repeat a word
        entries[key] = KeyPoseEntry(
            key, probabilities.get(key, default_p), poses.copy(), clip.kind == "motion",
            ramp_s, hold_s,
        )  # fmt: skip
    with stage_output(MODELS_DIR / "key_pose_dictionary") as out:
        KeyPoseDictionary(speaker, entries).save(out / DICTIONARY_FILE)
    METRICS_DIR.mkdir(exist_ok=True)
    report = {
        "speaker": speaker,
        "from_keywords_csv": [{**vars(c), "word": normalize_word(c.word)} for c in manual],
        "from_transcripts": mined or {"enabled": False},
    }
    with stage_file(REPORT_FILE) as tmp:
        tmp.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    with stage_file(METRICS_DIR / "build_key_pose_dictionary.json") as tmp:
        summary = {
            "entries": len(entries),
            "motions": sum(e.is_motion for e in entries.values()),
            "from_keywords_csv": len(manual_words),
            "from_transcripts": len(mined.get("chosen", [])),
        }
        tmp.write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    run_stage("build_key_pose_dictionary", main)
