"""``s2v models list|register|promote|rollback``: a speaker's registered model sets.

``promote`` moves an alias (``production``) of all the speaker's components together, behind the
evaluation gate (``speech2video_mlops.promotion``); it refuses, naming the metric, when the
candidate is worse than the current set beyond the tolerance, unless ``--force --reason``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from speech2video.errors import InputError, NotFoundError

_SHOWN_METRICS = ("mouth_px", "psnr", "ssim", "keypose_within_1f")


def _tracking(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--tracking-uri",
        default=None,
        help="MLflow tracking/registry URI (default: $MLFLOW_TRACKING_URI or $S2V_HOME sqlite)",
    )


def _pairs(items: list[str], what: str) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise InputError(f"{what} must look like NAME=VALUE; got {item!r}")
        out[key.strip()] = value.strip()
    return out


def register(sub: argparse._SubParsersAction) -> None:
    group = sub.add_parser(
        "models",
        help="registered model sets: list, register, promote (gated), roll back",
        description="A speaker's components as MLflow registered models s2v-<speaker>-<component>.",
    )
    actions = group.add_subparsers(dest="models_action", metavar="ACTION", required=True)

    p = actions.add_parser("list", help="versions, aliases and metrics of registered models")
    p.add_argument("speaker", nargs="?", default=None, help="only this speaker")
    _tracking(p)
    p.set_defaults(func=run_list)

    p = actions.add_parser("register", help="register a component directory as a new version")
    p.add_argument("speaker")
    p.add_argument("component", help="audio_to_pose, text_to_pose, renderer, ...")
    p.add_argument("directory", type=Path, help="the component directory")
    p.add_argument(
        "--metric", action="append", default=[], metavar="NAME=VALUE", help="evaluation metric"
    )
    p.add_argument("--alias", default=None, help="point this alias at the new version")
    _tracking(p)
    p.set_defaults(func=run_register)

    p = actions.add_parser(
        "promote",
        help="move an alias of the speaker's whole set to the candidate, behind the gate",
        description="Compare the candidate set's evaluation metrics with the current alias's; "
        "refuse when a metric is worse beyond the relative tolerance, naming it.",
    )
    p.add_argument("speaker")
    p.add_argument("--alias", default="production", help="alias to move (default production)")
    p.add_argument("--from", dest="source", default="candidate", help="alias of the candidate set")
    p.add_argument(
        "--version",
        action="append",
        default=[],
        metavar="COMPONENT=VERSION",
        help="explicit candidate versions instead of --from",
    )
    p.add_argument("--tolerance", type=float, default=0.05, help="relative tolerance (0.05)")
    p.add_argument("--force", action="store_true", help="override a refusal (needs --reason)")
    p.add_argument("--reason", default="", help="why the gate is overridden (recorded)")
    _tracking(p)
    p.set_defaults(func=run_promote)

    p = actions.add_parser("rollback", help="move an alias back to the previous set")
    p.add_argument("speaker")
    p.add_argument("--alias", default="production")
    _tracking(p)
    p.set_defaults(func=run_rollback)


def _registry(args: argparse.Namespace, create: bool = False):  # -> ModelRegistry
    """The registry; only ``register`` may create one (the others need the real one and say
    where they looked when it is missing)."""
    from speech2video_mlops.registry import ModelRegistry

    return ModelRegistry(tracking_uri=args.tracking_uri, create=create)


def run_list(args: argparse.Namespace) -> int:
    from speech2video_mlops.promotion import version_aliases
    from speech2video_mlops.registry import check_speaker

    registry = _registry(args)
    speakers = registry.speakers()
    if args.speaker is not None:
        check_speaker(args.speaker)
        if args.speaker not in speakers:
            raise NotFoundError(f"no registered models for speaker {args.speaker!r}")
        speakers = {args.speaker: speakers[args.speaker]}
    if not speakers:
        print("no registered models")
        return 0
    print(f"{'SPEAKER':<14} {'COMPONENT':<20} {'VERSION':>7}  {'ALIASES':<22} METRICS")
    for speaker, components in speakers.items():
        for component in components:
            aliases_of = version_aliases(registry, speaker, component)
            for ref in registry.versions(speaker, component):
                shown = " ".join(
                    f"{k}={ref.metrics[k]:.4g}" for k in _SHOWN_METRICS if k in ref.metrics
                )
                aliases = ",".join(aliases_of.get(ref.version, [])) or "-"
                print(f"{speaker:<14} {component:<20} {ref.version:>7}  {aliases:<22} {shown}")
    return 0


def run_register(args: argparse.Namespace) -> int:
    metrics_raw = _pairs(args.metric, "--metric")
    try:
        metrics = {k: float(v) for k, v in metrics_raw.items()}
    except ValueError:
        raise InputError(f"--metric values must be numbers; got {metrics_raw}") from None
    ref = _registry(args, create=True).register(
        args.speaker, args.component, args.directory, metrics=metrics, alias=args.alias
    )
    alias = f" (alias {args.alias})" if args.alias else ""
    print(f"registered {ref.name} version {ref.version}{alias}")
    return 0


def run_promote(args: argparse.Namespace) -> int:
    from speech2video_mlops.promotion import promote

    if args.force and not args.reason.strip():
        raise InputError("--force needs --reason: say why the gate is overridden")
    decision = promote(
        _registry(args),
        args.speaker,
        alias=args.alias,
        source=args.source,
        versions=_pairs(args.version, "--version") or None,
        tolerance=args.tolerance,
        force=args.force,
        reason=args.reason,
    )
    moved = ", ".join(f"{c}={v}" for c, v in decision.candidate.items())
    forced = " (forced: " + decision.reason + ")" if decision.forced and decision.failures else ""
    print(f"promoted {args.speaker} to {args.alias}: {moved}{forced}")
    for check in decision.failures:
        print(f"  overridden: {check.describe()}")
    return 0


def run_rollback(args: argparse.Namespace) -> int:
    from speech2video_mlops.promotion import rollback

    result = rollback(_registry(args), args.speaker, alias=args.alias)
    now = ", ".join(f"{c}={v or '(none)'}" for c, v in result.restored.items())
    print(f"rolled back {args.speaker} {args.alias}: {now}")
    return 0
