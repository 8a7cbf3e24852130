"""Live audio input: PCM at any rate and encoded pieces → the whole-file 16 kHz samples."""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile

from services.live_audio import CONTAINER, PCM, LiveAudioInput, Resampler
from speech2video.audio.io import resample
from speech2video.errors import InputError


def _signal(rate: int, seconds: float = 1.3) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    rng = np.random.default_rng(0)
    return (0.3 * np.sin(2 * np.pi * 300 * t) + 0.05 * rng.normal(size=t.size)).astype(np.float32)


@pytest.mark.parametrize("rate", [16_000, 8_000, 22_050, 44_100, 48_000])
@pytest.mark.parametrize("block", [97, 4800])
def test_incremental_resampling_equals_the_whole_signal(rate: int, block: int) -> None:
    x = _signal(rate, 0.6)
    r = Resampler(rate)
    out = [r.push(x[i : i + block]) for i in range(0, len(x), block)] + [r.flush()]
    y = np.concatenate(out)
    whole = resample(x, rate)
    assert y.shape == whole.shape
    np.testing.assert_allclose(y, whole, atol=1e-5)


def test_pcm_bytes_split_anywhere_including_odd_sizes() -> None:
    x = _signal(16_000)
    pcm = (x * 32767).astype("<i2").tobytes()
    live = LiveAudioInput(PCM, 16_000, max_seconds=10)
    parts = [live.push(pcm[i : i + 101]) for i in range(0, len(pcm), 101)] + [live.finish()]
    y = np.concatenate(parts)
    assert len(y) == len(x) and live.seconds == pytest.approx(len(x) / 16_000)
    np.testing.assert_allclose(y, np.frombuffer(pcm, "<i2") / 32768.0, atol=1e-6)


def test_a_wav_in_pieces_decodes_as_it_arrives() -> None:
    x = _signal(16_000, 2.0)
    buf = io.BytesIO()
    soundfile.write(buf, x, 16_000, format="WAV", subtype="PCM_16")
    data = buf.getvalue()
    live = LiveAudioInput(CONTAINER, 0, max_seconds=10)
    first = live.push(data[: len(data) // 2])
    assert len(first) > 10_000  # half the file: most of its first second already known
    y = np.concatenate([first, live.push(data[len(data) // 2 :]), live.finish()])
    assert len(y) == len(x)


def test_bad_formats_and_too_long_streams_are_refused_naming_the_field() -> None:
    with pytest.raises(InputError, match="encoding"):
        LiveAudioInput(0, 16_000, 10)
    with pytest.raises(InputError, match="sample_rate"):
        LiveAudioInput(PCM, 100, 10)
    live = LiveAudioInput(PCM, 16_000, max_seconds=1)
    with pytest.raises(InputError, match="longer than the limit, 1 s"):
        live.push(b"\x00" * 40_000)
    junk = LiveAudioInput(CONTAINER, 0, 10)
    junk.push(b"\x01" * 9000)  # not decodable yet: waits
    with pytest.raises(InputError, match="audio:"):
        junk.finish()
