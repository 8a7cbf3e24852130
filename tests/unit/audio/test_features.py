"""The 28-D audio features (paper §3.4): framing, MFCC, volume, differences, streaming."""

from __future__ import annotations

import math

import numpy as np
import pytest

from speech2video.audio import features as F
from speech2video.audio.features import (
    StreamingFeatureExtractor,
    compute_features,
    mel_filters,
    mel_power,
    rms_gain,
)
from speech2video.errors import InputError

RATE = 16_000


def speech_like(seconds: float, seed: int = 0) -> np.ndarray:
    """Noise with a syllable-rate envelope and a few tones: varied spectra and volume."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 3.0 * t) ** 2
    tones = 0.3 * np.sin(2 * np.pi * 220 * t) + 0.2 * np.sin(2 * np.pi * 1250 * t)
    x = envelope * (0.1 * rng.standard_normal(t.size) + tones)
    return (0.2 * x).astype(np.float32)


def test_paper_constants() -> None:
    assert (F.WINDOW, F.HOP, F.N_MELS, F.N_MFCC, F.FEATURE_DIM) == (400, 160, 40, 13, 28)
    assert F.FEATURE_RATE == 100.0


@pytest.mark.parametrize("n", [1, 159, 160, 161, 400, 16_000, 16_001, 23_456])
def test_row_count_is_ceil_of_hops(n: int) -> None:
    x = speech_like(2.0)[:n]
    assert compute_features(x).shape == (math.ceil(n / 160), 28)


def test_one_second_gives_100_rows_float32() -> None:
    feats = compute_features(speech_like(1.0))
    assert feats.shape == (100, 28)
    assert feats.dtype == np.float32


@pytest.mark.parametrize("scale", [0.1, 3.0])
def test_invariant_to_volume(scale: float) -> None:
    x = speech_like(1.5)
    base = compute_features(x)
    scaled = compute_features(x * np.float32(scale))
    np.testing.assert_allclose(scaled, base, atol=2e-4, rtol=1e-4)


def test_second_half_is_difference_of_first_half() -> None:
    feats = compute_features(speech_like(1.2))
    static, delta = feats[:, :14], feats[:, 14:]
    np.testing.assert_array_equal(delta[0], np.zeros(14, np.float32))
    np.testing.assert_allclose(delta[1:], static[1:] - static[:-1], atol=1e-5)
    assert np.abs(delta).max() > 0.1  # the audio does change


def test_rms_gain_targets_fixed_rms_and_skips_silence() -> None:
    x = np.full(1000, 0.5, np.float32)
    assert rms_gain(x) == pytest.approx(0.1 / 0.5)
    assert rms_gain(np.zeros(1000, np.float32)) == 1.0
    assert rms_gain(np.full(1000, 1e-6, np.float32)) == 1.0


def test_log_volume_of_constant_signal() -> None:
    # constant 0.5 → gain 0.2 → every sample 0.1 → mean energy 0.01 in full frames
    feats = compute_features(np.full(1600, 0.5, np.float32))
    np.testing.assert_allclose(feats[:7, 13], math.log(0.01), rtol=1e-5)
    assert feats[-1, 13] < math.log(0.01)  # last frames are zero-padded


def test_silence_gives_finite_floor_features() -> None:
    feats = compute_features(np.zeros(RATE, np.float32))
    assert np.all(np.isfinite(feats))
    floor = math.log(F.LOG_FLOOR)
    # all 40 log-mel values equal the floor → only the DC coefficient of the DCT is non-zero
    np.testing.assert_allclose(feats[:, 0], math.sqrt(40) * floor, rtol=1e-5)
    np.testing.assert_allclose(feats[:, 1:13], 0.0, atol=1e-3)
    np.testing.assert_allclose(feats[:, 13], floor, rtol=1e-6)
    np.testing.assert_array_equal(feats[:, 14:], 0.0)


def test_tone_peaks_in_its_mel_band() -> None:
    t = np.arange(400) / RATE
    frames = np.stack([np.sin(2 * np.pi * f * t) for f in (300.0, 1000.0, 4000.0)])
    mel = mel_power(frames.astype(np.float32))
    centres = F._mel_to_hz(np.linspace(0.0, F._hz_to_mel(8000.0), 42))[1:-1]
    for row, freq in zip(mel, (300.0, 1000.0, 4000.0), strict=True):
        assert abs(centres[int(np.argmax(row))] - freq) < 0.1 * freq + 60


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_stream_in_random_chunks_equals_whole(seed: int) -> None:
    x = speech_like(1.3, seed)
    gain = rms_gain(x)
    whole = compute_features(x)
    rng = np.random.default_rng(seed)
    stream = StreamingFeatureExtractor(gain)
    rows, pos = [], 0
    while pos < x.size:
        size = int(rng.choice([0, 1, 7, 160, 399, 400, 1234, 3000]))
        rows.append(stream.push(x[pos : pos + size]))
        pos += size
    rows.append(stream.flush())
    streamed = np.concatenate(rows)
    assert streamed.shape == whole.shape
    np.testing.assert_array_equal(streamed, whole)  # row by row arithmetic: bit-exact


def test_stream_emits_rows_as_frames_complete_and_resets_on_flush() -> None:
    x = speech_like(0.5)
    stream = StreamingFeatureExtractor(rms_gain(x))
    assert stream.push(x[:399]).shape == (0, 28)
    assert stream.push(x[399:400]).shape == (1, 28)  # frame 0 = samples [0, 400)
    assert stream.push(x[400:720]).shape == (2, 28)  # frames 1, 2 end at 560, 720
    more = stream.push(x[720:])
    rest = stream.flush()
    assert 3 + more.shape[0] + rest.shape[0] == math.ceil(x.size / 160)
    assert rest.shape[0] == 2  # the last two frames run past the end: zero-padded
    assert stream.rows_emitted == 0
    again = np.concatenate([stream.push(x), stream.flush()])
    np.testing.assert_allclose(again, compute_features(x), atol=1e-5)


def test_filterbank_matches_librosa() -> None:
    import librosa

    ours = mel_filters()
    theirs = librosa.filters.mel(sr=RATE, n_fft=400, n_mels=40)
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-9)


def test_mel_power_and_mfcc_match_librosa() -> None:
    import librosa

    x = speech_like(0.6)
    y = x * np.float32(rms_gain(x))
    mel_ref = librosa.feature.melspectrogram(
        y=y,
        sr=RATE,
        n_fft=400,
        hop_length=160,
        win_length=400,
        window="hann",
        center=False,
        n_mels=40,
        power=2.0,
    ).T
    frames = np.lib.stride_tricks.sliding_window_view(y, 400)[::160]
    mel = mel_power(frames)
    assert mel.shape == mel_ref.shape
    np.testing.assert_allclose(mel, mel_ref, rtol=1e-4, atol=1e-7 * mel_ref.max())
    mfcc_ref = librosa.feature.mfcc(S=np.log(mel_ref.T + F.LOG_FLOOR), n_mfcc=13, norm="ortho").T
    feats = compute_features(x)
    np.testing.assert_allclose(feats[: len(mfcc_ref), :13], mfcc_ref, rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize(
    ("samples", "rate", "needle"),
    [
        (np.zeros((100, 2), np.float32), RATE, r"shape \(100, 2\)"),
        (np.zeros(0, np.float32), RATE, "empty"),
        (np.array([0.0, np.nan], np.float32), RATE, "NaN"),
        (np.zeros(100, np.float32), 44_100, "44100 Hz"),
    ],
)
def test_bad_input_names_the_problem(samples: np.ndarray, rate: int, needle: str) -> None:
    with pytest.raises(InputError, match=needle):
        compute_features(samples, rate)


def test_bad_gain_is_refused() -> None:
    with pytest.raises(InputError, match="gain"):
        StreamingFeatureExtractor(gain=0.0)
    with pytest.raises(InputError, match="gain"):
        compute_features(np.zeros(10, np.float32), gain=float("nan"))
