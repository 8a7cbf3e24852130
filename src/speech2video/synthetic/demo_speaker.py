"""Writing a complete synthetic speaker folder with known ground truth.

Layout (the same as a real speaker's, plus ``ground_truth/``)::

    speaker.yaml                     speaker, language, fps, width, height, synthetic, seed, config
    recordings/<id>.mp4              H.264 + AAC: the painted person speaking, the TTS audio
    keywords.csv                     word,recording,start,end,kind (kind: still | motion)
    transcripts/<id>.json            words JSON with the exact TTS times
    ground_truth/<id>.npz            Motion: poses (T, 106) at the video fps, betas, global_orient
    ground_truth/body_model/         the true skeleton, camera, fps and image size
    ground_truth/key_pose_dictionary/dictionary.yaml (+ clips/)   the dictionary used

Recordings ``utt_000 ...`` read the scripts; ``pose_<word>`` recordings have the speaker say a
key word and hold (still) or perform (motion) its key pose, and ``keywords.csv`` points at those
spans (paper §3.1: "we ask our model to pose for certain key words"). The folder is written
into a temporary sibling and renamed into place, so it is either complete or absent.
"""

from __future__ import annotations

import csv
import shutil
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from speech2video.body.camera import PinholeCamera
from speech2video.body.motion_file import Motion, save_motion
from speech2video.body.skeleton_model import OpenSkeletonModel
from speech2video.errors import InputError
from speech2video.model_set import SpeakerProfile, save_speaker_profile
from speech2video.motion.keypose_dictionary import KeyPoseDictionary, KeyPoseEntry
from speech2video.motion.keypose_insertion import InsertionLogEntry
from speech2video.motion.words import save_words
from speech2video.synthetic.appearance import PersonPainter, body_frames
from speech2video.synthetic.config import DemoSpeakerConfig
from speech2video.synthetic.key_poses import KEY_WORDS, true_dictionary
from speech2video.synthetic.motion_synthesis import synthesize_motion
from speech2video.synthetic.mouth import audio_tracks
from speech2video.synthetic.scripts import POSE_PHRASES, choose_utterances
from speech2video.synthetic.speech import Speech, speak

KEYWORDS_HEADER = ("word", "recording", "start", "end", "kind")


@dataclass(frozen=True)
class KeywordClip:
    """A row of keywords.csv: the span of ``recording`` where ``word``'s key pose is shown."""

    word: str
    recording: str
    start: float
    end: float
    kind: str


@dataclass(frozen=True)
class DemoSpeakerSummary:
    """What was written.

    recordings: recording id → number of video frames; insertions: recording id → the key-pose
    inserter's log of that recording's ground truth
    """

    out_dir: Path
    config: DemoSpeakerConfig
    seed: int
    recordings: dict[str, int]
    keywords: list[KeywordClip]
    insertions: dict[str, list[InsertionLogEntry]]
    seconds_of_video: float
    wall_seconds: float


def _write_recording(
    root: Path,
    rec_id: str,
    speech: Speech,
    poses: np.ndarray,
    config: DemoSpeakerConfig,
    model: OpenSkeletonModel,
    painter: PersonPainter,
) -> None:
    from speech2video.render.video_io import VideoWriter

    with VideoWriter(
        root / "recordings" / f"{rec_id}.mp4", config.fps, config.width, config.height, speech.audio
    ) as writer:
        for frame in body_frames(model, poses):
            writer.write(painter.paint(frame))
    save_words(root / "transcripts" / f"{rec_id}.json", list(speech.words), language="en",
               engine="espeak-ng", text=speech.text)  # fmt: skip
    motion = Motion(poses, config.fps, global_orient=model.global_orient, speaker=config.speaker)
    save_motion(root / "ground_truth" / f"{rec_id}.npz", motion)


def _clip_dictionary(dictionary: KeyPoseDictionary, hold_s: float) -> KeyPoseDictionary:
    """The dictionary with still poses held ``hold_s`` (the speaker holds them on request)."""
    entries = {
        w: e if e.is_motion else replace(e, hold_s=hold_s) for w, e in dictionary.entries.items()
    }
    return KeyPoseDictionary(dictionary.speaker, entries)


def _frames_of(speech: Speech, fps: float) -> int:
    return max(1, round(speech.audio.duration * fps))


def generate_demo_speaker(
    out_dir: str | Path,
    config: DemoSpeakerConfig,
    seed: int = 0,
    *,
    force: bool = False,
    progress: bool = False,
) -> DemoSpeakerSummary:
    """Generate the synthetic speaker folder ``out_dir`` (layout in the module docstring).

    force: replace an existing ``out_dir`` (otherwise an existing one is an InputError)
    progress: show a progress bar over the recordings
    Same ``config`` and ``seed`` in a fresh process ⇒ the same poses and frames.
    """
    started = time.perf_counter()
    out = Path(out_dir)
    if out.exists() and not force:
        raise InputError(f"{out} already exists (use force to replace it)")
    if seed < 0:
        raise InputError(f"seed must be >= 0; got {seed}")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        summary = _generate(tmp, config, seed, progress)
        if out.exists():
            trash = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
            out.rename(trash / "old")
            tmp.rename(out)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return replace(summary, out_dir=out, wall_seconds=time.perf_counter() - started)


def _generate(
    root: Path, config: DemoSpeakerConfig, seed: int, progress: bool
) -> DemoSpeakerSummary:
    import yaml
    from tqdm.auto import tqdm

    for sub in ("recordings", "transcripts", "ground_truth"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    fps = config.fps
    model = OpenSkeletonModel.default()
    camera = PinholeCamera.framing(config.width, config.height, model.rest_joints)
    painter = PersonPainter(config.width, config.height, camera)
    dictionary = true_dictionary(fps, config.speaker)
    rng = np.random.default_rng(seed)
    lo, hi = config.words_per_minute
    rates = [int(r) for r in rng.integers(lo, hi + 1, config.num_utterances)]
    texts = choose_utterances(config.num_utterances, config.utterance_seconds, rates, rng)
    jobs = [(f"utt_{i:03d}", t, r) for i, (t, r) in enumerate(zip(texts, rates, strict=True))]
    jobs += [(f"pose_{w}", POSE_PHRASES[w], 150) for w in KEY_WORDS]
    clip_dictionary = _clip_dictionary(dictionary, config.clip_hold_s)
    recordings: dict[str, int] = {}
    insertions: dict[str, list[InsertionLogEntry]] = {}
    keywords: list[KeywordClip] = []
    seconds = 0.0
    for k, (rec_id, text, rate) in enumerate(tqdm(jobs, disable=not progress, desc="demo")):
        is_pose = rec_id.startswith("pose_")
        lead = 0.8 if is_pose else config.lead_s
        tail = 2.0 if is_pose else config.tail_s
        speech = speak(text, rate, lead, tail, config.noise_level, seed * 1000 + k)
        n = _frames_of(speech, fps)
        tracks = audio_tracks(speech.audio, n, fps, config.jaw_lead_s)
        used = clip_dictionary if is_pose else dictionary
        motion = synthesize_motion(tracks, speech.words, fps, used, seed * 1000 + k)
        _write_recording(root, rec_id, speech, motion.poses, config, model, painter)
        recordings[rec_id] = n
        insertions[rec_id] = motion.log
        seconds += n / fps
        if is_pose:
            keywords.append(_keyword_clip(rec_id, motion.log, used, fps))
    with open(root / "keywords.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(KEYWORDS_HEADER)
        for c in keywords:
            writer.writerow([c.word, c.recording, f"{c.start:.4f}", f"{c.end:.4f}", c.kind])
    meta = {
        "speaker": config.speaker,
        "language": config.language,
        "fps": float(fps),
        "width": config.width,
        "height": config.height,
        "synthetic": True,
        "seed": int(seed),
        "config": config.name,
    }
    (root / "speaker.yaml").write_text(yaml.safe_dump(meta, sort_keys=False), encoding="utf-8")
    truth = root / "ground_truth"
    profile = SpeakerProfile(config.speaker, fps, config.width, config.height, model, camera)
    save_speaker_profile(truth / "body_model", profile)
    dictionary.save(truth / "key_pose_dictionary" / "dictionary.yaml")
    return DemoSpeakerSummary(root, config, seed, recordings, keywords, insertions, seconds, 0.0)


def _keyword_clip(
    rec_id: str, log: list[InsertionLogEntry], dictionary: KeyPoseDictionary, fps: float
) -> KeywordClip:
    word = rec_id.removeprefix("pose_")
    placed = [e for e in log if e.entry == word and e.status == "inserted"]
    if not placed:  # pragma: no cover - the pose phrase is the key word itself
        raise RuntimeError(f"key pose {word!r} was not inserted into {rec_id}")
    entry: KeyPoseEntry = dictionary.entries[word]
    first, last = placed[0].start_frame, placed[0].end_frame
    return KeywordClip(
        word, rec_id, first / fps, (last + 1) / fps, "motion" if entry.is_motion else "still"
    )
