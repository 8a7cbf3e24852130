"""Stage skeletons on a tiny synthetic recording: the whole frame scaled (``framing: full``)
and the crop around the speaker (``framing: speaker``) with its plate in the served profile."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from pipelines import fit, ingest, keypoints, skeletons
from pipelines.stage_io import StageError
from speech2video.model_set import load_speaker_profile

_spec = importlib.util.spec_from_file_location(
    "kp_stage_helpers", Path(__file__).with_name("test_keypoints_stage.py")
)
assert _spec is not None and _spec.loader is not None
_helpers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_helpers)


def _prepared(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings: dict) -> Path:
    params = {
        "keypoints": {"use_ground_truth": True},
        "fit": {"use_ground_truth": True},
        "skeletons": settings,
    }
    _helpers.synthetic_speaker(tmp_path, params)
    monkeypatch.chdir(tmp_path)
    ingest.main()
    keypoints.main()
    fit.main()
    return tmp_path


def _white_extent(image: np.ndarray) -> tuple[int, int]:
    """Rows, columns with painted (non-black) pixels."""
    ys, xs = np.nonzero(image.any(-1))
    return len(set(ys.tolist())), len(set(xs.tolist()))


def test_full_frame_and_speaker_framing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _prepared(tmp_path, monkeypatch, {"max_side": 64, "framing": "full"})
    skeletons.main()
    full = load_speaker_profile(root / "models/body_model")
    assert full.framing is None and (full.width, full.height) == (64, 42)
    sk_full = cv2.imread(str(root / "data/interim/skeletons/r1/skeleton/000000.png"))
    (root / "params.yaml").write_text(
        (root / "params.yaml").read_text().replace('"full"', '"speaker"')
    )
    skeletons.main()
    framed = load_speaker_profile(root / "models/body_model")
    f = framed.framing
    assert f is not None and (framed.width, framed.height) == f.render_size
    assert max(f.render_size) == 64 and f.width < _helpers.W  # a crop, rendered larger
    assert f.background is not None and f.background.shape[:2] == f.frame_size[::-1]
    sk = cv2.imread(str(root / "data/interim/skeletons/r1/skeleton/000000.png"))
    frame = cv2.imread(str(root / "data/interim/skeletons/r1/frames/000000.png"))
    assert sk.shape[:2] == frame.shape[:2] == (framed.height, framed.width)
    # The skeleton fills more of the crop than of the whole frame: the speaker got pixels.
    assert np.prod(_white_extent(sk)) > 1.5 * np.prod(_white_extent(sk_full))
    size = json.loads((root / "data/interim/skeletons/size.json").read_text())
    assert size["framing"]["x"] == f.x
    # The plate under the crop, for the renderer to composite over (render/generator.py).
    plate = cv2.imread(str(root / "data/interim/skeletons/background.png"))
    assert plate.shape == frame.shape


def test_unknown_framing_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _prepared(tmp_path, monkeypatch, {"max_side": 64, "framing": "face"})
    with pytest.raises(StageError, match=r"skeletons\.framing must be 'full' or 'speaker'"):
        skeletons.main()
    named = r"skeletons\.plate must be one of person_free, inpainted, median; got 'clean'"
    with pytest.raises(StageError, match=named):
        skeletons.speaker_framing(64, (_helpers.W, _helpers.H), plate="clean")


def test_held_out_recordings_stay_out_of_the_plate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The plate is the median of training frames only: a held-out recording painted white
    changes it when it is counted and leaves it as it was when it is held out."""
    import shutil

    root = _prepared(tmp_path, monkeypatch, {"max_side": 64, "framing": "speaker"})
    ingest_dir = root / "data/interim/ingest"
    shutil.copytree(ingest_dir / "r1", ingest_dir / "r2")
    for png in (ingest_dir / "r2" / "frames").glob("*.png"):
        cv2.imwrite(str(png), np.full_like(cv2.imread(str(png)), 255))
    kp_dir = root / "data/interim/keypoints"
    shutil.copy(kp_dir / "r1.npz", kp_dir / "r2.npz")
    source = (_helpers.W, _helpers.H)
    with_held = skeletons.speaker_framing(64, source, 30).background
    without = skeletons.speaker_framing(64, source, 30, held_out=["r2"]).background
    assert with_held is not None and without is not None
    assert without.mean() < 60 < with_held.mean()
