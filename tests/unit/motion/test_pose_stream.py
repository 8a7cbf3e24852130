"""Streaming audio-to-pose: chunked output equals the whole-signal prediction."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from speech2video.audio.features import compute_features, rms_gain
from speech2video.errors import InputError
from speech2video.motion.lstm import LSTMConfig, SequenceToPoseLSTM, audio_to_pose_config
from speech2video.motion.normalization import feature_stats
from speech2video.motion.pose_stream import PoseStream


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Many tiny LSTM calls: one thread avoids waiting on a busy second core."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def audio() -> np.ndarray:
    rng = np.random.default_rng(0)
    t = np.arange(int(2.37 * 16_000)) / 16_000
    x = (0.5 + 0.5 * np.sin(2 * np.pi * 2 * t)) * rng.standard_normal(t.size)
    return (0.05 * x).astype(np.float32)


@pytest.fixture(scope="module")
def model(audio: np.ndarray) -> SequenceToPoseLSTM:
    torch.manual_seed(0)
    m = SequenceToPoseLSTM(audio_to_pose_config(hidden=24)).eval()
    m.set_normalization(feature_stats([compute_features(audio)]))
    return m


def stream_all(model: SequenceToPoseLSTM, audio: np.ndarray, fps: float, chunk: int) -> np.ndarray:
    stream = PoseStream(model, fps, rms_gain(audio))
    parts = [stream.push(audio[i : i + chunk]) for i in range(0, audio.size, chunk)]
    parts.append(stream.flush())
    return np.concatenate(parts)


@pytest.mark.parametrize(
    ("fps", "chunk"), [(25.0, 1600), (30.0, 160), (29.97, 37), (60.0, 5000), (25.0, 4321)]
)
def test_chunked_equals_whole(model, audio, fps: float, chunk: int) -> None:
    whole = model.predict(compute_features(audio), fps)
    streamed = stream_all(model, audio, fps, chunk)
    assert streamed.shape == whole.shape
    np.testing.assert_allclose(streamed, whole, atol=1e-5)


def test_frames_become_final_200_ms_after_their_time(model, audio) -> None:
    stream = PoseStream(model, 25.0, rms_gain(audio))
    first = stream.push(audio[:16_000])
    # 1 s of audio → feature rows 0..97 (row t needs samples up to 160 t + 400); frame i is
    # read at step 4 i + 20, so frames 0..19 (steps <= 96) are final, frame 20 (step 100) not
    assert first.shape == (20, 106)
    assert stream.frames_emitted == 20
    rest = stream.flush()
    assert rest.shape == (5, 106)  # 1 s at 25 fps = 25 frames in all


def test_stream_is_reusable_after_flush(model, audio) -> None:
    stream = PoseStream(model, 30.0, rms_gain(audio))
    once = np.concatenate([stream.push(audio), stream.flush()])
    twice = np.concatenate([stream.push(audio), stream.flush()])
    np.testing.assert_array_equal(once, twice)


def test_silence_gives_finite_poses(model) -> None:
    stream = PoseStream(model, 25.0, gain=1.0)
    silence = np.zeros(1600, np.float32)
    frames = np.concatenate([stream.push(silence) for _ in range(10)] + [stream.flush()])
    assert frames.shape == (25, 106)
    assert np.all(np.isfinite(frames))


def test_needs_an_audio_model_and_a_valid_fps(model) -> None:
    torch.manual_seed(0)
    text_model = SequenceToPoseLSTM(LSTMConfig(input_dim=40, hidden=8))
    with pytest.raises(InputError, match="input_dim 40"):
        PoseStream(text_model, 25.0)
    with pytest.raises(InputError, match="fps"):
        PoseStream(model, 0.0)
    with pytest.raises(InputError, match="gain"):
        PoseStream(model, 25.0, gain=-1.0)
