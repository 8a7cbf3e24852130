"""The pose loss (paper §3.4): weights body 1, hands 4, mouth 100, face 100, plus differences."""

from __future__ import annotations

import pytest
import torch

from speech2video.body import pose_layout as pl
from speech2video.errors import InputError
from speech2video.motion.losses import PoseLoss


def target(frames: int = 10, batch: int = 2) -> torch.Tensor:
    return torch.randn(batch, frames, 106, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize(
    ("group", "columns", "weight"),
    [
        ("body", pl.BODY, 1.0),
        ("hands", pl.LEFT_HAND, 4.0),
        ("hands", pl.RIGHT_HAND, 4.0),
        ("mouth", pl.JAW, 100.0),
        ("face", pl.EYES, 100.0),
        ("face", pl.EXPRESSION, 100.0),
    ],
)
def test_each_weight_acts_on_its_own_slice(group: str, columns: slice, weight: float) -> None:
    y = target()
    pred = y.clone()
    err = 0.3
    pred[..., columns] += err
    terms = PoseLoss()(pred, y)
    width = columns.stop - columns.start
    # constant offset on every frame: grows by weight x squared error per column, no difference
    assert float(terms.total) == pytest.approx(weight * width * err**2, rel=1e-5)
    assert float(terms.groups[group]) == pytest.approx(weight * width * err**2, rel=1e-5)
    for other, value in terms.groups.items():
        if other != group:
            assert float(value) == 0.0
    assert float(terms.smoothness) == pytest.approx(0.0, abs=1e-9)


def test_difference_term_on_a_single_frame_spike() -> None:
    y = target(frames=10, batch=1)
    pred = y.clone()
    pred[0, 4, 63] += 0.5  # jaw, weight 100, one frame
    terms = PoseLoss(smoothness=2.0)(pred, y)
    assert float(terms.groups["mouth"]) == pytest.approx(100 * 0.25 / 10, rel=1e-5)
    # pairs (3,4) and (4,5) each differ by 0.5 in velocity; 9 pairs in all
    assert float(terms.smoothness) == pytest.approx(2.0 * 100 * 2 * 0.25 / 9, rel=1e-5)
    assert float(terms.total) == pytest.approx(2.5 + 2.0 * 100 * 0.5 / 9, rel=1e-5)


def test_matching_motion_is_not_penalised_but_jitter_is() -> None:
    t = torch.linspace(0, 1, 20)
    y = torch.zeros(1, 20, 106)
    y[0, :, 0] = t  # the body moves steadily
    still = y.clone()
    still[0, :, 0] = 0.5
    jitter = y.clone()
    jitter[0, ::2, 0] += 0.05
    loss = PoseLoss(smoothness=1.0)
    assert float(loss(y, y).total) == 0.0
    assert float(loss(still, y).smoothness) > 0.0
    assert float(loss(jitter, y).smoothness) > float(loss(jitter, y).groups["body"])


def test_mask_excludes_frames_and_pairs() -> None:
    y = target(frames=6, batch=1)
    pred = y.clone()
    pred[0, 5] += 10.0
    mask = torch.tensor([[True, True, True, True, True, False]])
    terms = PoseLoss()(pred, y, mask)
    assert float(terms.total) == 0.0
    unmasked = PoseLoss()(pred, y)
    assert float(unmasked.total) > 0.0


def test_custom_weights_and_gradient() -> None:
    y = target()
    pred = (y + 0.1).requires_grad_(True)
    terms = PoseLoss({"hands": 0.0, "face": 1.0}, smoothness=0.0)(pred, y)
    values = terms.as_floats()
    assert values["loss_hands"] == 0.0
    assert values["loss_face"] == pytest.approx(16 * 0.01, rel=1e-4)
    assert values["loss_mouth"] == pytest.approx(100 * 3 * 0.01, rel=1e-4)
    terms.total.backward()
    assert pred.grad is not None
    assert float(pred.grad[..., pl.HANDS].abs().max()) == 0.0
    assert float(pred.grad[..., pl.JAW].abs().min()) > 0.0


def test_unbatched_input_and_logging_floats() -> None:
    y = target()[0]
    metrics = PoseLoss()(y + 0.1, y).as_floats("val_")
    assert set(metrics) == {
        "val_loss",
        "val_loss_body",
        "val_loss_hands",
        "val_loss_mouth",
        "val_loss_face",
        "val_loss_smoothness",
    }
    assert metrics["val_loss"] == pytest.approx(
        0.01 * (63 * 1 + 24 * 4 + 3 * 100 + 16 * 100), rel=1e-4
    )


def test_bad_arguments_are_named() -> None:
    with pytest.raises(InputError, match="arms"):
        PoseLoss({"arms": 1.0})
    with pytest.raises(InputError, match="smoothness"):
        PoseLoss(smoothness=-1.0)
    with pytest.raises(InputError, match="mouth"):
        PoseLoss({"mouth": -2.0})
    with pytest.raises(InputError, match="106"):
        PoseLoss()(torch.zeros(3, 100), torch.zeros(3, 100))
    with pytest.raises(InputError, match="mask"):
        PoseLoss()(torch.zeros(1, 3, 106), torch.zeros(1, 3, 106), torch.ones(1, 4, dtype=bool))
