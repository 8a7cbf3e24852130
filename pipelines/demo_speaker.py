"""DVC stage ``demo_speaker``: generate the synthetic demo speaker folder.

Reads ``params.yaml`` key ``demo_speaker: {config: tiny|demo, seed: N, out: PATH}`` (out defaults
to ``data/demo_speaker``) and replaces the output folder atomically. Run as
``python -m pipelines.demo_speaker``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

from speech2video.errors import InputError
from speech2video.synthetic.config import get_config
from speech2video.synthetic.demo_speaker import generate_demo_speaker

DEFAULT_OUT = "data/demo_speaker"


def stage_params(params: Any) -> tuple[str, int, Path]:
    """(config name, seed, out dir) from the parsed params.yaml."""
    section = params.get("demo_speaker", {}) if isinstance(params, dict) else None
    if not isinstance(section, dict):
        raise InputError("params.yaml: 'demo_speaker' must be a mapping {config, seed, out}")
    config = section.get("config", "tiny")
    seed = section.get("seed", 0)
    out = section.get("out", DEFAULT_OUT)
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise InputError(f"params.yaml: demo_speaker.seed must be an integer; got {seed!r}")
    if not isinstance(config, str) or not isinstance(out, str) or not out:
        raise InputError("params.yaml: demo_speaker.config and demo_speaker.out must be strings")
    return config, seed, Path(out)


def main(params_path: str = "params.yaml") -> int:
    with open(params_path, encoding="utf-8") as fh:
        params = yaml.safe_load(fh) or {}
    config, seed, out = stage_params(params)
    summary = generate_demo_speaker(out, get_config(config), seed, force=True, progress=True)
    print(f"demo_speaker: {len(summary.recordings)} recordings in {summary.wall_seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
