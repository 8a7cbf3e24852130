"""``s2v enrol SPEAKER VIDEO...``: a person's recordings → a registered, evaluated model set.

Checks the recordings (fixed camera, one person, face and both hands in view, speech, enough
seconds), creates a DVC workspace of the per-speaker pipeline with the recordings cut into
training and held-out pieces, runs ``dvc repro`` to the registry with a line per stage, and
prints the evaluation summary and how to promote. See ``pipelines/enrolment.py``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from speech2video_cli import framework_output

if TYPE_CHECKING:
    from speech2video.fitting.recording_checks import CheckLimits

#: Renderer figures printed at the end (when the report has them), with their labels.
RENDER_METRICS: tuple[tuple[str, str], ...] = (
    ("psnr", "PSNR on held-out frames (dB)"),
    ("ssim", "SSIM on held-out frames"),
    ("face_crop_l1", "face crop L1"),
    ("hands_crop_l1", "hands crop L1"),
    ("psnr_ref_nearest_training", "  reference: nearest real training frame (dB)"),
    ("psnr_ref_real_lag", "  reference: the real frame {lag} earlier (dB)"),
    ("detect_all_generated", "face and both hands found, generated"),
    ("detect_all_real", "face and both hands found, real"),
    ("mouth_pose_corr", "mouth agreement (r)"),
)
#: Motion parts compared with the mean-pose and shuffled-audio baselines.
PARTS = ("jaw", "face", "body", "hands")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "enrol",
        help="enrol a person from their recordings into a registered model set",
        description="Check the recordings, create a DVC workspace of the per-speaker pipeline, "
        "cut the recordings into training and held-out pieces (the end of each is held out), "
        "run dvc repro to the model registry and print the evaluation summary.",
    )
    p.add_argument("speaker", help="speaker id (lower-case letters, digits, '_' or '-')")
    p.add_argument("videos", nargs="+", type=Path, metavar="VIDEO", help="mp4/mov recordings")
    p.add_argument(
        "--workspace",
        type=Path,
        default=None,
        help="workspace folder to create (default: ./enrolments/SPEAKER)",
    )
    p.add_argument("--language", default="en", help="language spoken (default en)")
    p.add_argument(
        "--params",
        type=Path,
        default=None,
        help="base params.yaml (default: the project's; pipelines/params/tiny.yaml: a quick run)",
    )
    p.add_argument("--piece-seconds", type=float, default=20.0, help="longest piece (default 20)")
    p.add_argument(
        "--holdout",
        type=float,
        default=0.15,
        help="share of each recording's end held out for evaluation (default 0.15, ≥ 2 s)",
    )
    p.add_argument(
        "--render-size",
        type=int,
        default=512,
        help="longer side (px) of the crop around the speaker the renderer works on (default 512;"
        " the base params' skeletons.max_side when 0)",
    )
    p.add_argument(
        "--min-hands-rate",
        type=float,
        default=None,
        help="share of sampled frames that must show both hands (default 0.5); lower it only "
        "for a recording whose hands often leave the frame, knowing the hands will train less",
    )
    p.add_argument("--check-only", action="store_true", help="check the recordings and stop")
    p.add_argument("--no-run", action="store_true", help="prepare the workspace, do not train")
    p.add_argument("--force", action="store_true", help="replace an existing workspace")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pipelines import enrolment
    from speech2video.fitting.recording_checks import check_recording

    t0 = time.perf_counter()
    limits = _limits(args.min_hands_rate)
    if args.check_only:
        bad = 0
        for video in args.videos:
            with tempfile.TemporaryFile("w+") as log, framework_output.to_file(log):
                check = check_recording(video, limits)
            verdict = "ok" if check.ok else "; ".join(check.problems)
            print(f"{video}: {verdict}")
            bad += not check.ok
        return 1 if bad else 0
    workspace = args.workspace or Path("enrolments") / args.speaker
    print(f"[enrol] checking {len(args.videos)} recording(s)", flush=True)
    with tempfile.TemporaryFile("w+") as framework_log:
        with framework_output.to_file(framework_log) as terminal:  # the detector's C++ logging
            ws = enrolment.prepare_workspace(
                args.speaker,
                args.videos,
                workspace,
                base_params=args.params,
                language=args.language,
                piece_s=args.piece_seconds,
                holdout_fraction=args.holdout,
                render_size=args.render_size or None,
                limits=limits,
                force=args.force,
                log=lambda line: print(line, file=terminal.out, flush=True),
            )
        framework_log.seek(0)
        with (ws.root / "enrol.log").open("a", encoding="utf-8") as log:
            log.write(framework_log.read())
    held = sum(p.held_out for p in ws.pieces)
    print(
        f"[enrol] workspace {ws.root}: {len(ws.pieces) - held} training and {held} held-out "
        f"pieces ({time.perf_counter() - t0:.0f} s)"
    )
    if args.no_run:
        print(f"[enrol] run the pipeline with: cd {ws.root} && dvc repro register")
        return 0

    def on_stage(name: str, number: int, total: int) -> None:
        print(f"[enrol] stage {number}/{total}: {name}", flush=True)

    timings = enrolment.run_pipeline(ws.root, on_stage=on_stage)
    print("[enrol] stage times: " + ", ".join(f"{t.stage} {t.seconds:.0f} s" for t in timings))
    _print_summary(args.speaker, enrolment.summary(ws.root))
    print(f"[enrol] done in {time.perf_counter() - t0:.0f} s; log: {ws.root / 'enrol.log'}")
    return 0


def _limits(min_hands_rate: float | None) -> CheckLimits:
    """The recording checks' limits, with the operator's hands rate where given."""
    from dataclasses import replace

    from speech2video.errors import InputError
    from speech2video.fitting.recording_checks import CheckLimits

    limits = CheckLimits()
    if min_hands_rate is None:
        return limits
    if not 0.0 <= min_hands_rate <= 1.0:
        raise InputError(f"--min-hands-rate must be within [0, 1]; got {min_hands_rate:g}")
    return replace(limits, min_hands_rate=float(min_hands_rate))


def _print_summary(speaker: str, found: dict) -> None:
    metrics = found.get("evaluation") or {}
    lag = f"{float(metrics.get('reference_lag_s', 0.2)):.2g} s"
    rows = [(label.format(lag=lag), metrics[k]) for k, label in RENDER_METRICS if k in metrics]
    if rows:
        print("[enrol] renderer, held-out pieces:")
        for label, value in rows:
            print(f"    {label:<32} {float(value):.4g}")
    parts = [p for p in PARTS if f"pose_mae_{p}" in metrics]
    if parts:
        print("[enrol] motion error on held-out pieces (model | mean pose | other audio):")
        for part in parts:
            values = [metrics.get(f"pose_mae_{part}{s}") for s in ("", "_mean_pose", "_shuffled")]
            shown = " | ".join("-" if v is None else f"{float(v):.4g}" for v in values)
            print(f"    {part:<32} {shown}")
    for line in key_word_lines(found.get("key_words")):
        print(line)
    registered = found.get("registered") or {}
    if registered.get("promoted"):
        print(
            f"[enrol] registered {speaker} and promoted it (versions {registered.get('versions')})"
        )
    elif registered:
        print(
            f"[enrol] registered {speaker} as candidate; not promoted: {registered.get('refused')}"
        )
    print(
        f"[enrol] next: s2v models list {speaker}; s2v models promote {speaker} --alias production"
    )
    sys.stdout.flush()


def key_word_lines(report: dict | None, limit: int = 12) -> list[str]:
    """The key-pose dictionary's words from ``metrics/key_words.json``: keywords.csv's, then
    those found in the transcripts with their span and gesture score."""
    if not report:
        return []
    manual = [row["word"] for row in report.get("from_keywords_csv") or []]
    mined = (report.get("from_transcripts") or {}).get("chosen") or []
    if not manual and not mined:
        return [
            "[enrol] key poses: none (no key word with a clear gesture; see metrics/key_words.json,"
            " or name spans in the speaker folder's keywords.csv)"
        ]
    lines = [f"[enrol] key poses for {len(manual) + len(mined)} key word(s):"]
    if manual:
        lines.append(f"    from keywords.csv: {', '.join(manual)}")
    for c in mined[:limit]:
        lines.append(
            f"    {c['word']:<14} {c['recording']} {c['start']:.2f}-{c['end']:.2f} s, {c['kind']},"
            f" gesture score {c['score']:.1f} ({c['source']})"
        )
    if len(mined) > limit:
        lines.append(f"    ... and {len(mined) - limit} more")
    lines.append(
        "    review: metrics/key_words.json; override a word with a row of the speaker folder's "
        "keywords.csv"
    )
    return lines
