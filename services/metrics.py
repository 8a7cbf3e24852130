"""Prometheus metrics of the applications, made per process on first use (never at import).

Inside a Serve replica they are ``ray.serve.metrics`` objects: Ray exports them, prefixed
``ray_`` and tagged with Serve's ``application``, ``deployment`` and ``replica``, on each node's
metrics port, beside Serve's own ``ray_serve_*`` series (``docs/operations.md``, Monitor).
Elsewhere (tests, a process without Serve) they are ``prometheus_client`` objects in a registry
of their own (:func:`registry`).

Series (``app`` is our application name, ``method`` the RPC, ``code`` the gRPC status name):

- ``s2v_requests_total{app,method,code}``, ``s2v_request_seconds{app,method,code}``: calls and
  their latency, measured in the replica;
- ``s2v_ongoing_requests{app,method}``: calls running in this replica (its queue depth);
- ``s2v_first_chunk_seconds{app,method}``: time to the first message of a streaming RPC;
- ``s2v_stage_calls_total{app,method,code}``, ``s2v_stage_call_seconds``: the gateway's calls
  of each stage as the gateway saw them (including those Serve refused before a replica);
- ``s2v_admission_rejections_total{app,method}``: RESOURCE_EXHAUSTED answers (an application's
  queue full);
- ``s2v_frames_rendered_total{app,method}`` (its ``rate()`` is frames per second) and
  ``s2v_render_fps{app,method}`` per render;
- ``s2v_models_loaded{speaker,component,version}``: 1 for each model version this replica
  holds, 0 once it is dropped.
"""

from __future__ import annotations

import functools
import os
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any

LATENCY_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 60, 120, 300)
FPS_BUCKETS = (1, 2, 5, 10, 15, 20, 25, 30, 45, 60, 90, 120, 240)


_METHODS = {"counter": "inc", "histogram": "observe", "gauge": "set"}


class Metric:
    """One counter, histogram or gauge of either backend: ``record(value, **tags)``.

    Ray exports a gauge's value only for a short while after it was set (its agent drops series
    not refreshed within two export intervals), so a Ray gauge keeps its last values and
    :class:`_Refresher` sets them again every :data:`REFRESH_S`; a value of 0 is sent once more
    and then forgotten unless ``keep_zero``."""

    def __init__(self, kind: str, impl: Any, ray: bool, keep_zero: bool = True) -> None:
        self.kind, self._impl, self._ray, self.keep_zero = kind, impl, ray, keep_zero
        self._last: dict[tuple[tuple[str, str], ...], float] = {}
        self._lock = threading.Lock()

    def record(self, value: float, **tags: str) -> None:
        method = _METHODS[self.kind]
        if not self._ray:
            getattr(self._impl.labels(**tags), method)(value)
            return
        self._impl_record(value, tags)
        if self.kind == "gauge":
            with self._lock:
                self._last[tuple(sorted(tags.items()))] = value
            _refresher().watch(self)

    def _impl_record(self, value: float, tags: dict[str, str]) -> None:
        getattr(self._impl, _METHODS[self.kind])(value, tags=tags)

    def refresh(self) -> None:
        """Set every kept gauge value again (zeros once, unless ``keep_zero``)."""
        with self._lock:
            values = list(self._last.items())
            for key, value in values:
                if value == 0 and not self.keep_zero:
                    del self._last[key]
        for key, value in values:
            self._impl_record(value, dict(key))


#: Seconds between refreshes of Ray gauges (Ray keeps a gauge's series for two export intervals).
REFRESH_S = 2.0


class _Refresher:
    """A daemon thread, started with the first Ray gauge, refreshing the gauges it watches."""

    def __init__(self) -> None:
        self._gauges: list[Metric] = []
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def watch(self, gauge: Metric) -> None:
        with self._lock:
            if not any(g is gauge for g in self._gauges):
                self._gauges.append(gauge)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="s2v-gauges", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            time.sleep(REFRESH_S)
            with self._lock:
                gauges = list(self._gauges)
            for gauge in gauges:
                try:
                    gauge.refresh()
                except Exception:  # pragma: no cover - Ray shutting down
                    return


@functools.cache
def _refresher() -> _Refresher:
    return _Refresher()


def _in_replica() -> bool:
    if "ray.serve" not in sys.modules:  # no Serve in this process
        return False
    try:
        from ray import serve

        serve.get_replica_context()
    except Exception:
        return False
    return True


@functools.cache
def registry() -> Any:
    """The ``prometheus_client`` registry metrics go to outside Serve (tests read it)."""
    from prometheus_client import CollectorRegistry

    return CollectorRegistry()


def _make(
    kind: str,
    name: str,
    doc: str,
    tags: Sequence[str],
    buckets: Sequence[float] = (),
    keep_zero: bool = True,
) -> Metric:
    if _in_replica():
        from ray.serve import metrics as serve_metrics

        tag_keys = tuple(tags)
        if kind == "counter":
            return Metric(kind, serve_metrics.Counter(name, doc, tag_keys=tag_keys), True)
        if kind == "gauge":
            gauge = serve_metrics.Gauge(name, doc, tag_keys=tag_keys)
            return Metric(kind, gauge, True, keep_zero)
        bounds = list(buckets)
        return Metric(kind, serve_metrics.Histogram(name, doc, bounds, tag_keys=tag_keys), True)
    import prometheus_client as prom

    reg = registry()
    labels = list(tags)
    if kind == "counter":
        return Metric(kind, prom.Counter(name, doc, labels, registry=reg), False)
    if kind == "gauge":
        return Metric(kind, prom.Gauge(name, doc, labels, registry=reg), False)
    return Metric(kind, prom.Histogram(name, doc, labels, registry=reg, buckets=buckets), False)


class AppMetrics:
    """The series of this process (see the module docstring)."""

    def __init__(self) -> None:
        call, done = ("app", "method"), ("app", "method", "code")
        self.requests = _make("counter", "s2v_requests_total", "RPCs served", done)
        self.latency = _make(
            "histogram", "s2v_request_seconds", "RPC latency, s", done, LATENCY_BUCKETS_S
        )
        self.ongoing = _make("gauge", "s2v_ongoing_requests", "RPCs running in the replica", call)
        self.first_chunk = _make(
            "histogram",
            "s2v_first_chunk_seconds",
            "time to a streaming RPC's first message, s",
            call,
            LATENCY_BUCKETS_S,
        )
        self.stage_calls = _make("counter", "s2v_stage_calls_total", "stage calls made", done)
        self.stage_latency = _make(
            "histogram", "s2v_stage_call_seconds", "stage call latency, s", done, LATENCY_BUCKETS_S
        )
        self.rejections = _make(
            "counter", "s2v_admission_rejections_total", "calls refused as overloaded", call
        )
        self.frames = _make("counter", "s2v_frames_rendered_total", "frames rendered", call)
        self.render_fps = _make(
            "histogram", "s2v_render_fps", "frames per second of a render", call, FPS_BUCKETS
        )
        self.models_loaded = _make(
            "gauge",
            "s2v_models_loaded",
            "model versions loaded in the replica (1 loaded, 0 dropped)",
            ("speaker", "component", "version"),
            keep_zero=False,
        )
        self.audio_decodes = _make(
            "counter",
            "s2v_audio_decodes_total",
            "encoded audio decoded (gateway: 1 a call)",
            ("app",),
        )
        self._ongoing: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()

    def ongoing_delta(self, app: str, method: str, delta: int) -> None:
        with self._lock:
            key = (app, method)
            self._ongoing[key] = value = self._ongoing.get(key, 0) + delta
        self.ongoing.record(value, app=app, method=method)


_METRICS: AppMetrics | None = None


def count_decode() -> None:
    """One encoded audio decoded in this process, tagged with its Serve application ("local"
    outside a replica): a synthesis call decodes once, in the gateway."""
    app = "local"
    if _in_replica():
        from ray import serve

        app = serve.get_replica_context().app_name
    metrics().audio_decodes.record(1, app=app)


_METRICS_LOCK = threading.Lock()


def metrics() -> AppMetrics:
    """This process's metrics, made on first use."""
    global _METRICS
    with _METRICS_LOCK:
        if _METRICS is None:
            _METRICS = AppMetrics()
        return _METRICS


class ModelInventory:
    """Which model versions this replica holds, kept in ``s2v_models_loaded``.

    Each speaker's models are reported by their owner (a ``SpeakerModels``); a later owner of the
    same speaker replaces an earlier one, and an owner dropped after being replaced changes
    nothing."""

    def __init__(self) -> None:
        self._held: dict[str, tuple[int, frozenset[tuple[str, str]]]] = {}
        self._lock = threading.Lock()

    def report(self, owner: object, speaker: str, versions: set[tuple[str, str]]) -> None:
        """``owner`` now holds ``versions`` ((component, version) pairs) of ``speaker``."""
        with self._lock:
            old = self._held.get(speaker, (0, frozenset()))[1]
            self._held[speaker] = (id(owner), frozenset(versions))
        self._publish(speaker, old, frozenset(versions))

    def dropped(self, owner: object, speaker: str) -> None:
        """``owner``'s models of ``speaker`` were unloaded (ignored when it was replaced)."""
        with self._lock:
            held = self._held.get(speaker)
            if held is None or held[0] != id(owner):
                return
            del self._held[speaker]
        self._publish(speaker, held[1], frozenset())

    def held(self) -> dict[str, set[tuple[str, str]]]:
        with self._lock:
            return {s: set(v) for s, (_, v) in self._held.items()}

    @staticmethod
    def _publish(speaker: str, old: frozenset[Any], new: frozenset[Any]) -> None:
        gauge = metrics().models_loaded
        for component, version in old - new:
            gauge.record(0, speaker=speaker, component=component, version=version)
        for component, version in new:
            gauge.record(1, speaker=speaker, component=component, version=version)


@functools.cache
def inventory() -> ModelInventory:
    """This process's model inventory."""
    return ModelInventory()


def reset_metrics() -> None:
    """Tests: forget this process's metrics, registry and inventory (made again on next use)."""
    global _METRICS
    with _METRICS_LOCK:
        _METRICS = None
    registry.cache_clear()
    inventory.cache_clear()


#: The port Ray exports metrics on (``ray.init(_metrics_export_port=...)``); unset: Ray picks.
METRICS_PORT_ENV = "S2V_METRICS_PORT"


def metrics_export_port() -> int | None:
    """``$S2V_METRICS_PORT`` as a port number, None when unset (Ray then picks one)."""
    value = os.environ.get(METRICS_PORT_ENV, "").strip()
    return int(value) if value else None


def metrics_url() -> str | None:
    """The Prometheus endpoint of this machine's Ray node (where Serve's metrics and ours go),
    None when Ray is not running here."""
    try:
        import ray
        from ray._private.worker import global_worker

        if not ray.is_initialized():
            return None
        port = global_worker.node.metrics_export_port
    except (ImportError, AttributeError, RuntimeError):
        return None
    return f"http://127.0.0.1:{port}/metrics" if port else None
