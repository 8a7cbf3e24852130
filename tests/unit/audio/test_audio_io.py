"""Decoding any common audio to 16 kHz mono, and clear errors for what cannot be used."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile

from speech2video.audio.io import SAMPLE_RATE, AudioError, decode


def _tone(rate: int, seconds: float, channels: int = 1) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    x = 0.3 * np.sin(2 * np.pi * 440 * t).astype(np.float32)
    return np.stack([x] * channels, axis=1) if channels > 1 else x


@pytest.mark.parametrize("rate, channels, fmt", [(8000, 1, "WAV"), (44100, 2, "FLAC"),
                                                 (48000, 2, "WAV"), (22050, 1, "OGG")])  # fmt: skip
def test_any_rate_and_channels_to_16k_mono(
    tmp_path: Path, rate: int, channels: int, fmt: str
) -> None:
    path = tmp_path / f"a.{fmt.lower()}"
    soundfile.write(path, _tone(rate, 1.0, channels), rate, format=fmt)
    audio = decode(path)
    assert audio.rate == SAMPLE_RATE and audio.samples.ndim == 1
    assert abs(audio.duration - 1.0) < 0.01
    # a 440 Hz tone stays a 440 Hz tone after resampling
    spectrum = np.abs(np.fft.rfft(audio.samples))
    assert abs(np.argmax(spectrum) * SAMPLE_RATE / audio.samples.size - 440) < 3


def test_mp4_audio_via_pyav(tmp_path: Path) -> None:
    import av

    path = tmp_path / "a.m4a"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("aac", rate=44100, layout="mono")
        samples = _tone(44100, 1.0)
        for i in range(0, samples.size, 1024):
            frame = av.AudioFrame.from_ndarray(
                samples[None, i : i + 1024], format="flt", layout="mono"
            )
            frame.rate = 44100
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    audio = decode(path)
    assert audio.rate == SAMPLE_RATE and abs(audio.duration - 1.0) < 0.1


def test_bytes_input(tmp_path: Path) -> None:
    soundfile.write(tmp_path / "a.wav", _tone(16000, 0.5), 16000)
    assert decode((tmp_path / "a.wav").read_bytes()).samples.size == 8000


def test_errors_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(AudioError, match="0 bytes"):
        decode(b"")
    with pytest.raises(AudioError, match="could not be decoded"):
        decode(b"this is not audio at all" * 10)
    with pytest.raises(AudioError, match="not found"):
        decode(tmp_path / "missing.wav")
    soundfile.write(tmp_path / "long.wav", _tone(16000, 3.0), 16000)
    with pytest.raises(AudioError, match="limit is 2 s"):
        decode(tmp_path / "long.wav", max_seconds=2)
    soundfile.write(tmp_path / "low.wav", _tone(4000, 0.5), 4000)
    with pytest.raises(AudioError, match="4000 Hz"):
        decode(tmp_path / "low.wav")
    soundfile.write(tmp_path / "empty.wav", np.zeros(0, np.float32), 16000)
    with pytest.raises(AudioError, match=r"zero length|could not be decoded"):
        decode(tmp_path / "empty.wav")


def test_a_flac_bomb_is_refused_from_its_header_before_any_decoding(monkeypatch) -> None:
    """Minutes of 8-channel 48 kHz silence in a few hundred KB: the header's length is over the
    limit, so not one block is decoded."""
    import soundfile

    from speech2video.audio.io import probe
    from tests.fixtures.audio_bombs import flac_bomb

    bomb = flac_bomb(minutes=3.0)
    info = probe(bomb)
    assert (info.rate, info.channels, info.duration) == (48_000, 8, 180.0)

    def no_decoding(*args: object, **kwargs: object) -> None:
        raise AssertionError("decoded although the header was over the limit")

    monkeypatch.setattr(soundfile.SoundFile, "blocks", no_decoding)
    with pytest.raises(AudioError, match=r"is 180.0 s long; the limit is 120 s"):
        decode(bomb, max_seconds=120)


def test_a_bomb_whose_header_hides_its_length_stops_at_the_limit(monkeypatch) -> None:
    """With the length field zeroed only decoding can tell; it keeps the mono mix only and
    stops at the first block past the limit."""
    import soundfile

    from speech2video.audio import io as audio_io
    from tests.fixtures.audio_bombs import flac_bomb, without_length

    bomb = without_length(flac_bomb(minutes=3.0))
    assert audio_io.probe(bomb).frames is None
    read: list[int] = []
    blocks = soundfile.SoundFile.blocks

    def counted(self: soundfile.SoundFile, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        for block in blocks(self, *args, **kwargs):
            read.append(block.shape[0])
            yield block

    monkeypatch.setattr(soundfile.SoundFile, "blocks", counted)
    with pytest.raises(AudioError, match=r"longer than 10 s; the limit is 10 s"):
        decode(bomb, max_seconds=10)
    assert sum(read[:-1]) <= 10 * 48_000 < sum(read)  # stopped at the first block past it


def test_channels_and_encoded_size_are_limited(tmp_path: Path) -> None:
    soundfile.write(tmp_path / "wide.wav", np.zeros((1600, 12), np.float32), 16000)
    with pytest.raises(AudioError, match="12 channels; the limit is 8"):
        decode(tmp_path / "wide.wav")
    data = (tmp_path / "wide.wav").read_bytes()
    with pytest.raises(AudioError, match="the limit is 1000 bytes"):
        decode(data, max_bytes=1000)
