"""Which way each evaluation metric is better: the table the promotion gate compares with.

Metric names are flat (``metrics/evaluation.json``). A name's direction is ``"lower"``,
``"higher"`` or ``None`` (informational: not gated). Baseline and reference columns — names
ending in ``_mean_pose``, ``_shuffled``, ``_other_audio`` or ``_fitted`` — describe the data or a
baseline rather than the model, so they are informational whatever their stem; so are gains
over the baselines (``*_gain``), which restate the model's own metrics.
"""

from __future__ import annotations

from typing import Literal

Direction = Literal["lower", "higher"]
LOWER: Direction = "lower"
HIGHER: Direction = "higher"

#: Suffixes of baseline / reference columns (never gated).
REFERENCE_SUFFIXES: tuple[str, ...] = (
    "_mean_pose",
    "_shuffled",
    "_other_audio",
    "_fitted",
    "_gain",
)

#: Exact names and name prefixes (ending in ``_``) with their direction.
DIRECTIONS: dict[str, Direction | None] = {
    "mouth_px": LOWER,  # paper Table 3: mean pixel distance of the mouth keypoints
    "text_mouth_px": LOWER,
    "mouth_shape_px": LOWER,  # the same after aligning mouth centroids: shape, not placement
    "text_mouth_shape_px": LOWER,
    "pose_mae_": LOWER,  # per part: pose_mae_body, pose_mae_hands, pose_mae_jaw, pose_mae_face
    "text_pose_mae_": LOWER,
    "beat_consistency": HIGHER,
    "jaw_opening_corr": HIGHER,  # the mouth opens when the speaker's does (Pearson r)
    "text_jaw_opening_corr": HIGHER,
    "psnr": HIGHER,
    "ssim": HIGHER,
    "face_crop_l1": LOWER,
    "hands_crop_l1": LOWER,
    "keypose_within_1f": HIGHER,
    # informational
    "diversity_": None,  # motion diversity: more is not better by itself
    "mouth_px_gain": None,
    "mouth_shape_px_gain": None,
    "text_mouth_px_gain": None,
    "text_mouth_shape_px_gain": None,
    "keypose_insertions": None,
    "num_": None,
    "psnr_ref_": None,  # what real frames alone score (render_references): the data, not the model
    "reference_": None,
}


def metric_direction(name: str) -> Direction | None:
    """``"lower"``, ``"higher"`` or None (informational / unknown) for a metric name."""
    if name.endswith(REFERENCE_SUFFIXES):
        return None
    if name in DIRECTIONS:
        return DIRECTIONS[name]
    best: tuple[int, Direction | None] = (0, None)
    for key, direction in DIRECTIONS.items():
        if key.endswith("_") and name.startswith(key) and len(key) > best[0]:
            best = (len(key), direction)
    return best[1]
