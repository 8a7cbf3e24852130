"""The part refiner (render/part_refiner.py, part_refiner_training.py): crops in and out, the
exemplar bank, learning on synthetic hands, checkpoints, and the streaming renderer using it."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from speech2video.errors import InputError
from speech2video.render.generator import Vid2VidGenerator
from speech2video.render.palette import LEFT_HAND_CIRCLE, RIGHT_HAND_CIRCLE
from speech2video.render.part_boxes import crop_boxes
from speech2video.render.part_refiner import (
    EXEMPLARS_FILE,
    REFINER_WEIGHTS_FILE,
    ExemplarBank,
    PartRefinement,
    PartRefinerConfig,
    PartRefinerNet,
    feather_window,
    load_part_refinement,
    paste_crops,
    save_part_refinement,
    warp,
)
from speech2video.render.part_refiner_training import (
    RefinerTraining,
    collect_part_samples,
    train_part_refiner,
)
from speech2video.render.renderer_config import preset
from speech2video.render.renderer_data import to_tensor, to_uint8
from speech2video.render.renderer_inference import InferenceOptions, StreamingRenderer

SIZE = 64
CONFIG = PartRefinerConfig(crop=32, width=8, descriptor=8)


def _stripes(size: int, vertical: bool) -> np.ndarray:
    """(size, size, 3) uint8 high-contrast stripes, 2 px wide."""
    idx = np.arange(size)
    band = ((idx // 2) % 2).astype(np.uint8) * 200 + 30
    tile = np.broadcast_to(band[None, :] if vertical else band[:, None], (size, size))
    return np.repeat(tile[..., None], 3, axis=-1).copy()


def synthetic_hands(frames: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(skeletons, real, generated), each (T, 64, 64, 3) uint8: a left-hand disc at a random
    place with its forearm from the left or the right; the real hand is a striped patch whose
    stripes follow the arm's side; the generated frame is the real one blurred (no stripes)."""
    rng = np.random.default_rng(seed)
    sk, real, gen = [], [], []
    for _ in range(frames):
        s = np.zeros((SIZE, SIZE, 3), np.uint8)
        cx, cy = (int(v) for v in rng.integers(20, 44, 2))
        from_left = bool(rng.integers(2))
        cv2.line(s, (cx, cy), (0 if from_left else SIZE - 1, cy + 10), (200, 180, 60), 2)
        cv2.circle(s, (cx, cy), 4, LEFT_HAND_CIRCLE, -1)
        r = np.full_like(s, 90)
        patch = _stripes(12, vertical=from_left)
        r[cy - 6 : cy + 6, cx - 6 : cx + 6] = patch
        sk.append(s)
        real.append(r)
        gen.append(cv2.GaussianBlur(r, (9, 9), 0))
    return np.stack(sk), np.stack(real), np.stack(gen)


def test_paste_puts_a_crop_back_where_it_came_from() -> None:
    frames = torch.rand(2, 3, 40, 50)
    boxes = torch.tensor([[10.0, 5.0, 30.0, 25.0], [0.0, 10.0, 20.0, 30.0]])
    crops = crop_boxes(frames, boxes[:, None], 20)[:, 0]
    pasted = paste_crops(torch.zeros_like(frames), crops, boxes, torch.ones(2, 1, 20, 20))
    # one pixel per output pixel: the box's interior comes back unchanged
    assert torch.allclose(pasted[0, :, 6:24, 11:29], frames[0, :, 6:24, 11:29], atol=1e-5)
    assert torch.allclose(pasted[1, :, 11:29, 1:19], frames[1, :, 11:29, 1:19], atol=1e-5)
    assert pasted[0, :, 30:, :].abs().max() == 0  # outside the box: the frame as it was


def test_paste_samples_only_the_box_and_matches_a_whole_frame_paste() -> None:
    """The pasting samples only the box (and the half crop pixel its bilinear reach adds), yet
    gives what sampling the crop over the whole frame gives."""
    gen = torch.Generator().manual_seed(0)
    frames = torch.rand(3, 3, 48, 64, generator=gen) * 2 - 1
    crops = torch.rand(3, 3, 16, 16, generator=gen) * 2 - 1
    weight = feather_window(16, 0.3)[None, None].expand(3, 1, -1, -1)
    boxes = torch.tensor(
        [[10.3, 4.7, 31.9, 26.3], [-6.0, 30.0, 14.0, 50.0], [50.5, 1.0, 70.5, 21.0]]
    )
    xs, ys = torch.arange(64) + 0.5, torch.arange(48) + 0.5
    x0, y0, x1, y1 = boxes.unbind(-1)
    gx = (xs[None] - x0[:, None]) / (x1 - x0)[:, None] * 2 - 1
    gy = (ys[None] - y0[:, None]) / (y1 - y0)[:, None] * 2 - 1
    grid = torch.stack((gx[:, None, :].expand(3, 48, 64), gy[:, :, None].expand(3, 48, 64)), -1)
    sampled = torch.nn.functional.grid_sample(
        torch.cat((crops, weight), 1), grid, align_corners=False
    )
    expected = sampled[:, 3:] * sampled[:, :3] + (1 - sampled[:, 3:]) * frames
    pasted = paste_crops(frames.clone(), crops, boxes, weight)
    assert torch.allclose(pasted, expected, atol=1e-5)


def test_feather_window_is_one_inside_and_falls_to_the_border() -> None:
    w = feather_window(20, 0.3)
    assert w[10, 10] == 1.0 and w[0, 0] < 0.05 and w[0, 10] < 0.2
    assert torch.allclose(w[:, :10], w[:, 10:].flip(-1))


def test_bank_picks_the_nearest_exemplar_outside_the_excluded_frames() -> None:
    desc = torch.tensor([[0.0], [0.1], [1.0], [5.0]])
    bank = ExemplarBank(
        crops=torch.zeros(4, 3, 4, 4, dtype=torch.uint8),
        skeletons=torch.zeros(4, 3, 4, 4, dtype=torch.uint8),
        descriptors=desc,
        part=torch.tensor([1, 1, 1, 2]),
        sequence=torch.tensor([0, 0, 1, 0]),
        frame=torch.tensor([0, 3, 0, 1]),
    )
    assert bank.nearest(torch.tensor([[0.05], [4.0]]), part=1).tolist() == [0, 2]
    # frame 0 of sequence 0 may not pick frames 0..5 of its own sequence: the next is seq 1's
    exclude = (torch.tensor([0]), torch.tensor([0]), 5)
    assert bank.nearest(torch.tensor([[0.0]]), 1, exclude).tolist() == [2]
    # a part with nothing in the bank is refused by name
    with pytest.raises(InputError, match="no face crops"):
        bank.nearest(torch.tensor([[0.0]]), part=0)


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        ({"parts": ["tail"]}, "part_refiner.parts"),
        ({"crop": 30}, "multiple of 4"),
        ({"descriptor": 1}, "descriptor"),
        ({"feather": 0}, "feather"),
        ({"head": "paint"}, "part_refiner.head"),
        ({"colour": 1}, "unknown part_refiner keys"),
    ],
)
def test_bad_config_is_refused_by_name(data: dict, needle: str) -> None:
    with pytest.raises(InputError, match=needle):
        PartRefinerConfig.from_dict(data)


def test_warp_moves_pixels_by_the_flow() -> None:
    images = torch.rand(2, 3, 8, 8)
    assert torch.allclose(warp(images, torch.zeros(2, 2, 8, 8)), images, atol=1e-6)
    flow = torch.zeros(2, 2, 8, 8)
    flow[:, 0] = 2.0 / 8  # one pixel to the right: each pixel reads its right neighbour
    assert torch.allclose(warp(images, flow)[..., :7], images[..., 1:], atol=1e-6)


@pytest.mark.parametrize("head", ["warp", "synthesis"])
def test_refiner_learns_hands_it_has_not_seen(head: str) -> None:
    config = dataclasses.replace(CONFIG, head=head)
    train = [synthetic_hands(40, seed) for seed in (0, 1)]
    samples = collect_part_samples(train, config)
    assert len(samples) == 80 and set(samples.part.tolist()) == {1}
    refinement, curve = train_part_refiner(
        samples, config, RefinerTraining(steps=200, batch_size=8, lr=3e-3, exclude_frames=2)
    )
    assert curve[-1]["l1"] < 0.8 * curve[0]["l1"], curve
    # unseen frames: the refined hands are nearer the real ones than the generator's
    sk, real, gen = synthetic_hands(12, seed=7)
    refined = to_uint8(refinement.refine(to_tensor(gen), to_tensor(sk)))
    box = np.s_[:, 14:50, 14:50]  # where every hand lies
    before = np.abs(gen[box].astype(float) - real[box]).mean()
    after = np.abs(refined[box].astype(float) - real[box]).mean()
    assert after < 0.75 * before, (before, after)
    # away from the hands the frame is left as it was
    assert np.array_equal(refined[:, :4], gen[:, :4])


def test_frames_without_parts_pass_through_and_shapes_are_checked() -> None:
    bank = ExemplarBank(
        torch.zeros(1, 3, 32, 32, dtype=torch.uint8),
        torch.zeros(1, 3, 32, 32, dtype=torch.uint8),
        torch.zeros(1, 3 * 8 * 8),
        torch.tensor([1]),
    )
    refinement = PartRefinement(CONFIG, PartRefinerNet(CONFIG.width, CONFIG.head), bank)
    frames = torch.rand(2, 3, 16, 16) * 2 - 1
    assert torch.equal(refinement.refine(frames, -torch.ones_like(frames)), frames)
    with pytest.raises(InputError, match=r"\(B, 3, H, W\)"):
        refinement.refine(frames, frames[:, :, :8])


def _face_skeleton(size: int = 64) -> np.ndarray:
    """(size, size, 3) uint8: a white face with the outer lips drawn around a black mouth."""
    from speech2video.render.palette import FACE
    from speech2video.render.skeleton_painter import LIPS

    image = np.zeros((size, size, 3), np.uint8)
    cv2.ellipse(image, (32, 30), (14, 18), 0, 0, 360, FACE, -1)
    cv2.ellipse(image, (32, 40), (7, 4), 0, 0, 360, LIPS, 2)
    cv2.ellipse(image, (32, 40), (4, 2), 0, 0, 360, (0, 0, 0), -1)
    return image


def test_mouth_weight_covers_the_lips_and_nothing_far_from_them() -> None:
    from speech2video.render.part_boxes import mouth_weight

    crops = to_tensor(np.stack([_face_skeleton(), np.zeros((64, 64, 3), np.uint8)]))
    weight = mouth_weight(crops)
    assert weight.shape == (2, 1, 64, 64)
    assert weight[0, 0, 40, 32] == 1.0 and weight[0, 0, 40, 25] == 1.0  # centre, lip corner
    assert weight[0, 0, 20, 32] == 0.0 and weight[0, 0, 40, 50] == 0.0  # brow, cheek
    assert weight[1].max() == 0.0  # no lips: no mouth
    with pytest.raises(InputError, match="face crops must be"):
        mouth_weight(crops[:, :2])


@pytest.mark.parametrize("keep_mouth", [True, False])
def test_a_refined_face_keeps_the_generators_mouth(keep_mouth: bool) -> None:
    config = dataclasses.replace(CONFIG, parts=("face",), keep_mouth=keep_mouth)
    rng = np.random.default_rng(0)
    bank = ExemplarBank(
        torch.from_numpy(rng.integers(0, 255, (1, 3, 32, 32), np.uint8)),
        torch.zeros(1, 3, 32, 32, dtype=torch.uint8),
        torch.zeros(1, 3 * 8 * 8),
        torch.tensor([0]),  # a face exemplar
    )
    torch.manual_seed(0)
    refinement = PartRefinement(config, PartRefinerNet(config.width, config.head), bank)
    skeleton = to_tensor(_face_skeleton()[None])
    frames = torch.zeros(1, 3, 64, 64)
    moved = (refinement.refine(frames, skeleton) - frames).abs().amax(dim=1)[0]  # (64, 64)
    assert moved[24, 32] > 0.01  # the face above the mouth comes from the exemplar
    if keep_mouth:
        assert moved[40, 32] == 0.0  # the mouth is the generator's
    else:
        assert moved[40, 32] > 0.01


def test_collect_refuses_skeletons_without_the_parts() -> None:
    blank = np.zeros((3, 32, 32, 3), np.uint8)
    with pytest.raises(InputError, match="no left_hand/right_hand found"):
        collect_part_samples([(blank, blank, blank)], PartRefinerConfig())
    with pytest.raises(InputError, match="alike"):
        collect_part_samples([(blank, blank[:, :16], blank)], PartRefinerConfig())


def _small_refinement(head: str = "warp") -> PartRefinement:
    config = dataclasses.replace(CONFIG, head=head)
    samples = collect_part_samples([synthetic_hands(6, 3)], config)
    refinement, _ = train_part_refiner(samples, config, RefinerTraining(steps=3, batch_size=2))
    return refinement


@pytest.mark.parametrize("head", ["warp", "synthesis"])
def test_refiner_round_trips_through_its_files(tmp_path: Path, head: str) -> None:
    refinement = _small_refinement(head)
    assert load_part_refinement(tmp_path) is None  # a checkpoint without one
    save_part_refinement(tmp_path, refinement)
    loaded = load_part_refinement(tmp_path)
    assert loaded is not None and loaded.config == refinement.config
    sk, _, gen = synthetic_hands(3, 9)
    a = refinement.refine(to_tensor(gen), to_tensor(sk))
    b = loaded.refine(to_tensor(gen), to_tensor(sk))
    assert torch.equal(a, b) and not torch.equal(a, to_tensor(gen))
    (tmp_path / REFINER_WEIGHTS_FILE).write_bytes(b"not safetensors")
    with pytest.raises(InputError, match="cannot load the part refiner"):
        load_part_refinement(tmp_path)
    save_part_refinement(tmp_path, refinement)
    (tmp_path / EXEMPLARS_FILE).unlink()
    with pytest.raises(InputError, match="cannot load the part refiner"):
        load_part_refinement(tmp_path)


def test_streaming_renderer_shows_refined_frames_and_feeds_back_its_own() -> None:
    """The refined frames are what is shown; the state carried to the next chunk is the
    generator's own, so a refiner never changes what the generator sees."""
    torch.manual_seed(0)
    cfg = preset("tiny")
    generator = Vid2VidGenerator(cfg.generator)
    refinement = _small_refinement("synthesis")
    with torch.no_grad():  # a refiner that visibly acts: its mask open, its image white
        refinement.net.head.bias.copy_(torch.tensor([5.0, 5.0, 5.0, 5.0]))
    sk, _, _ = synthetic_hands(4, 11)
    sk[:, :, :, :][sk.any(-1) & ~(sk == LEFT_HAND_CIRCLE).all(-1)] = 0  # only the hand disc
    sk[0, 5:9, 5:9] = RIGHT_HAND_CIRCLE  # a right hand the bank has no crops of: left as is
    options = InferenceOptions(device="cpu", precision="fp32", engine="torch")
    plain = StreamingRenderer(generator, options)
    refined = StreamingRenderer(generator, options, refiner=refinement)
    x = to_tensor(sk).unsqueeze(0)
    a, b = plain.render_chunk(x), refined.render_chunk(x)
    assert not torch.equal(a.frames, b.frames)
    for sa, sb in zip(dataclasses.astuple(a.state), dataclasses.astuple(b.state), strict=True):
        if isinstance(sa, torch.Tensor):
            assert torch.equal(sa, sb)
    changed = (a.frames - b.frames).abs().amax(dim=2)[0]  # (T, H, W)
    assert changed[:, :4, :].max() == 0  # rows far above every hand
    assert b.frames.mean() > a.frames.mean()  # the hands were painted white
