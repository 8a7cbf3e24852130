"""After set-up: the environment holds the project's pins, and pipecat (when installed) beside them.

    python scripts/check_install.py           # exit 1, saying what is wrong, if anything is

1. ``pip check``, except what pipecat-ai's own metadata asks: it is installed with ``--no-deps``
   (its metadata pins ``protobuf<7``, ``soundfile~=0.13.1`` and ``soxr~=1.0.0`` and lists cloud
   clients this project does not use), so only its lines are excused;
2. the versions pinned in pyproject.toml for the gRPC/protobuf stack and soundfile are the ones
   installed (a protobuf downgraded below grpcio-tools' >=7.35.1 breaks ``make proto`` and every
   generated module);
3. the generated gRPC code imports; with pipecat-ai installed, its core and the avatar service
   import too.
"""

from __future__ import annotations

import importlib
import importlib.metadata as md
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: Packages whose installed version must be exactly the pyproject pin.
PINNED = ("protobuf", "grpcio", "grpcio-tools", "soundfile", "numpy")
PIPECAT = "pipecat-ai"
PIPECAT_MODULES = (
    "pipecat.frames.frames",
    "pipecat.pipeline.pipeline",
    "pipecat.pipeline.worker",
    "pipecat.workers.runner",
    "pipecat.services.tts_service",
    "services.pipecat_avatar.avatar",
    "services.pipecat_avatar.espeak_tts",
    "services.pipecat_avatar.recorder",
)


def pins() -> dict[str, str]:
    """``name → version`` of every ``name==version`` in the project's dependencies."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    found: dict[str, str] = {}
    for spec in project["dependencies"]:
        m = re.fullmatch(r"([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?==([^;\s]+)", spec.strip())
        if m:
            found[m.group(1).lower()] = m.group(2)
    return found


def pip_check_problems() -> list[str]:
    """``pip check`` lines that are not pipecat-ai's own (known, see the module docstring)."""
    run = subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", "check"],
        capture_output=True,
        text=True,
        check=False,
    )
    lines = [line for line in run.stdout.splitlines() if line.strip()]
    return [
        line
        for line in lines
        if not line.lower().startswith((f"{PIPECAT} ", "no broken requirements"))
    ]


def main() -> int:
    os.environ.setdefault("LOGURU_LEVEL", "WARNING")  # pipecat logs a banner at import
    problems = [f"pip check: {line}" for line in pip_check_problems()]
    wanted = pins()
    for name in PINNED:
        try:
            have = md.version(name)
        except md.PackageNotFoundError:
            problems.append(f"{name} is not installed (pyproject pins {wanted.get(name)})")
            continue
        if name in wanted and have != wanted[name]:
            hint = " (a downgrade breaks the generated gRPC code)" if name == "protobuf" else ""
            problems.append(f"{name} {have} is installed; pyproject.toml pins {wanted[name]}{hint}")
    modules = ["speech2video_api.v1.live_pb2", "speech2video_api.v1.gateway_pb2_grpc"]
    try:
        md.version(PIPECAT)
        modules += PIPECAT_MODULES
    except md.PackageNotFoundError:
        pass
    for module in modules:
        try:
            importlib.import_module(module)
        except Exception as exc:  # any failure to import is the finding
            problems.append(f"import {module}: {type(exc).__name__}: {exc}")
    for line in problems:
        print(f"[check_install] {line}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
