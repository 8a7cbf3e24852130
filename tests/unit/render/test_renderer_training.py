"""Renderer training: config round trip and validation, a tiny smoke training whose L1 falls,
checkpoints, resume, sample grids and data errors."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from speech2video.errors import InputError
from speech2video.render import checkpoint as ckpt
from speech2video.render.palette import FACE, LEFT_HAND_CIRCLE, RIGHT_HAND_CIRCLE
from speech2video.render.part_boxes import part_masks
from speech2video.render.renderer_config import PRESETS, RendererConfig, load_config, preset
from speech2video.render.renderer_data import RendererDataset, collate, write_sequence
from speech2video.render.renderer_training import train_renderer


def synthetic_sequence(frames: int = 4, size: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """Skeleton images with a moving face and hands, and "real" frames that depend on them."""
    skels, reals = [], []
    for t in range(frames):
        s = np.zeros((size, size, 3), np.uint8)
        cx = size // 2 + t
        cv2.line(s, (cx, size // 4), (cx, size - 4), (200, 180, 60), 2)
        cv2.circle(s, (cx, size // 5), size // 8, FACE, -1)
        cv2.circle(s, (cx - size // 3, size // 2 + t), size // 12, LEFT_HAND_CIRCLE, -1)
        cv2.circle(s, (cx + size // 3 - 2, size // 2 - t), size // 12, RIGHT_HAND_CIRCLE, -1)
        r = np.full_like(s, 60)
        r[s.any(-1)] = (s[s.any(-1)] // 2 + 100).astype(np.uint8)
        skels.append(s)
        reals.append(cv2.GaussianBlur(r, (3, 3), 0))
    return np.stack(skels), np.stack(reals)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("render_data")
    skels, reals = synthetic_sequence()
    write_sequence(root / "seq0", skels, reals)
    return root


def tiny(steps: int, **training: object) -> RendererConfig:
    cfg = preset("tiny").with_steps(steps)
    return dataclasses.replace(cfg, training=dataclasses.replace(cfg.training, **training))


def test_presets_round_trip_through_json(tmp_path: Path) -> None:
    for name, cfg in PRESETS.items():
        assert RendererConfig.from_json(cfg.to_json()) == cfg, name
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"preset": "tiny", "training": {"steps": 7}}))
    loaded = load_config(path)
    assert loaded.training.steps == 7 and loaded.generator == PRESETS["tiny"].generator


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        ({"generator": {"width": 0}}, "generator.width"),
        ({"generator": {"colour": 3}}, "colour"),
        ({"loss": {"gan_mode": "wgan"}}, "gan_mode"),
        ({"training": {"sequence_length": 1}}, "sequence_length"),
        ({"training": {"crop": 30}}, "crop"),
        ({"training": {"part_focus": 1.5}}, "part_focus"),
        ({"training": {"steps": "many"}}, "training.steps"),
        ({"preset": "huge"}, "huge"),
        ([1, 2], "object"),
    ],
)
def test_bad_config_is_input_error(data: object, needle: str) -> None:
    with pytest.raises(InputError, match=needle):
        RendererConfig.from_json(json.dumps(data))


def test_unknown_config_name_is_input_error() -> None:
    with pytest.raises(InputError, match="neither a preset"):
        load_config("no-such-config")


def test_missing_data_dir_is_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        train_renderer(tmp_path / "absent", tmp_path / "out", tiny(1), progress=False)
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no sequence"):
        train_renderer(tmp_path / "empty", tmp_path / "out", tiny(1), progress=False)


def test_dataset_windows_and_crop(data_dir: Path) -> None:
    ds = RendererDataset(data_dir, sequence_length=3, crop=16)
    assert len(ds) == 2
    sample = ds[1]
    assert sample.skeletons.shape == sample.frames.shape == (3, 3, 16, 16)
    assert sample.frames.min() >= -1 and sample.frames.max() <= 1


def test_dataset_keeps_only_the_sequences_named(data_dir: Path, tmp_path: Path) -> None:
    assert len(RendererDataset(data_dir, 3, sequences=["seq0"]).sequences) == 1
    with pytest.raises(InputError, match=r"no sequence folder for \['held'\]"):
        RendererDataset(data_dir, 3, sequences=["seq0", "held"])
    write_sequence(tmp_path / "seq0", *synthetic_sequence())
    write_sequence(tmp_path / "seq1", *synthetic_sequence())
    assert len(RendererDataset(tmp_path, 3, sequences=["seq1"]).sequences) == 1
    assert len(RendererDataset(tmp_path, 3).sequences) == 2


def test_part_focused_crops_hold_a_part(tmp_path: Path) -> None:
    """Small parts in a large frame: focused crops always hold one, uniform crops seldom do."""
    size, frames = 128, 3
    skels = np.zeros((frames, size, size, 3), np.uint8)
    for t in range(frames):
        cv2.circle(skels[t], (12 + t, 14), 4, FACE, -1)
        cv2.circle(skels[t], (110, 100 + t), 3, LEFT_HAND_CIRCLE, -1)
        cv2.circle(skels[t], (20, 112), 3, RIGHT_HAND_CIRCLE, -1)
    write_sequence(tmp_path / "seq", skels, skels)
    torch.manual_seed(0)

    def share_with_part(part_focus: float) -> float:
        ds = RendererDataset(tmp_path, sequence_length=2, crop=16, part_focus=part_focus)
        hits = 0
        for i in range(60):
            crop = ((ds[i % len(ds)].skeletons[0] + 1) * 127.5).round().to(torch.uint8)
            hits += bool(part_masks(crop[None]).any())
        return hits / 60

    assert share_with_part(1.0) == 1.0
    assert share_with_part(0.0) < 0.5
    with pytest.raises(InputError, match="part_focus"):
        RendererDataset(tmp_path, sequence_length=2, crop=16, part_focus=2.0)


def test_tiny_training_reduces_l1_and_writes_outputs(data_dir: Path, tmp_path: Path) -> None:
    history: list[tuple[int, dict[str, float]]] = []
    result = train_renderer(
        data_dir,
        tmp_path / "ckpt",
        tiny(15, checkpoint_every=100, sample_every=15),
        callback=lambda s, m: history.append((s, m)),
        progress=False,
    )
    assert result.step == 15 and [s for s, _ in history] == list(range(1, 16))
    l1 = [m["l1"] for _, m in history]
    assert np.mean(l1[-5:]) < 0.7 * np.mean(l1[:3]), l1
    first = history[0][1]
    assert first["parts_found"] == 1.0
    for key in ("g_gan", "g_flow_warp", "g_temporal", "g_face", "g_hands", "d_total"):
        assert np.isfinite(first[key]) and first[key] != 0.0, key
    assert ckpt.has_training_checkpoint(tmp_path / "ckpt")
    grid = cv2.imread(str(tmp_path / "ckpt" / "samples" / "step_0000015.png"))
    assert grid.shape == (3 * 32, 3 * 32, 3)


def test_bf16_on_the_cpu_is_opt_in_and_still_learns(data_dir: Path) -> None:
    """``training.bf16_cpu`` turns CPU autocast on (off by default); the L1 falls as in fp32."""
    from speech2video.render.renderer_training import RendererTrainer

    cpu = torch.device("cpu")
    assert not RendererTrainer(tiny(1), cpu).autocast
    trainer = RendererTrainer(tiny(1, bf16_cpu=True), cpu)
    assert trainer.autocast
    batch = collate([RendererDataset(data_dir, 3)[0]])
    l1 = []
    for _ in range(15):
        metrics, fake = trainer.step(batch.skeletons, batch.frames)
        l1.append(metrics["l1"])
    assert fake.dtype == torch.float32 and np.isfinite(l1).all()
    assert np.mean(l1[-5:]) < 0.7 * np.mean(l1[:3]), l1


def test_resume_continues_step_count_and_optimizer(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "ckpt"
    train_renderer(data_dir, out, tiny(3, checkpoint_every=100), progress=False)
    state = torch.load(out / ckpt.TRAINING_STATE_FILE, weights_only=True)
    assert state["step"] == 3
    adam_steps = {float(s["step"]) for s in state["optimizer_generator"]["state"].values()}
    assert adam_steps == {3.0}

    steps: list[int] = []
    result = train_renderer(
        data_dir,
        out,
        tiny(5, checkpoint_every=100),
        callback=lambda s, m: steps.append(s),
        progress=False,
    )
    assert steps == [4, 5] and result.step == 5
    state = torch.load(out / ckpt.TRAINING_STATE_FILE, weights_only=True)
    adam_steps = {float(s["step"]) for s in state["optimizer_generator"]["state"].values()}
    assert state["step"] == 5 and adam_steps == {5.0}  # restored, not restarted (would be 2)
    assert state["metrics"] == pytest.approx(result.metrics)
    again = train_renderer(data_dir, out, tiny(5, checkpoint_every=100), progress=False)
    assert again.step == 5 and again.metrics == pytest.approx(result.metrics)  # nothing to train
    assert again.metrics["l1"] > 0


def test_resume_with_another_model_config_is_refused(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "ckpt"
    train_renderer(data_dir, out, tiny(1), progress=False)
    other = dataclasses.replace(
        tiny(2), generator=dataclasses.replace(PRESETS["tiny"].generator, width=4)
    )
    with pytest.raises(InputError, match="another generator"):
        train_renderer(data_dir, out, other, progress=False)


def test_a_plate_travels_with_each_crop_and_the_generator_learns_over_it(tmp_path: Path) -> None:
    """A still background plate in the data: every sample carries the plate's crop under its
    window (the same crop as the frames), and a generator trained over it starts from the
    plate and keeps it in its checkpoint."""
    from speech2video.render.renderer_data import BACKGROUND_FILE, read_rgb

    skels, reals = synthetic_sequence(frames=6)
    write_sequence(tmp_path / "data" / "seq0", skels, reals)
    plate = np.median(reals, axis=0).astype(np.uint8)
    cv2.imwrite(str(tmp_path / "data" / BACKGROUND_FILE), plate[:, :, ::-1])
    dataset = RendererDataset(tmp_path / "data", sequence_length=3, crop=16)
    assert np.array_equal(dataset.background, read_rgb(tmp_path / "data" / BACKGROUND_FILE))
    torch.manual_seed(3)
    sample = dataset[1]
    full = torch.from_numpy(plate).permute(2, 0, 1).float() / 127.5 - 1
    hits = [
        (y, x)
        for y in range(17)
        for x in range(17)
        if torch.equal(full[:, y : y + 16, x : x + 16], sample.background)
    ]
    assert hits, "the plate crop is not a crop of the plate"
    frame = torch.from_numpy(reals[1]).permute(2, 0, 1).float() / 127.5 - 1
    assert any(torch.equal(frame[:, y : y + 16, x : x + 16], sample.frames[0]) for y, x in hits)

    from pipelines.train_renderer import with_plate

    config = with_plate(tiny(8, checkpoint_every=100), tmp_path / "data")
    assert (config.generator.background_height, config.generator.background_width) == (32, 32)
    result = train_renderer(tmp_path / "data", tmp_path / "ckpt", config, progress=False)
    loaded = ckpt.load_renderer(tmp_path / "ckpt").generator
    assert result.step == 8 and loaded.config.has_background
    moved = loaded.background.squeeze(0) - full
    assert float(moved.abs().max()) < 1e-6  # the plate is data, not a trained weight
