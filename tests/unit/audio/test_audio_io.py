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
