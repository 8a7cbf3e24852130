"""``s2v tts`` and ``s2v transcribe``, run through their own parsers."""

from __future__ import annotations

import argparse
import json

import pytest

from speech2video.audio.io import AudioError, decode
from speech2video.motion.words import load_words
from speech2video_cli import transcribe_command, tts_command


def _run(module, argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    module.register(parser.add_subparsers())
    args = parser.parse_args(argv)
    return module.run(args)


@pytest.fixture(scope="module")
def tts_files(tmp_path_factory):
    out = tmp_path_factory.mktemp("tts")
    wav, words = out / "hello.wav", out / "hello.json"
    text = "Ask not what your country can do for you."
    assert _run(tts_command, ["tts", text, "-o", str(wav), "--words", str(words)]) == 0
    return wav, words


def test_tts_writes_audio_and_words(tts_files) -> None:
    wav, words_path = tts_files
    audio = decode(wav)
    words = load_words(words_path)
    assert [w.word for w in words][:3] == ["Ask", "not", "what"]
    assert words[-1].end <= audio.duration + 0.01
    payload = json.loads(words_path.read_text())
    assert (payload["language"], payload["engine"]) == ("en", "espeak-ng")


def test_transcribe_json_is_exactly_the_words_format(tts_files, capsys) -> None:
    wav, _words_path = tts_files
    assert _run(transcribe_command, ["transcribe", str(wav), "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert list(payload) == ["language", "engine", "words"]
    assert all(list(w) == ["word", "start", "end", "confidence"] for w in payload["words"])
    assert " ".join(w["word"] for w in payload["words"]).lower().startswith("ask not what")


def test_transcribe_with_known_text_aligns_every_word(tts_files, capsys) -> None:
    wav, words_path = tts_files
    reference = load_words(words_path)
    text = " ".join(w.word for w in reference)
    assert _run(transcribe_command, ["transcribe", str(wav), "--text", text]) == 0
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines()[2:]]
    assert [r[3] for r in rows] == [w.word for w in reference]
    assert all(abs(float(r[0]) - w.start) < 0.1 for r, w in zip(rows, reference, strict=True))


def test_undecodable_file_is_an_audio_error(tmp_path) -> None:
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"nope" * 100)
    with pytest.raises(AudioError, match="could not be decoded"):
        _run(transcribe_command, ["transcribe", str(bad)])
