"""The speech-embedding readout of the mouth and face (motion/readout.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from speech2video.body import pose_layout as pl
from speech2video.errors import InputError
from speech2video.motion.lstm import (
    LSTMConfig,
    SequenceToPoseLSTM,
    audio_to_pose_config,
    model_inputs,
)
from speech2video.motion.pose_stream import PoseStream
from speech2video.motion.readout import RIDGE_GRID, part_columns
from speech2video.motion.training import PoseSequenceDataset, TrainConfig, Utterance, train_lstm

FPS = 25.0
DIM = 28 + 384


def _utterance(seed: int, seconds: float = 12.0) -> Utterance:
    """Random inputs; the embedding mixes 6 latent signals (as a speech embedding's columns are
    correlated), the jaw opening and an expression follow two of them; the body is noise no
    input explains."""
    rng = np.random.default_rng(seed)
    steps, frames = int(seconds * 100), int(seconds * FPS)
    x = rng.standard_normal((steps, DIM)).astype(np.float32)
    latent = np.repeat(rng.standard_normal((steps // 2 + 1, 6)), 2, axis=0)[:steps]  # 20 ms
    mixing = np.random.default_rng(99).standard_normal((6, DIM - 28))
    x[:, 28:] = latent @ mixing + 0.1 * rng.standard_normal((steps, DIM - 28))
    centre = np.floor(np.arange(frames) * 100 / FPS + 0.5).astype(int)
    poses = 0.01 * rng.standard_normal((frames, pl.POSE_DIM)).astype(np.float32)
    poses[:, pl.BODY] *= 5
    poses[:, pl.JAW.start] = 0.05 * latent[centre, 0]
    poses[:, pl.EXPRESSION.start] = 0.3 * latent[centre, 1]
    return Utterance(x, poses, FPS, f"u{seed}")


@pytest.fixture(scope="module")
def trained() -> tuple[SequenceToPoseLSTM, object]:
    torch.manual_seed(0)
    model = SequenceToPoseLSTM(audio_to_pose_config(embedding="whisper", hidden=8))
    config = TrainConfig(epochs=2, batch_size=4, batches_per_epoch=2, window_s=1.0,
                         val_fraction=0.25, val_block_s=2.0, target_normalization="part",
                         shrink_to_mean=True, progress=False)  # fmt: skip
    result = train_lstm(model, PoseSequenceDataset([_utterance(0), _utterance(1)]), config)
    return model, result


def test_the_readout_learns_what_the_embedding_carries(trained) -> None:
    model, result = trained
    fit = result.readout
    assert fit is not None and set(fit.used) == {"mouth", "face"}
    assert fit.val_error["mouth"] < 0.5 * fit.lstm_error["mouth"]
    assert fit.val_error["face"] < fit.lstm_error["face"]
    assert [g for g, _ in fit.curve] == list(RIDGE_GRID)  # the validation curve over strengths
    assert fit.ridge == min(fit.curve, key=lambda c: c[1])[0]
    u = _utterance(7)
    pred = model.predict(u.features, FPS)
    jaw = np.corrcoef(pred[:, pl.JAW.start], u.poses[:, pl.JAW.start])[0, 1]
    expr = np.corrcoef(pred[:, pl.EXPRESSION.start], u.poses[:, pl.EXPRESSION.start])[0, 1]
    assert jaw > 0.9 and expr > 0.9


def test_a_part_not_used_keeps_the_lstm_output(trained) -> None:
    model, _ = trained
    u = _utterance(8)
    before = model.predict(u.features, FPS)
    use = model.readout.use.clone()
    try:
        model.readout.use.zero_()
        plain = model.predict(u.features, FPS)
    finally:
        model.readout.use.copy_(use)
    assert not np.allclose(plain[:, pl.JAW], before[:, pl.JAW])
    np.testing.assert_array_equal(plain[:, pl.BODY], before[:, pl.BODY])


def test_save_and_load_keep_the_readout(trained, tmp_path) -> None:
    model, _ = trained
    model.save(tmp_path)
    loaded = SequenceToPoseLSTM.load(tmp_path)
    assert loaded.config == model.config and loaded.config.readout_parts == ("mouth", "face")
    u = _utterance(9)
    np.testing.assert_array_equal(loaded.predict(u.features, FPS), model.predict(u.features, FPS))


def test_a_live_stream_runs_the_lstm_on_audio_features_alone(trained) -> None:
    model, _ = trained
    rng = np.random.default_rng(3)
    audio = (0.05 * rng.standard_normal(16_000)).astype(np.float32)
    stream = PoseStream(model, FPS)
    frames = np.concatenate([stream.push(audio), stream.flush()])
    assert frames.shape == (25, pl.POSE_DIM) and np.all(np.isfinite(frames))


def test_configs_without_an_embedding_are_written_as_before() -> None:
    assert "embedding" not in audio_to_pose_config().to_dict()
    cfg = audio_to_pose_config(embedding="whisper")
    assert cfg.input_dim == DIM and cfg.lstm_input_dim == 28
    assert cfg.to_dict()["readout_parts"] == ["mouth", "face"]
    assert list(cfg.readout_offsets) == [-20, -16, -12, -8, -4, 0, 4, 8, 12, 16, 20]
    np.testing.assert_array_equal(part_columns(("mouth",)), np.arange(63, 66))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"embedding": "wav2vec"}, "unknown speech embedding"),
        ({"embedding": "whisper", "phones": "viseme"}, "cannot be combined"),
        ({"embedding": "whisper", "input_dim": 30}, "input_dim must be 28 audio"),
        ({"embedding": "whisper", "readout_parts": ["lips"]}, "unknown readout part 'lips'"),
        ({"embedding": "whisper", "readout_stride_s": 0}, "readout_stride_s"),
    ],
)
def test_bad_configs_are_refused(overrides: dict, message: str) -> None:
    with pytest.raises(InputError, match=message):
        audio_to_pose_config(**overrides)


def test_inputs_need_the_audio() -> None:
    cfg = LSTMConfig.from_dict(audio_to_pose_config(embedding="whisper").to_dict())
    with pytest.raises(InputError, match="needs the audio itself"):
        model_inputs(cfg, np.zeros((10, 28), np.float32))


def test_the_lstm_trains_as_it_would_without_the_embedding() -> None:
    config = TrainConfig(epochs=1, batch_size=4, batches_per_epoch=2, window_s=1.0,
                         val_fraction=0.25, val_block_s=2.0, feature_noise=1.0,
                         progress=False)  # fmt: skip
    data = [_utterance(0), _utterance(1)]
    models = []
    for embedding, width in (("whisper", DIM), ("", 28)):
        torch.manual_seed(0)
        model = SequenceToPoseLSTM(audio_to_pose_config(embedding=embedding, hidden=8))
        utterances = [Utterance(u.features[:, :width], u.poses, u.fps, u.name) for u in data]
        train_lstm(model, PoseSequenceDataset(utterances), config)
        models.append(model)
    for name, tensor in models[1].lstm.state_dict().items():
        torch.testing.assert_close(models[0].lstm.state_dict()[name], tensor)
