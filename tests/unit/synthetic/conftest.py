"""One tiny demo speaker, generated once for the module's tests (a few seconds)."""

from __future__ import annotations

from pathlib import Path

import pytest

from speech2video.synthetic.config import get_config
from speech2video.synthetic.demo_speaker import DemoSpeakerSummary, generate_demo_speaker


@pytest.fixture(scope="session")
def tiny_speaker(tmp_path_factory: pytest.TempPathFactory) -> DemoSpeakerSummary:
    out = tmp_path_factory.mktemp("synthetic") / "demo"
    return generate_demo_speaker(out, get_config("tiny"), seed=3)


@pytest.fixture(scope="session")
def tiny_dir(tiny_speaker: DemoSpeakerSummary) -> Path:
    return tiny_speaker.out_dir
