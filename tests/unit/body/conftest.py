"""Fixtures for the body-model tests: a synthetic SMPL-X model file (built once per session)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

_FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "synthetic_smplx.py"


def _synthetic_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("s2v_test_synthetic_smplx", _FIXTURE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def synthetic_smplx_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding a synthetic ``SMPLX_NEUTRAL.npz`` that the real smplx code loads."""
    directory = tmp_path_factory.mktemp("smplx")
    _synthetic_module().write_synthetic_smplx(directory)
    return directory
