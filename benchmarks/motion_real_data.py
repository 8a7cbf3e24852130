"""The data of ``benchmarks.motion_real``: the shared BEAT2 capture, or the synthetic demo speaker.

Inputs are the 28 audio features, plus the columns of a speech ``embedding`` (``whisper``;
``audio/speech_embedding.py``) or the phonetic columns of ``phones`` (``cmu`` | ``viseme``;
empty: none) aligned from timed words (``audio/phones.py``). Training always aligns the
transcript's words (BEAT2's TextGrid, the demo speaker's TTS times); the held-out part and the
other-audio baseline align either the transcript (``phones_from="transcript"``) or what the
speech recogniser hears in that audio alone, retimed by the aligner (``"recognised"``: what the
serving path gives the model).
"""

from __future__ import annotations

import dataclasses
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("S2V_SHARED_DATA", REPO.parent / "shared" / "data"))
MOCAP = "motion/BEAT2_2_scott_0_1_1_first40s"
OTHER_AUDIO = "speech/BEAT2_2_scott_0_2_2"
PHONES_FROM = ("transcript", "recognised")


@dataclass(frozen=True)
class BenchmarkData:
    """train: Utterances; clips: HeldOutClips; other: other-audio inputs (T_k, D)."""

    train: list
    clips: list
    other: list[np.ndarray]
    description: str


def _words(audio, transcript: list, phones_from: str) -> list:
    """The words the phones are aligned from: the transcript's, or the recogniser's."""
    if phones_from == "transcript":
        return transcript
    from speech2video.audio.transcriber import transcribe

    return transcribe(audio, language="en").words


def inputs(audio, words: list | None, phones: str, embedding: str = "") -> np.ndarray:
    """(T, 28 [+ phone or embedding columns]) model inputs of 16 kHz ``audio`` with its words."""
    from speech2video.audio.features import compute_features
    from speech2video.audio.phones import phone_features
    from speech2video.audio.speech_embedding import with_embedding

    feats = compute_features(audio.samples)
    if embedding:
        return with_embedding(feats, audio.samples, embedding)
    if not phones:
        return feats
    if words is None:
        sys.exit("motion_real: phonetic input needs the recording's timed words")
    return np.concatenate([feats, phone_features(audio, words, feats.shape[0], phones)], axis=1)


def _clip(audio, t0: float, t1: float):
    from speech2video.audio.io import Audio

    return Audio(audio.samples[round(t0 * audio.rate) : round(t1 * audio.rate)], audio.rate)


def _shift(words: list, t0: float, t1: float) -> list:
    from speech2video.motion.words import Word

    return [
        Word(w.word, max(w.start - t0, 0.0), min(w.end, t1) - t0, w.confidence)
        for w in words
        if w.end > t0 and w.start < t1
    ]


def beat2_data(train_s: float, val_s: float, phones: str = "", phones_from: str = "transcript",
               embedding: str = "") -> BenchmarkData:  # fmt: skip
    """Train on the first ``train_s`` seconds of the BEAT2 file, hold out the next ``val_s``.

    With a speech ``embedding`` the held-out part's inputs are computed from its audio alone
    (the encoder sees no training audio around it)."""
    from speech2video.audio.io import decode
    from speech2video.audio.textgrid import load_textgrid_words
    from speech2video.body.mocap import (
        check_audio_length,
        fit_mocap_hand_basis,
        load_mocap,
        mocap_to_motion,
    )
    from speech2video.evaluation.motion_evaluation import HeldOutClip
    from speech2video.motion.training import Utterance

    npz, wav, grid = (SHARED / f"{MOCAP}{ext}" for ext in (".npz", ".wav", ".TextGrid"))
    other_wav, other_grid = SHARED / f"{OTHER_AUDIO}.wav", SHARED / f"{OTHER_AUDIO}.TextGrid"
    for path in (npz, wav, grid, other_wav, other_grid):
        if not path.is_file():
            sys.exit(f"motion_real: {path} not found (set S2V_SHARED_DATA)")
    audio = decode(wav)
    words = load_textgrid_words(grid)
    feats = inputs(audio, words, phones, embedding)
    rec = load_mocap(npz)
    check_audio_length(rec, feats.shape[0] / 100.0)
    cut = round(train_s * rec.fps)
    end = min(rec.num_frames, cut + round(val_s * rec.fps))
    if cut < 2 or end - cut < 2:
        sys.exit(f"motion_real: --train-s {train_s} / --val-s {val_s} leave no frames to use")
    basis = fit_mocap_hand_basis([dataclasses.replace(rec, poses=rec.poses[:cut])])
    conv = mocap_to_motion(rec, basis, "scott")
    poses, fps = conv.motion.poses, rec.fps
    step = lambda f: round(f * 100 / fps)  # noqa: E731 - frame → feature row
    train = [Utterance(feats[: step(cut)], poses[:cut], fps, "beat2[train]")]
    val = feats[step(cut) : step(end)]
    if phones and phones_from == "recognised":
        t0, t1 = cut / fps, end / fps
        clip_audio = _clip(audio, t0, t1)
        heard = _words(clip_audio, _shift(words, t0, t1), phones_from)
        val = np.concatenate([val[:, :28], inputs(clip_audio, heard, phones)[: len(val), 28:]], 1)
    if embedding:
        val = inputs(_clip(audio, cut / fps, end / fps), None, "", embedding)[: len(val)]
    clip = HeldOutClip("beat2[val]", {"audio": val}, poses[cut:end], fps)
    other_audio = decode(other_wav)
    other_words = None
    if phones:
        other_words = _words(other_audio, load_textgrid_words(other_grid), phones_from)
    desc = (
        f"BEAT2 scott 0_1_1: train 0-{cut / fps:g} s, validate {cut / fps:g}-{end / fps:g} s; "
        f"hand PCA keeps {conv.hand_variance_kept:.1%} of finger variance, first 10 FLAME "
        f"coefficients {conv.expression_kept:.1%} of expression-coefficient variance"
        + (f"; phones {phones!r} (held out: {phones_from} words)" if phones else "")
    )
    other = inputs(other_audio, other_words, phones, embedding)
    return BenchmarkData(train, [clip], [other], desc)


def demo_data(config: str, phones: str = "", phones_from: str = "transcript", embedding: str = ""
              ) -> BenchmarkData:  # fmt: skip
    """The synthetic demo speaker (a quick check: its mouth is a formula of its own audio)."""
    from pipelines.recordings import keyword_clips, split_recordings
    from speech2video.audio.io import decode
    from speech2video.body.motion_file import load_motion
    from speech2video.evaluation.motion_evaluation import HeldOutClip
    from speech2video.motion.training import Utterance
    from speech2video.motion.words import load_words
    from speech2video.synthetic.config import get_config
    from speech2video.synthetic.demo_speaker import generate_demo_speaker

    root = Path(tempfile.mkdtemp(prefix="s2v-demo-")) / "demo_speaker"
    generate_demo_speaker(root, get_config(config), 0)
    ids = sorted(p.stem for p in (root / "recordings").glob("*.mp4"))
    posing = {c.recording for c in keyword_clips(root)}
    train_ids, held = split_recordings(ids, 0.1, 0, posing)
    data = {}
    for rec in train_ids + held:
        motion = load_motion(root / "ground_truth" / f"{rec}.npz")
        audio = decode(root / "recordings" / f"{rec}.mp4")
        words = None
        if phones:
            words = load_words(root / "transcripts" / f"{rec}.json")
            words = words if rec in train_ids else _words(audio, words, phones_from)
        data[rec] = (inputs(audio, words, phones, embedding), motion.poses, motion.fps)
    train = [Utterance(*data[r], r) for r in train_ids]
    clips = [HeldOutClip(r, {"audio": data[r][0]}, data[r][1], data[r][2]) for r in held]
    other = [data[r][0] for r in train_ids[:4]]
    desc = f"synthetic demo speaker ({config}, quick check): {len(train)} train, held out {held}"
    return BenchmarkData(train, clips, other, desc)


def workspace_data(workspace: Path, embedding: str = "") -> BenchmarkData:
    """An enrolled speaker's workspace after its ``features`` stage (e.g. ``s2v enrol --no-run``
    then ``dvc repro features``): its training recordings' audio features and fitted poses,
    its held-out recordings as clips; other audio: the shared BEAT2 speech (another person)."""
    import yaml

    from speech2video.audio.io import decode
    from speech2video.audio.speech_embedding import with_embedding
    from speech2video.body.motion_file import load_motion
    from speech2video.evaluation.motion_evaluation import HeldOutClip
    from speech2video.motion.training import Utterance

    workspace = workspace.resolve()
    params = yaml.safe_load((workspace / "params.yaml").read_text())
    cwd = os.getcwd()
    os.chdir(workspace)  # the stages' paths are relative to the workspace
    try:
        from pipelines.recordings import held_out_recordings

        held = held_out_recordings(params)
    finally:
        os.chdir(cwd)
    feats = workspace / "data/interim/features"
    motions = workspace / "data/interim/fit/motion"
    recs = sorted(p.stem for p in motions.glob("*.npz") if (feats / f"{p.stem}.npy").is_file())
    if not recs:
        sys.exit(f"motion_real: {workspace}: no features and fitted motion (dvc repro features)")
    data = {}
    for rec in recs:
        motion = load_motion(motions / f"{rec}.npz")
        rows = np.load(feats / f"{rec}.npy")
        if embedding:
            audio = decode(workspace / "data/interim/ingest" / rec / "audio.wav")
            rows = with_embedding(rows, audio.samples, embedding)
        data[rec] = (rows, motion.poses, motion.fps)
    train = [Utterance(*data[r], r) for r in recs if r not in held]
    clips = [HeldOutClip(r, {"audio": data[r][0]}, data[r][1], data[r][2]) for r in held]
    if not train or not clips:
        sys.exit(f"motion_real: {workspace}: needs training and held-out recordings")
    other_wav = SHARED / f"{OTHER_AUDIO}.wav"
    other = (
        [inputs(decode(other_wav), None, "", embedding)]
        if other_wav.is_file()
        else [train[0].features]
    )
    seconds = sum(len(u.poses) / u.fps for u in train)
    desc = (
        f"workspace {workspace.name} (fitted from video): {len(train)} training recordings "
        f"({seconds:.1f} s), held out {held}"
    )
    return BenchmarkData(train, clips, other, desc)


def beat2_capture_folder() -> Path:
    """A mocap speaker folder (mocap/<rec>.npz + audio/<rec>.wav, links) holding the shared
    40 s BEAT2 capture: the pre-training corpus of ``pretrain=...`` variants."""
    npz, wav = (SHARED / f"{MOCAP}{ext}" for ext in (".npz", ".wav"))
    for path in (npz, wav):
        if not path.is_file():
            sys.exit(f"motion_real: {path} not found (set S2V_SHARED_DATA)")
    root = Path(tempfile.mkdtemp(prefix="s2v-capture-"))
    (root / "mocap").mkdir()
    (root / "audio").mkdir()
    os.symlink(npz, root / "mocap" / "beat2.npz")
    os.symlink(wav, root / "audio" / "beat2.wav")
    return root
