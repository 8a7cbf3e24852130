"""Shared helpers for the static checks of infra/ (imported by the tests here)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
INFRA = REPO_ROOT / "infra"
APPS = ("transcription", "audio_to_pose", "key_pose", "renderer", "gateway")
SERVICERS = (
    "services.proxy_guard.add_guard_to_server",
    "speech2video_api.v1.transcription_pb2_grpc.add_TranscriptionServicer_to_server",
    "speech2video_api.v1.audio_to_pose_pb2_grpc.add_AudioToPoseServicer_to_server",
    "speech2video_api.v1.key_pose_pb2_grpc.add_KeyPoseServicer_to_server",
    "speech2video_api.v1.renderer_pb2_grpc.add_RendererServicer_to_server",
    "speech2video_api.v1.gateway_pb2_grpc.add_Speech2VideoServicer_to_server",
    "services.health.add_health_servicer_to_server",
)


def shared_schemas_dir() -> Path:
    """``../shared/schemas`` beside the repository, or ``$S2V_SHARED_DIR/schemas``."""
    shared = Path(os.environ.get("S2V_SHARED_DIR", REPO_ROOT.parent / "shared"))
    return shared / "schemas"


def shared_schema(relative: str) -> Path:
    """A schema file under the shared schemas; skips the test when it is absent."""
    path = shared_schemas_dir() / relative
    if not path.is_file():
        pytest.skip(f"schema {relative} not found under {path.parent} (set S2V_SHARED_DIR)")
    return path


def yaml_docs(path: Path) -> Iterator[dict[str, Any]]:
    """The non-empty documents of a (multi-document) YAML file."""
    with path.open() as fh:
        yield from (doc for doc in yaml.safe_load_all(fh) if doc)


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())
