"""Stage ``build_key_pose_dictionary``: the speaker's key words → key poses (paper §3.3).

Each ``keywords.csv`` row names a span of a recording where the speaker posed for a key word: a
``still`` row takes the fitted pose at the middle of the span, a ``motion`` row the fitted frames of
the whole span. Probabilities come from ``build_key_pose_dictionary.probabilities`` (per word) or
``default_probability``; ``ramp_s``/``hold_s`` from the params (paper: 0.6 s and 0.3 s).
"""

from __future__ import annotations

import json

from pipelines.recordings import FIT_DIR, METRICS_DIR, MODELS_DIR, keyword_clips, speaker_info
from pipelines.stage_io import StageError, load_params, run_stage, stage_file, stage_output


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
    entries: dict[str, KeyPoseEntry] = {}
    for clip in keyword_clips(params["speaker_dir"]):
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
        entries[key] = KeyPoseEntry(
            key, probabilities.get(key, default_p), poses.copy(), clip.kind == "motion",
            ramp_s, hold_s,
        )  # fmt: skip
    with stage_output(MODELS_DIR / "key_pose_dictionary") as out:
        KeyPoseDictionary(speaker, entries).save(out / DICTIONARY_FILE)
    METRICS_DIR.mkdir(exist_ok=True)
    with stage_file(METRICS_DIR / "build_key_pose_dictionary.json") as tmp:
        summary = {"entries": len(entries), "motions": sum(e.is_motion for e in entries.values())}
        tmp.write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    run_stage("build_key_pose_dictionary", main)
