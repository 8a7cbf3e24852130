"""Stage features: audio features for every recording; words from a transcript when the speaker
folder has one, else from the project's speech-to-text (a real speaker has no transcripts)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pipelines import features
from pipelines.stage_io import StageError
from speech2video.audio.io import write_wav
from speech2video.audio.tts import synthesize
from speech2video.motion.words import Word, load_words, save_words

SENTENCE = "Please open the window and look at the garden."


def _workspace(root: Path, params: dict, transcript: list[Word] | None) -> list[Word]:
    """An ingested speaker with two recordings of TTS speech; ``r1`` has ``transcript``."""
    spoken = synthesize(SENTENCE, words_per_minute=150)
    spk = root / "speaker"
    spk.mkdir()
    (spk / "speaker.yaml").write_text("speaker: s\nlanguage: en\n")
    for rec in ("r1", "r2"):
        d = root / "data/interim/ingest" / rec
        d.mkdir(parents=True)
        write_wav(d / "audio.wav", spoken.audio)
        (d / "meta.json").write_text("{}")
    if transcript is not None:
        (spk / "transcripts").mkdir()
        save_words(spk / "transcripts" / "r1.json", transcript)
    (root / "params.yaml").write_text(json.dumps({"speaker_dir": "speaker", **params}))
    return spoken.words


def test_missing_transcripts_are_made_by_speech_to_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    given = [Word("hello", 0.1, 0.4), Word("there", 0.5, 0.9)]
    truth = _workspace(tmp_path, {}, transcript=given)
    monkeypatch.chdir(tmp_path)
    features.main()
    out = tmp_path / "data/interim/features"
    audio_feats = np.load(out / "r2.npy")
    assert audio_feats.shape[1] == 28
    assert np.load(out / "text" / "r2.npy").shape[0] == audio_feats.shape[0]
    assert load_words(out / "words" / "r1.json") == given  # the transcript wins
    assert json.loads((out / "words" / "r1.json").read_text())["source"] == "transcript"
    heard = json.loads((out / "words" / "r2.json").read_text())
    assert heard["source"] == "stt" and heard["language"] == "en"
    words = load_words(out / "words" / "r2.json")
    assert [w.word.lower().strip(".,") for w in words] == [w.word.lower() for w in truth]
    onsets = np.abs([a.start - b.start for a, b in zip(words, truth, strict=True)])
    assert np.median(onsets) <= 0.05


def test_without_transcription_only_transcribed_recordings_get_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _workspace(tmp_path, {"features": {"transcribe_missing": False}}, [Word("hi", 0.1, 0.3)])
    monkeypatch.chdir(tmp_path)
    features.main()
    out = tmp_path / "data/interim/features"
    assert (out / "r2.npy").is_file() and (out / "text" / "r1.npy").is_file()
    assert not (out / "text" / "r2.npy").exists() and not (out / "words" / "r2.json").exists()


def test_a_broken_transcript_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _workspace(tmp_path, {}, transcript=[])
    (tmp_path / "speaker/transcripts/r1.json").write_text("{not json")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(StageError, match=r"transcripts/r1\.json.*not valid JSON"):
        features.main()
    assert not (tmp_path / "data/interim/features").exists()  # nothing half-written


def test_the_speech_embedding_is_written_when_the_audio_model_reads_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipelines.recordings import audio_inputs

    params = {"features": {"transcribe_missing": False},
              "train_audio_to_pose": {"embedding": "whisper"}}  # fmt: skip
    _workspace(tmp_path, params, [Word("hi", 0.1, 0.3)])
    monkeypatch.chdir(tmp_path)
    features.main()
    out = tmp_path / "data/interim/features"
    emb = np.load(out / "embedding" / "whisper" / "r2.npy")
    assert emb.shape == (np.load(out / "r2.npy").shape[0], 384)
    rows = audio_inputs("r2", "whisper")
    assert rows.shape == (emb.shape[0], 28 + 384)
    np.testing.assert_array_equal(rows[:, 28:], emb)
    (out / "embedding" / "whisper" / "r1.npy").unlink()
    with pytest.raises(StageError, match=r"r1\.npy is missing.*train_audio_to_pose\.embedding"):
        audio_inputs("r1", "whisper")


def test_an_unknown_embedding_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _workspace(tmp_path, {"train_audio_to_pose": {"embedding": "hubert"}}, None)
    monkeypatch.chdir(tmp_path)
    what = r"train_audio_to_pose\.embedding: unknown speech embedding"
    with pytest.raises(StageError, match=what):
        features.main()
