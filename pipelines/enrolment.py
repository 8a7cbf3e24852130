"""Enrolment: a person's recordings → a DVC workspace of this pipeline → a registered model set.

Used by ``s2v enrol``; the manual path (a speaker folder, ``params.yaml``, ``dvc repro``) runs
the same stages. :func:`prepare_workspace` checks every recording first
(:mod:`speech2video.fitting.recording_checks`: fixed camera, one person, face and both hands in
view, speech, enough seconds) and refuses naming the file and the problem; then it creates the
workspace:

```
<workspace>/dvc.yaml, .dvcignore     the project's pipeline
<workspace>/pipelines, src/...       the project's code at enrolment time (the stages run it)
<workspace>/params.yaml              the base parameters with this speaker's settings
<workspace>/data/raw/<speaker>/      speaker.yaml + recordings/<name>_pNN.mp4 (DVC-tracked)
```

Each recording is cut into pieces of at most ``piece_s`` seconds; the last ``holdout_fraction``
of every recording (at least ``min_holdout_s``) becomes held-out pieces (``split.holdout``), so
evaluation always judges the end of a recording that training never saw. :func:`run_pipeline`
runs ``dvc repro`` there, calling back as each stage starts and logging everything to
``enrol.log``; :func:`summary` reads the figures the pipeline wrote.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pipelines.renderer_part_refiner import REAL_SPEAKER_REFINER
from pipelines.stage_io import StageError

#: The project's files a workspace needs, relative to the project root.
PROJECT_FILES = ("dvc.yaml", ".dvcignore")
PROJECT_DIRS = ("pipelines", "src/speech2video", "src/speech2video_mlops")
SPEAKER_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
VIDEO_SUFFIXES = {".mp4", ".mov", ".m4v", ".mkv", ".webm", ".avi"}
STAGE_LINE = re.compile(r"Running stage '([\w-]+)'")
DAG_NODE = re.compile(r'^"([^"]+)";$', re.M)


@dataclass(frozen=True)
class Piece:
    """A cut of one recording: ``[start_s, end_s)`` of ``source``, written as ``name``.mp4."""

    source: Path
    name: str
    start_s: float
    end_s: float
    held_out: bool


@dataclass
class Workspace:
    """A prepared enrolment workspace."""

    root: Path
    speaker: str
    pieces: list[Piece] = field(default_factory=list)
    checks: list[Any] = field(default_factory=list)  # RecordingCheck per source recording

    @property
    def speaker_dir(self) -> Path:
        return self.root / "data" / "raw" / self.speaker


def project_root() -> Path:
    """The checkout this package runs from (where ``dvc.yaml`` is)."""
    root = Path(__file__).resolve().parents[1]
    missing = [n for n in (*PROJECT_FILES, *PROJECT_DIRS) if not (root / n).exists()]
    if missing:
        raise StageError(
            f"{root}: not a Speech2Video checkout (missing {missing}); enrol from a clone"
        )
    return root


def plan_pieces(
    source: Path,
    duration_s: float,
    piece_s: float = 20.0,
    holdout_fraction: float = 0.15,
    min_holdout_s: float = 2.0,
) -> list[Piece]:
    """Cut ``[0, duration_s)``: the training part in near-equal pieces ≤ ``piece_s``, then the
    held-out end (``holdout_fraction`` of the recording, at least ``min_holdout_s``) likewise."""
    if duration_s < 2 * min_holdout_s:
        raise StageError(
            f"{source}: {duration_s:.1f} s is too short to train on and hold out "
            f"{min_holdout_s:g} s (need {2 * min_holdout_s:g} s)"
        )
    held = min(max(holdout_fraction * duration_s, min_holdout_s), duration_s / 2)
    cut = duration_s - held
    stem = re.sub(r"[^a-z0-9]+", "_", source.stem.lower()).strip("_") or "rec"
    pieces: list[Piece] = []
    for lo, hi, held_out in ((0.0, cut, False), (cut, duration_s, True)):
        n = max(1, math.ceil((hi - lo) / piece_s - 1e-9))
        edges = [lo + (hi - lo) * k / n for k in range(n + 1)]
        for a, b in itertools.pairwise(edges):
            pieces.append(Piece(source, f"{stem}_p{len(pieces):02d}", a, b, held_out))
    return pieces


def copy_project(root: Path, workspace: Path) -> None:
    """The pipeline's files and code (``PROJECT_FILES``, ``PROJECT_DIRS``) from ``root`` into
    ``workspace``."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in PROJECT_FILES:
        shutil.copy2(root / name, workspace / name)
    for name in PROJECT_DIRS:
        shutil.copytree(root / name, workspace / name, ignore=ignore)


def workspace_params(
    base: dict[str, Any], speaker: str, holdout: list[str], render_size: int | None = None
) -> dict[str, Any]:
    """``base`` with a real speaker's settings: their folder, detected keypoints and fitted
    poses (no ground truth), the held-out pieces, and the renderer framed on the speaker
    (``skeletons.framing: speaker``) at ``render_size`` px (None: the base's ``max_side``), with
    the hands' part refiner on unless the base sets it (``REAL_SPEAKER_REFINER``)."""
    params = json.loads(json.dumps(base))  # a deep copy of plain data
    params["speaker_dir"] = f"data/raw/{speaker}"
    for stage in ("keypoints", "fit"):
        params.setdefault(stage, {})["use_ground_truth"] = False
    params.setdefault("split", {})["holdout"] = sorted(holdout)
    skeletons = params.setdefault("skeletons", {})
    skeletons["framing"] = "speaker"
    renderer = params.setdefault("train_renderer", {})
    if renderer.get("part_refiner") is None:
        renderer["part_refiner"] = dict(REAL_SPEAKER_REFINER)
    if render_size is not None:
        skeletons["max_side"] = int(render_size)
    return params


def prepare_workspace(
    speaker: str,
    recordings: Sequence[str | Path],
    workspace: str | Path,
    *,
    base_params: str | Path | None = None,
    language: str = "en",
    piece_s: float = 20.0,
    holdout_fraction: float = 0.15,
    min_total_s: float = 4.0,
    render_size: int | None = None,
    limits: Any = None,
    force: bool = False,
    log: Callable[[str], None] = print,
) -> Workspace:
    """Check the recordings, then create the workspace (see the module doc)."""
    from speech2video.audio.io import decode
    from speech2video.fitting.recording_checks import check_recording
    from speech2video.render.video_cutting import cut_video

    if not SPEAKER_ID.match(speaker):
        raise StageError(f"speaker id {speaker!r}: use 1-63 lower-case letters, digits, '_' or '-'")
    sources = [Path(r) for r in recordings]
    if not sources:
        raise StageError("no recordings given")
    for src in sources:
        if not src.is_file():
            raise StageError(f"{src}: recording not found")
        if src.suffix.lower() not in VIDEO_SUFFIXES:
            raise StageError(f"{src}: not a video file ({src.suffix or 'no suffix'})")
    root = Path(workspace)
    if root.exists() and any(root.iterdir()):
        if not force:
            raise StageError(f"{root}: workspace exists and is not empty (use --force to replace)")
        shutil.rmtree(root)
    checks = []
    for src in sources:
        check = check_recording(src, limits)
        log(
            f"  {src.name}: {check.duration_s:.1f} s, {check.width}x{check.height} at "
            f"{check.fps:g} fps; face {100 * check.face_rate:.0f} %, both hands "
            f"{100 * check.hands_rate:.0f} %, camera shift {100 * check.camera_shift:.2f} %"
        )
        if not check.ok:
            raise StageError(f"{src}: {'; '.join(check.problems)}")
        checks.append(check)
    total = sum(c.duration_s for c in checks)
    if total < min_total_s:
        raise StageError(f"{total:.1f} s of recordings in all; need at least {min_total_s:g} s")
    base_path = Path(base_params) if base_params else project_root() / "params.yaml"
    if not base_path.is_file():
        raise StageError(f"{base_path}: params file not found")
    base = yaml.safe_load(base_path.read_text()) or {}
    pieces = [
        piece
        for src, check in zip(sources, checks, strict=True)
        for piece in plan_pieces(src, check.duration_s, piece_s, holdout_fraction)
    ]
    names = [p.name for p in pieces]
    if len(set(names)) != len(names):
        raise StageError("two recordings have the same name; rename one")
    root.mkdir(parents=True, exist_ok=True)
    try:
        copy_project(project_root(), root)
        ws = Workspace(root, speaker, pieces, checks)
        rec_dir = ws.speaker_dir / "recordings"
        rec_dir.mkdir(parents=True)
        for src in sources:
            audio = decode(src, max_seconds=None)
            for piece in (p for p in pieces if p.source == src):
                cut_video(src, rec_dir / f"{piece.name}.mp4", piece.start_s, piece.end_s, audio)
        info = {
            "speaker": speaker,
            "language": language,
            "enrolled_from": [s.name for s in sources],
        }
        (ws.speaker_dir / "speaker.yaml").write_text(yaml.safe_dump(info, sort_keys=False))
        held = [p.name for p in pieces if p.held_out]
        params = workspace_params(base, speaker, held, render_size)
        (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        _init_repo(ws)
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    return ws


def pipeline_env(workspace: Path) -> dict[str, str]:
    """The environment the stages run in: this interpreter first on PATH, the workspace's code
    on PYTHONPATH, offline hubs, no analytics, a git identity when none is configured."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = f"{workspace.resolve()}{os.pathsep}{workspace.resolve() / 'src'}"
    env.update(DVC_NO_ANALYTICS="1", HF_HUB_OFFLINE="1")
    for key, value in (("GIT_AUTHOR_NAME", "s2v enrol"), ("GIT_AUTHOR_EMAIL", "s2v@localhost")):
        env.setdefault(key, value)
        env.setdefault(key.replace("AUTHOR", "COMMITTER"), value)
    return env


def _run(cmd: list[str], cwd: Path, env: dict[str, str]) -> None:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        raise StageError(f"{' '.join(cmd[:3])} failed in {cwd}: {tail[0]}")


def _init_repo(ws: Workspace) -> None:
    """git + DVC repository; the speaker's recordings tracked by DVC, the rest by git."""
    env = pipeline_env(ws.root)
    dvc = [sys.executable, "-m", "dvc"]
    _run(["git", "init", "-q"], ws.root, env)
    _run([*dvc, "init", "-q"], ws.root, env)
    _run([*dvc, "config", "core.analytics", "false"], ws.root, env)
    _run([*dvc, "add", "-q", str(ws.speaker_dir.relative_to(ws.root))], ws.root, env)
    _run(["git", "add", "-A"], ws.root, env)
    _run(["git", "commit", "-qm", f"enrol {ws.speaker}"], ws.root, env)


@dataclass(frozen=True)
class StageTiming:
    """One stage's wall time in the run (seconds)."""

    stage: str
    seconds: float


def run_pipeline(
    workspace: str | Path,
    target: str = "register",
    on_stage: Callable[[str, int, int], None] | None = None,
) -> list[StageTiming]:
    """``dvc repro <target>`` in ``workspace``; ``on_stage(name, number, total)`` as each stage
    starts. Output goes to ``<workspace>/enrol.log``; a failing stage raises StageError with its
    one-line error and the log's path. Returns each stage's wall time."""
    root = Path(workspace)
    env = pipeline_env(root)
    dvc = [sys.executable, "-m", "dvc"]
    dag = subprocess.run(
        [*dvc, "dag", "--dot", target], cwd=root, env=env, capture_output=True, text=True
    )
    planned = [n for n in DAG_NODE.findall(dag.stdout) if not n.endswith(".dvc")]
    total = len(planned) or 1
    log_path = root / "enrol.log"
    timings: list[StageTiming] = []
    errors: list[str] = []
    current, started = "", time.perf_counter()
    with log_path.open("a", encoding="utf-8") as log:
        proc = subprocess.Popen(
            [*dvc, "repro", target],
            cwd=root,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert proc.stdout is not None
        for line in proc.stdout:
            log.write(line)
            found = STAGE_LINE.search(line)
            if found:
                now = time.perf_counter()
                if current:
                    timings.append(StageTiming(current, now - started))
                current, started = found.group(1), now
                if on_stage:
                    on_stage(current, len(timings) + 1, total)
            elif line.startswith("stage ") and ": error: " in line:
                errors.append(line.strip())
        code = proc.wait()
    if current:
        timings.append(StageTiming(current, time.perf_counter() - started))
    if code != 0:
        reason = errors[-1] if errors else f"dvc repro exited with {code}"
        raise StageError(f"{reason} (full log: {log_path})")
    return timings


def summary(workspace: str | Path) -> dict[str, Any]:
    """The evaluation figures, the key words chosen and the registration outcome the pipeline
    wrote (``metrics/{evaluation,key_words,registered}.json``)."""
    root = Path(workspace)
    out: dict[str, Any] = {}
    for name in ("evaluation", "key_words", "registered"):
        path = root / "metrics" / f"{name}.json"
        if path.is_file():
            out[name] = json.loads(path.read_text())
    return out
