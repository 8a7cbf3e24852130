"""Training the LSTM (paper §3.4): a smoke training on tiny data where the jaw follows volume."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from speech2video.errors import InputError
from speech2video.motion.lstm import SequenceToPoseLSTM, audio_to_pose_config
from speech2video.motion.training import (
    PoseSequenceDataset,
    TrainConfig,
    Utterance,
    train_lstm,
)


def jaw_follows_volume(seed: int, seconds: float = 6.0, fps: float = 25.0) -> Utterance:
    """Features with a smooth log-volume column; the jaw opens with the volume."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * 100)) / 100
    volume = sum(np.sin(2 * np.pi * f * t + rng.uniform(0, 6.3)) for f in rng.uniform(0.5, 3, 3))
    feats = (0.5 * rng.standard_normal((t.size, 28))).astype(np.float32)
    feats[:, 13] = 3 * volume - 20
    frames = np.arange(int(seconds * fps)) / fps
    poses = np.zeros((frames.size, 106), np.float32)
    poses[:, 63] = 0.1 * np.interp(frames, t, volume)
    return Utterance(feats, poses, fps, f"u{seed}")


def tiny_model(seed: int = 0) -> SequenceToPoseLSTM:
    torch.manual_seed(seed)
    return SequenceToPoseLSTM(audio_to_pose_config(hidden=32))


def quick_config(**overrides) -> TrainConfig:
    base = dict(
        epochs=10,
        batch_size=16,
        window_s=1.0,
        batches_per_epoch=8,
        learning_rate=3e-3,
        val_fraction=0.25,
        progress=False,
    )
    base.update(overrides)
    return TrainConfig(**base)


def test_paper_defaults() -> None:
    cfg = TrainConfig()
    assert (cfg.batch_size, cfg.learning_rate) == (100, 1e-3)


def test_loss_falls_and_the_jaw_learns_the_volume() -> None:
    dataset = PoseSequenceDataset([jaw_follows_volume(i) for i in range(4)])
    model = tiny_model()
    seen: list[tuple[int, dict[str, float]]] = []
    result = train_lstm(model, dataset, quick_config(), callback=lambda e, m: seen.append((e, m)))

    assert [e for e, _ in seen] == list(range(1, 11))
    for _, metrics in seen:
        assert {"loss", "loss_mouth", "loss_smoothness", "val_loss", "val_loss_mouth"} <= set(
            metrics
        )
        assert all(np.isfinite(v) for v in metrics.values())
    val = [m["val_loss"] for _, m in seen]
    assert val[-1] < 0.3 * val[0]
    assert result.best_epoch == int(np.argmin(val)) + 1
    assert result.best_loss == pytest.approx(min(val))
    assert len(result.history) == 10
    assert not model.training

    # the model holds the normalisation of its training data and predicts a new utterance
    assert result.stats is not None
    np.testing.assert_allclose(model.stats.mean, result.stats.mean)
    assert -21.0 < float(model.stats.mean[13]) < -19.0
    fresh = jaw_follows_volume(99)
    pred = model.predict(fresh.features, fresh.fps)
    n = min(len(pred), len(fresh.poses))
    assert np.corrcoef(pred[:n, 63], fresh.poses[:n, 63])[0, 1] > 0.5


def test_same_seed_same_weights_other_seed_other_weights() -> None:
    dataset = PoseSequenceDataset([jaw_follows_volume(i, seconds=3.0) for i in range(3)])
    cfg = quick_config(epochs=2, batches_per_epoch=3)
    a, b, c = tiny_model(), tiny_model(), tiny_model()
    train_lstm(a, dataset, cfg)
    train_lstm(b, dataset, cfg)
    train_lstm(c, dataset, quick_config(epochs=2, batches_per_epoch=3, seed=1))
    for (name, wa), wb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(wa, wb), name
    assert any(
        not torch.equal(wa, wc)
        for wa, wc in zip(a.state_dict().values(), c.state_dict().values(), strict=True)
    )


def test_split_by_utterance_or_in_time() -> None:
    many = PoseSequenceDataset([jaw_follows_volume(i, seconds=2.0) for i in range(10)])
    split = many.split(0.2, seed=0)
    assert (len(split.train), len(split.val)) == (8, 2)
    names = {u.name for u in split.train} | {u.name for u in split.val}
    assert len(names) == 10

    one = PoseSequenceDataset([jaw_follows_volume(0, seconds=4.0)])  # 100 frames, 400 steps
    split = one.split(0.25)
    train, val = split.train[0], split.val[0]
    assert (train.poses.shape[0], val.poses.shape[0]) == (75, 25)
    assert (train.features.shape[0], val.features.shape[0]) == (300, 100)
    assert one.split(0.0).val is None


def test_utterance_uses_only_frames_the_audio_covers() -> None:
    u = jaw_follows_volume(0, seconds=2.0)
    longer = Utterance(u.features[:150], u.poses, 25.0)  # 1.5 s of audio, 2 s of poses
    assert longer.usable_frames(100.0) == 38  # round(1.5 * 25)
    assert PoseSequenceDataset([longer]).num_frames == 38


def test_bad_training_input_is_named() -> None:
    u = jaw_follows_volume(0, seconds=1.0)
    with pytest.raises(InputError, match="at least one"):
        PoseSequenceDataset([])
    with pytest.raises(InputError, match="widths"):
        PoseSequenceDataset([u, Utterance(u.features[:, :20], u.poses, 25.0)])
    with pytest.raises(InputError, match="fps"):
        Utterance(u.features, u.poses, -1.0, "clip7")
    with pytest.raises(InputError, match="clip7: poses"):
        Utterance(u.features, u.poses[:, :100], 25.0, "clip7")
    with pytest.raises(InputError, match="val_fraction"):
        PoseSequenceDataset([u]).split(1.0)
    with pytest.raises(InputError, match="batch_size"):
        TrainConfig(batch_size=0)
    text_model = SequenceToPoseLSTM(audio_to_pose_config(input_dim=40, hidden=8))
    with pytest.raises(InputError, match="28-D"):
        train_lstm(text_model, PoseSequenceDataset([u]), quick_config(val_fraction=0.0))


def test_block_split_holds_out_blocks_spread_over_the_recording() -> None:
    one = PoseSequenceDataset([jaw_follows_volume(0, seconds=6.0)])  # 150 frames at 25 fps
    split = one.split_blocks(0.25, block_s=1.0, seed=0)  # 6 blocks of 25 frames, every 4th out
    held = sum(u.poses.shape[0] for u in split.val)
    kept = sum(u.poses.shape[0] for u in split.train)
    assert held + kept == 150 and 25 <= held <= 50
    assert len(split.val) >= 1 and len(split.train) >= 2  # the training stretch is cut around it
    source = one[0].poses
    for u in split.val:  # each held-out block is a contiguous piece of the recording
        f0 = int(u.name.split("[val")[1].split(":")[0])
        np.testing.assert_array_equal(u.poses, source[f0 : f0 + u.poses.shape[0]])
    with pytest.raises(InputError, match="shorter than two blocks"):
        one.split_blocks(0.25, block_s=10.0)
    # several utterances: blocks are counted over all of them, so ~1 in 4 is held out
    many = PoseSequenceDataset([jaw_follows_volume(i, seconds=2.0) for i in range(8)])
    split = many.split_blocks(0.25, block_s=1.0)  # 16 blocks of 25 frames
    assert sum(u.poses.shape[0] for u in split.val) == 4 * 25


def test_early_stopping_schedule_and_part_normalisation() -> None:
    dataset = PoseSequenceDataset([jaw_follows_volume(i) for i in range(4)])
    model = tiny_model()
    cfg = quick_config(
        epochs=40,
        patience=3,
        lr_schedule="plateau",
        lr_patience=1,
        target_normalization="part",
        feature_noise=0.1,
        weight_decay=0.01,
    )
    result = train_lstm(model, dataset, cfg)
    epochs = len(result.history)
    assert epochs < 40 and epochs - result.best_epoch == 3  # stopped 3 epochs after the best
    lrs = [m["lr"] for m in result.history]
    assert lrs[0] == pytest.approx(3e-3) and min(lrs) < lrs[0]  # the plateau schedule acted
    # the model predicts raw poses: its output scale is the jaw's spread, not 1
    jaw_std = float(np.concatenate([u.poses[:, 63] for u in dataset.utterances]).std())
    assert 0.3 * jaw_std < float(model.output_std[63]) < 3 * jaw_std
    fresh = jaw_follows_volume(99)
    pred = model.predict(fresh.features, fresh.fps)
    n = min(len(pred), len(fresh.poses))
    assert np.corrcoef(pred[:n, 63], fresh.poses[:n, 63])[0, 1] > 0.5


def test_group_scales_share_one_scale_per_part() -> None:
    from speech2video.motion.training import group_scales

    poses = np.zeros((50, 106), np.float32)
    poses[:, 63] = np.linspace(-1, 1, 50)  # only jaw x moves in the mouth group
    scale = group_scales(poses)
    expected = np.sqrt(np.square(poses[:, 63].std()) / 3)
    np.testing.assert_allclose(scale[63:66], expected, rtol=1e-5)
    assert np.all(scale[:63] == 1.0)  # a still part stays unscaled
    with pytest.raises(InputError, match="lr_schedule"):
        TrainConfig(lr_schedule="step")
    with pytest.raises(InputError, match="target_normalization"):
        TrainConfig(target_normalization="column")


def test_shrinkage_keeps_a_learned_part_and_stills_an_unpredictable_one() -> None:
    from speech2video.motion.calibration import apply_shrinkage, part_shrinkage

    rng = np.random.default_rng(0)
    utts = []
    for i in range(3):
        u = jaw_follows_volume(i, seconds=4.0)
        poses = u.poses.copy()
        poses[:, :63] = rng.normal(0, 0.1, (poses.shape[0], 63))  # body: noise, unpredictable
        utts.append(Utterance(u.features, poses, u.fps, u.name))
    held = PoseSequenceDataset(utts)
    mean = np.concatenate([u.poses for u in utts]).mean(axis=0)

    class Oracle(SequenceToPoseLSTM):  # jaw right, body moving at random
        def predict(self, features, fps):
            n = round(features.shape[0] * fps / 100)
            out = np.tile(mean, (n, 1)).astype(np.float32)
            for u in utts:
                if u.features.shape == features.shape and np.array_equal(u.features, features):
                    out[:, 63] = u.poses[:n, 63]
            out[:, :63] = rng.normal(0, 0.1, (n, 63))
            return out

    model = Oracle(audio_to_pose_config(hidden=8))
    alphas = part_shrinkage(model, held, mean)
    assert alphas["mouth"] == pytest.approx(1.0, abs=0.05)
    assert alphas["body"] < 0.1
    base = SequenceToPoseLSTM(audio_to_pose_config(hidden=8))
    x = utts[0].features
    raw = base.predict(x, 25.0)
    apply_shrinkage(base, {"body": 0.5}, mean)
    out = base.predict(x, 25.0)
    np.testing.assert_allclose(out[:, :63], mean[:63] + 0.5 * (raw[:, :63] - mean[:63]), atol=1e-5)
    np.testing.assert_allclose(out[:, 63:], raw[:, 63:], atol=1e-6)


def test_phone_columns_keep_their_scale_and_get_no_noise() -> None:
    u = jaw_follows_volume(0)
    steps = u.features.shape[0]
    phones = np.zeros((steps, 15), np.float32)
    phones[np.arange(steps), (np.arange(steps) // 37) % 15] = 1.0  # a rare column each
    data = PoseSequenceDataset([Utterance(np.concatenate([u.features, phones], 1), u.poses, 25.0)])
    torch.manual_seed(0)
    model = SequenceToPoseLSTM(audio_to_pose_config(hidden=8, phones="viseme"))
    seen: list[torch.Tensor] = []
    model.register_forward_pre_hook(lambda _m, args: seen.append(args[0].detach().clone()))
    train_lstm(model, data, quick_config(epochs=1, batches_per_epoch=1, feature_noise=1.0))
    np.testing.assert_array_equal(model.input_mean[28:].numpy(), np.zeros(15))
    np.testing.assert_array_equal(model.input_std[28:].numpy(), np.ones(15))
    assert float(model.input_std[13]) > 1.0  # the audio columns are normalised as before
    noisy = seen[0]  # the training batch: noise on the audio columns only
    assert set(torch.unique(noisy[..., 28:]).tolist()) <= {0.0, 1.0}
    assert not set(torch.unique(noisy[..., :28]).tolist()) <= {0.0, 1.0}
