"""Promoting a speaker's model set to an alias, behind an evaluation gate; and rolling back.

A speaker's components move together: promoting points ``alias`` (``production``) of every
component at the candidate's versions (those at the ``candidate`` alias, or given explicitly).
Components the candidate lacks keep their current version.

**The gate.** The candidate set's evaluation metrics (version tags ``metric.*``, merged over its
components) are compared with the current alias set's, metric by metric, with the directions of
:mod:`speech2video.evaluation.directions` (informational metrics are not compared). A metric
fails when the candidate is worse by more than ``tolerance`` relative to the current value
(``lower``: ``cand > cur + tol * |cur|``; ``higher``: ``cand < cur - tol * |cur|``), or when the
current set has it and the candidate does not. Any failure refuses the promotion with a message
naming the metric, both values and the tolerance. The first promotion (no current alias) passes.
``force=True`` overrides a refusal and needs a reason; it is recorded on the promoted versions
(tags ``promotion.forced_reason``, with ``promotion.by`` / ``promotion.at`` on every promotion).

**History.** Each promotion appends the set it replaces (component → version, or null where the
component had no such alias) to a JSON list kept in the registered-model tag
``s2v.alias_history.<alias>`` of every component involved (the same list on each); ``rollback``
pops the last entry and points the alias back at it (deleting it where it was null).
"""

from __future__ import annotations

import getpass
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from speech2video.errors import InputError, NotFoundError, S2VError
from speech2video.evaluation.directions import metric_direction
from speech2video.model_set import COMPONENTS
from speech2video_mlops.registry import DEFAULT_ALIAS, ModelRegistry, ModelVersionRef, model_name

CANDIDATE_ALIAS = "candidate"
DEFAULT_TOLERANCE = 0.05
HISTORY_TAG = "s2v.alias_history.{alias}"
MAX_HISTORY = 20


class PromotionRefusedError(S2VError):
    """The gate refused: the candidate is worse than the current set on a metric."""

    def __init__(self, decision: PromotionDecision) -> None:
        self.decision = decision
        super().__init__(decision.refusal())


@dataclass(frozen=True)
class MetricCheck:
    """One metric of the gate; ``candidate`` is None when the candidate lacks the metric."""

    name: str
    direction: str
    current: float
    candidate: float | None
    tolerance: float
    passed: bool

    def describe(self) -> str:
        cand = "missing" if self.candidate is None else f"{self.candidate:.6g}"
        return (
            f"{self.name} ({self.direction} is better): current {self.current:.6g}, "
            f"candidate {cand}, tolerance {self.tolerance:g}"
        )


@dataclass(frozen=True)
class PromotionDecision:
    """What ``promote`` decided. ``candidate``/``previous``: component → version ("" = none)."""

    speaker: str
    alias: str
    source: str
    candidate: dict[str, str]
    previous: dict[str, str]
    checks: tuple[MetricCheck, ...]
    forced: bool
    reason: str
    applied: bool

    @property
    def failures(self) -> tuple[MetricCheck, ...]:
        return tuple(c for c in self.checks if not c.passed)

    @property
    def passed(self) -> bool:
        return not self.failures

    def refusal(self) -> str:
        worse = "; ".join(c.describe() for c in self.failures)
        return (
            f"promotion of {self.speaker} to {self.alias} refused: candidate is worse on {worse} "
            "(use --force --reason to override)"
        )


@dataclass(frozen=True)
class RollbackResult:
    """restored: component → version the alias points at now ("" = alias removed);
    replaced: component → version it pointed at before."""

    speaker: str
    alias: str
    restored: dict[str, str]
    replaced: dict[str, str]


def alias_set(registry: ModelRegistry, speaker: str, alias: str) -> dict[str, ModelVersionRef]:
    """component → the version ``alias`` points at, for the speaker's registered components."""
    out = {}
    for component in registry.speakers().get(speaker, []):
        try:
            out[component] = registry.by_alias(speaker, component, alias)
        except NotFoundError:
            continue
    return out


def version_aliases(registry: ModelRegistry, speaker: str, component: str) -> dict[str, list[str]]:
    """version → its aliases (searching versions does not return aliases, the model does)."""
    rm = registry.client.get_registered_model(model_name(speaker, component))
    raw = rm.aliases or {}
    pairs = raw.items() if isinstance(raw, dict) else ((a.alias, a.version) for a in raw)
    out: dict[str, list[str]] = {}
    for alias, version in pairs:
        out.setdefault(str(version), []).append(alias)
    return {v: sorted(a) for v, a in out.items()}


def set_metrics(refs: Mapping[str, ModelVersionRef]) -> dict[str, float]:
    """Evaluation metrics of a set, merged over its components (in component order)."""
    merged: dict[str, float] = {}
    for component in COMPONENTS:
        if component in refs:
            merged.update(refs[component].metrics)
    return merged


def gate(
    current: Mapping[str, float], candidate: Mapping[str, float], tolerance: float
) -> tuple[MetricCheck, ...]:
    """Compare metric by metric (rules in the module doc); informational metrics are skipped."""
    if not math.isfinite(tolerance) or tolerance < 0:
        raise InputError(f"tolerance must be a number >= 0; got {tolerance}")
    checks = []
    for name in sorted(current):
        direction = metric_direction(name)
        cur = float(current[name])
        if direction is None or not math.isfinite(cur):
            continue
        cand = candidate.get(name)
        if cand is None or not math.isfinite(float(cand)):
            checks.append(MetricCheck(name, direction, cur, None, tolerance, False))
            continue
        slack = tolerance * abs(cur)
        ok = cand <= cur + slack if direction == "lower" else cand >= cur - slack
        checks.append(MetricCheck(name, direction, cur, float(cand), tolerance, bool(ok)))
    return tuple(checks)


def _history(registry: ModelRegistry, speaker: str, component: str, alias: str) -> list[dict]:
    rm = registry.client.get_registered_model(model_name(speaker, component))
    raw = (rm.tags or {}).get(HISTORY_TAG.format(alias=alias))
    if not raw:
        return []
    try:
        data = json.loads(raw)
    except json.JSONDecodeError:
        return []
    return data if isinstance(data, list) else []


def _write_history(
    registry: ModelRegistry, speaker: str, components: list[str], alias: str, history: list[dict]
) -> None:
    value = json.dumps(history[-MAX_HISTORY:], separators=(",", ":"))
    for component in components:
        registry.client.set_registered_model_tag(
            model_name(speaker, component), HISTORY_TAG.format(alias=alias), value
        )


def _point(registry: ModelRegistry, speaker: str, component: str, alias: str, version: str) -> None:
    if version:
        registry.set_alias(speaker, component, alias, version)
    else:
        registry.client.delete_registered_model_alias(model_name(speaker, component), alias)


def promote(
    registry: ModelRegistry,
    speaker: str,
    alias: str = DEFAULT_ALIAS,
    source: str = CANDIDATE_ALIAS,
    versions: Mapping[str, str] | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
    force: bool = False,
    reason: str = "",
    by: str | None = None,
) -> PromotionDecision:
    """Move ``alias`` of the speaker's set to the candidate (``versions`` or those at ``source``).

    Raises PromotionRefusedError (naming the metric) when the gate fails and ``force`` is False;
    InputError for ``force`` without a reason; NotFoundError for an unknown speaker or no
    candidate.
    """
    if force and not reason.strip():
        raise InputError("--force needs --reason: say why the gate is overridden")
    if alias == source and not versions:
        raise InputError(f"cannot promote alias {alias!r} to itself")
    registered = registry.speakers().get(speaker)
    if not registered:
        raise NotFoundError(f"no registered models for speaker {speaker!r}")
    if versions:
        cand_refs = {c: registry.version(speaker, c, str(v)) for c, v in versions.items()}
    else:
        cand_refs = alias_set(registry, speaker, source)
    if not cand_refs:
        raise NotFoundError(f"speaker {speaker!r} has no model at alias {source!r} to promote")
    current_refs = alias_set(registry, speaker, alias)
    checks = gate(set_metrics(current_refs), set_metrics(cand_refs), tolerance)
    candidate = {c: r.version for c, r in cand_refs.items()}
    previous = {c: r.version for c, r in current_refs.items()}
    decision = PromotionDecision(
        speaker, alias, source, candidate, previous, checks, force, reason.strip(), False
    )
    if not decision.passed and not force:
        raise PromotionRefusedError(decision)
    involved = sorted(set(candidate) | set(previous), key=COMPONENTS.index)
    if all(previous.get(c) == v for c, v in candidate.items()):
        return _replace_applied(decision)  # nothing moves; history unchanged
    history = _history(registry, speaker, involved[0], alias)
    now = datetime.now(UTC).isoformat(timespec="seconds")
    user = by or getpass.getuser()
    history.append({"versions": {c: previous.get(c) for c in involved}, "at": now, "by": user})
    for component, version in candidate.items():
        registry.set_alias(speaker, component, alias, version)
        tags = {"promotion.by": user, "promotion.at": now, "promotion.alias": alias}
        if force:
            tags["promotion.forced_reason"] = decision.reason
            tags["promotion.forced_failures"] = "; ".join(c.name for c in decision.failures)
        registry.set_tags(speaker, component, version, tags)
    _write_history(registry, speaker, involved, alias, history)
    return _replace_applied(decision)


def _replace_applied(decision: PromotionDecision) -> PromotionDecision:
    return replace(decision, applied=True)


def rollback(registry: ModelRegistry, speaker: str, alias: str = DEFAULT_ALIAS) -> RollbackResult:
    """Point ``alias`` back at the set it pointed at before the last promotion."""
    if not registry.speakers().get(speaker):
        raise NotFoundError(f"no registered models for speaker {speaker!r}")
    current = alias_set(registry, speaker, alias)
    if not current:
        raise NotFoundError(f"speaker {speaker!r} has no model at alias {alias!r}")
    first = sorted(current, key=COMPONENTS.index)[0]
    history = _history(registry, speaker, first, alias)
    if not history:
        raise NotFoundError(f"no earlier {alias} set of {speaker!r} to roll back to")
    entry = history.pop()
    target = {c: (v or "") for c, v in dict(entry.get("versions") or {}).items()}
    for component, version in target.items():
        _point(registry, speaker, component, alias, version)
    involved = sorted(set(target) | set(current), key=COMPONENTS.index)
    _write_history(registry, speaker, involved, alias, history)
    now = datetime.now(UTC).isoformat(timespec="seconds")
    for component, ref in current.items():
        if target.get(component, ref.version) != ref.version:
            registry.set_tags(speaker, component, ref.version, {"promotion.rolled_back_at": now})
    return RollbackResult(
        speaker,
        alias,
        dict(target),
        {c: r.version for c, r in current.items()},
    )
