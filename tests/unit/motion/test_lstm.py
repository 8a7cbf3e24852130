"""The sequence-to-pose LSTM (paper §3.4): architecture, 200 ms delay, alignment, save/load."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from speech2video.audio.features import compute_features
from speech2video.errors import InputError, NotFoundError
from speech2video.motion.lstm import (
    LSTMConfig,
    SequenceToPoseLSTM,
    audio_to_pose_config,
    frame_steps,
    num_output_frames,
)
from speech2video.motion.normalization import FeatureStats, feature_stats


def small_model(seed: int = 0, **overrides: float | int) -> SequenceToPoseLSTM:
    torch.manual_seed(seed)
    return SequenceToPoseLSTM(audio_to_pose_config(hidden=16, **overrides)).eval()


def random_features(steps: int, dim: int = 28, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((steps, dim)).astype(np.float32)


def test_defaults_are_the_papers_numbers() -> None:
    cfg = LSTMConfig()
    assert (cfg.input_dim, cfg.hidden, cfg.layers, cfg.output_dim) == (28, 300, 2, 106)
    assert (cfg.delay_s, cfg.input_rate, cfg.delay_steps) == (0.2, 100.0, 20)
    model = SequenceToPoseLSTM(cfg)
    assert model.lstm.hidden_size == 300
    assert model.lstm.num_layers == 2
    assert not model.lstm.bidirectional
    assert model.head.out_features == 106
    assert audio_to_pose_config() == cfg


def test_frame_steps_map_frames_to_delayed_input_steps() -> None:
    cfg = LSTMConfig()
    np.testing.assert_array_equal(frame_steps(4, 25.0, cfg), [20, 24, 28, 32])
    np.testing.assert_array_equal(frame_steps(4, 30.0, cfg), [20, 23, 27, 30])
    np.testing.assert_array_equal(frame_steps(3, 60.0, cfg), [20, 22, 23])
    assert num_output_frames(100, 25.0, 100.0) == 25
    assert num_output_frames(100, 29.97, 100.0) == 30
    assert num_output_frames(6000, 30.0, 100.0) == 1800


@pytest.mark.parametrize(("steps", "fps", "frames"), [(100, 25.0, 25), (101, 30.0, 30), (7, 60, 4)])
def test_predict_length_follows_duration(steps: int, fps: float, frames: int) -> None:
    out = small_model().predict(random_features(steps), fps)
    assert out.shape == (frames, 106)
    assert out.dtype == np.float32


def test_output_looks_200_ms_ahead_and_never_further() -> None:
    model = small_model()
    x = random_features(100)
    base = model.predict(x, 25.0)
    x2 = x.copy()
    x2[50] += 5.0  # the input at 0.50 s
    changed = np.abs(model.predict(x2, 25.0) - base).max(axis=1) > 0.0
    # frame i is read at step 4 i + 20: frames 0..7 (steps <= 48) cannot see step 50,
    # frame 8 (t = 0.32 s, step 52) already does: a 200 ms look-ahead
    assert not changed[:8].any()
    assert changed[8:12].all()


def test_end_is_padded_with_the_training_mean() -> None:
    model = small_model()
    stats = FeatureStats(np.full(28, 0.5, np.float32), np.full(28, 2.0, np.float32))
    model.set_normalization(stats)
    x = random_features(40)
    out = model.predict(x, 25.0)  # 10 frames, last read at step 36 + 20 = 56
    padded = np.concatenate([x, np.full((17, 28), 0.5, np.float32)])
    with torch.inference_mode():
        full = model(torch.from_numpy(padded)[None]).poses[0].numpy()
    np.testing.assert_allclose(out, full[frame_steps(10, 25.0, model.config)], atol=1e-6)


def test_input_is_normalised_and_output_is_not() -> None:
    model = small_model()
    mean = np.linspace(-1, 1, 28).astype(np.float32)
    std = np.linspace(0.5, 3, 28).astype(np.float32)
    x = random_features(60)
    reference = model.predict((x - mean) / std, 25.0)
    model.set_normalization(FeatureStats(mean, std))
    np.testing.assert_allclose(model.predict(x, 25.0), reference, atol=1e-5)
    with torch.no_grad():
        model.head.bias.fill_(7.0)
        model.head.weight.zero_()
    np.testing.assert_array_equal(model.predict(x, 25.0), 7.0)


def test_feature_stats_floor_constant_columns() -> None:
    x = random_features(50)
    x[:, 3] = 2.5
    stats = feature_stats([x[:20], x[20:]])
    np.testing.assert_allclose(stats.mean, x.mean(0), atol=1e-6)
    assert stats.std[3] == 1.0
    np.testing.assert_allclose(stats.normalize(x).std(0)[:3], 1.0, atol=1e-5)


def test_generic_input_dim_for_a_text_model() -> None:
    torch.manual_seed(0)
    model = SequenceToPoseLSTM(LSTMConfig(input_dim=64, hidden=8, input_rate=50.0)).eval()
    assert model.predict(random_features(50, dim=64), 25.0).shape == (25, 106)
    with pytest.raises(InputError, match=r"\(T, 64\)"):
        model.predict(random_features(50, dim=28), 25.0)


def test_silence_gives_finite_poses() -> None:
    feats = compute_features(np.zeros(16_000, np.float32))
    model = small_model()
    model.set_normalization(feature_stats([random_features(200) * 10.0]))
    poses = model.predict(feats, 30.0)
    assert poses.shape == (30, 106)
    assert np.all(np.isfinite(poses))


def test_save_load_round_trip_without_pickle(tmp_path) -> None:
    from safetensors.torch import load_file

    model = small_model(seed=3)
    model.set_normalization(FeatureStats(np.full(28, 0.25, np.float32), np.full(28, 3, np.float32)))
    model.save(tmp_path / "m")
    meta = json.loads((tmp_path / "m" / "config.json").read_text())
    assert meta["config"]["hidden"] == 16
    tensors = load_file(str(tmp_path / "m" / "weights.safetensors"))
    assert {"input_mean", "input_std", "head.weight", "lstm.weight_hh_l1"} <= set(tensors)
    loaded = SequenceToPoseLSTM.load(tmp_path / "m")
    assert loaded.config == model.config
    assert not loaded.training
    x = random_features(80)
    np.testing.assert_array_equal(loaded.predict(x, 25.0), model.predict(x, 25.0))


def test_load_refuses_missing_or_wrong_files(tmp_path) -> None:
    with pytest.raises(NotFoundError, match=r"config\.json"):
        SequenceToPoseLSTM.load(tmp_path / "nothing")
    small_model().save(tmp_path / "m")
    meta = json.loads((tmp_path / "m" / "config.json").read_text())
    meta["config"]["hiden"] = 3
    (tmp_path / "m" / "config.json").write_text(json.dumps(meta))
    with pytest.raises(InputError, match="hiden"):
        SequenceToPoseLSTM.load(tmp_path / "m")
    meta["config"].pop("hiden")
    meta["config"]["hidden"] = 17
    (tmp_path / "m" / "config.json").write_text(json.dumps(meta))
    with pytest.raises(InputError, match="shape"):
        SequenceToPoseLSTM.load(tmp_path / "m")
    (tmp_path / "m" / "weights.safetensors").write_bytes(b"not a tensor file")
    with pytest.raises(InputError, match="safetensors"):
        SequenceToPoseLSTM.load(tmp_path / "m")


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [({"hidden": 0}, "hidden"), ({"delay_s": -0.1}, "delay_s"), ({"input_rate": 0}, "input_rate")],
)
def test_bad_config_names_the_field(kwargs: dict, needle: str) -> None:
    with pytest.raises(InputError, match=needle):
        LSTMConfig(**kwargs)


def test_bad_predict_input_is_refused() -> None:
    model = small_model()
    with pytest.raises(InputError, match="fps"):
        model.predict(random_features(10), 0.0)
    bad = random_features(10)
    bad[3, 2] = np.nan
    with pytest.raises(InputError, match="NaN"):
        model.predict(bad, 25.0)
    with pytest.raises(InputError, match="columns"):
        model.set_normalization(FeatureStats.identity(5))


def test_output_normalisation_round_trips_and_old_checkpoints_load(tmp_path) -> None:
    model = small_model(dropout=0.3)
    x = random_features(50)
    raw = model.predict(x, 25.0)
    mean, std = np.linspace(0, 1, 106), np.full(106, 0.5)
    model.set_output_normalization(mean, std)
    np.testing.assert_allclose(model.predict(x, 25.0), raw * 0.5 + mean, atol=1e-5)
    model.save(tmp_path / "new")
    back = SequenceToPoseLSTM.load(tmp_path / "new")
    assert back.config.dropout == 0.3
    np.testing.assert_allclose(back.predict(x, 25.0), model.predict(x, 25.0), atol=1e-6)
    # a checkpoint written before the output buffers existed loads as identity
    from safetensors.torch import load_file, save_file

    state = load_file(str(tmp_path / "new" / "weights.safetensors"))
    del state["output_mean"], state["output_std"]
    save_file(state, str(tmp_path / "new" / "weights.safetensors"))
    old = SequenceToPoseLSTM.load(tmp_path / "new")
    np.testing.assert_allclose(old.predict(x, 25.0), raw, atol=1e-5)
    with pytest.raises(InputError, match="dropout"):
        LSTMConfig(dropout=1.0)
    with pytest.raises(InputError, match="std finite and > 0"):
        model.set_output_normalization(mean, np.zeros(106))


def test_phonetic_input_widens_the_model_and_round_trips(tmp_path) -> None:
    cfg = audio_to_pose_config(hidden=8, phones="viseme")
    assert (cfg.input_dim, cfg.phone_dim) == (28 + 15, 15)
    assert audio_to_pose_config(phones="cmu").input_dim == 68
    assert "phones" not in audio_to_pose_config().to_dict()  # older readers load plain models
    model = SequenceToPoseLSTM(cfg).eval()
    model.save(tmp_path / "m")
    back = SequenceToPoseLSTM.load(tmp_path / "m")
    assert back.config.phones == "viseme" and back.config.input_dim == 43
    with pytest.raises(InputError, match="phone set"):
        LSTMConfig(input_dim=60, phones="ipa")
    with pytest.raises(InputError, match="no audio columns"):
        LSTMConfig(input_dim=15, phones="viseme")


def test_model_inputs_append_phones_and_need_words() -> None:
    from speech2video.audio.io import Audio
    from speech2video.motion.lstm import model_inputs
    from speech2video.motion.words import Word

    audio = Audio(np.zeros(16_000, np.float32), 16_000)
    feats = random_features(100)
    plain = audio_to_pose_config()
    assert model_inputs(plain, feats) is not None and model_inputs(plain, feats).shape == (100, 28)
    cfg = audio_to_pose_config(phones="viseme")
    with pytest.raises(InputError, match="timed words"):
        model_inputs(cfg, feats, audio)
    rows = model_inputs(cfg, feats, audio, [Word("mama", 0.2, 0.6)])
    assert rows.shape == (100, 43)
    np.testing.assert_array_equal(rows[:, :28], feats)
    np.testing.assert_array_equal(rows[:, 28:].sum(axis=1), np.ones(100))
    assert rows[5, 28] == 1.0 and rows[30:50, 28].sum() < 20  # silence, then the word's visemes


def test_serving_refuses_a_phonetic_model_without_words() -> None:
    from speech2video.audio.io import Audio
    from speech2video.motion.words import Word
    from speech2video.synthesis import poses_from_audio

    audio = Audio(np.zeros(8_000, np.float32), 16_000)
    torch.manual_seed(0)
    model = SequenceToPoseLSTM(audio_to_pose_config(hidden=8, phones="cmu")).eval()
    with pytest.raises(InputError, match="'cmu' phonetic input"):
        poses_from_audio(model, audio, 25.0)
    assert poses_from_audio(model, audio, 25.0, [Word("hi", 0.1, 0.3)]).shape == (13, 106)
    assert poses_from_audio(small_model(), audio, 25.0).shape == (13, 106)  # words not needed
