"""The synthetic SMPL-X file builder: the keys and shapes smplx reads, fast and deterministic."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from speech2video.body.body_model import load_body_model
from speech2video.errors import InputError

_FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "synthetic_smplx.py"
_spec = importlib.util.spec_from_file_location("s2v_synthetic_smplx_under_test", _FIXTURE)
assert _spec is not None and _spec.loader is not None
synthetic = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(synthetic)

SHAPES = {
    "v_template": (None, 3),
    "f": (None, 3),
    "shapedirs": (None, 3, 20),
    "posedirs": (None, 3, 486),
    "J_regressor": (55, None),
    "weights": (None, 55),
    "kintree_table": (2, 55),
    "hands_componentsl": (45, 45),
    "hands_componentsr": (45, 45),
    "hands_meanl": (45,),
    "hands_meanr": (45,),
    "lmk_faces_idx": (51,),
    "lmk_bary_coords": (51, 3),
}


def test_file_has_the_13_keys_and_shapes_and_is_deterministic(tmp_path: Path) -> None:
    path = synthetic.write_synthetic_smplx(tmp_path / "a")
    assert path.name == "SMPLX_NEUTRAL.npz"
    with np.load(path, allow_pickle=False) as data:
        assert set(data.files) == set(SHAPES)
        v = data["v_template"].shape[0]
        assert v >= 9930
        for key, shape in SHAPES.items():
            expected = tuple(v if s is None and key != "f" else s for s in shape)
            if key == "f":
                assert data[key].shape[1] == 3 and data[key].max() < v
            else:
                assert data[key].shape == expected, key
        np.testing.assert_allclose(data["weights"].sum(axis=1), 1.0)
        np.testing.assert_allclose(data["J_regressor"].sum(axis=1), 1.0, atol=1e-5)
        comps = data["hands_componentsl"].astype(np.float64)
        np.testing.assert_allclose(comps @ comps.T, np.eye(45), atol=1e-5)
        first = {k: data[k] for k in data.files}
    again = synthetic.synthetic_smplx_arrays()
    for key, value in again.items():
        np.testing.assert_array_equal(first[key], value)


def test_a_directory_with_an_smplx_subfolder_is_found(tmp_path: Path) -> None:
    synthetic.write_synthetic_smplx(tmp_path / "models" / "smplx")
    model = load_body_model("smplx", tmp_path / "models")
    assert model.forward(np.zeros((1, 106), np.float32)).joints.shape == (1, 55, 3)
    pkl = tmp_path / "models" / "smplx" / "SMPLX_NEUTRAL.pkl"
    pkl.write_bytes(b"not used")
    with pytest.raises(InputError, match=r"must be \.npz"):
        load_body_model("smplx", pkl)
