"""The model registry: per-speaker components as MLflow registered models, resolved by alias.

Names are ``s2v-<speaker>-<component>`` (components: :data:`speech2video.model_set.COMPONENTS`).
A version's artifacts are the component directory as the core writes it (safetensors + JSON, YAML,
npz — never pickled code). Evaluation metrics are attached to a version as tags ``metric.<name>``;
the data hashes behind it as tags ``data.<name>``. Aliases (``production``, ``candidate``) pick
what is served; stages are not used (deprecated in MLflow 3).

The embedded default store is a local sqlite database plus an artifact directory under
``$S2V_HOME`` (default ``./.s2v``); ``MLFLOW_TRACKING_URI`` points elsewhere (a server).

Outages: a registry opened with ``create=False`` (read-only commands, the serving replicas)
never makes a new store where the real one is missing; every read raises
:class:`RegistryUnavailableError`, naming where it looked, while the store is missing or
unreachable, and reconnects by itself once it is back (a sqlite file replaced under a running
process is noticed and reopened).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from speech2video.errors import InputError, NotFoundError, S2VError
from speech2video.model_set import COMPONENTS, check_component

PREFIX = "s2v"
DEFAULT_ALIAS = "production"
REGISTER_EXPERIMENT = "register"
_SPEAKER_RE = re.compile(r"^[a-z0-9][a-z0-9_]{0,62}$")
_COMPLETE = ".complete"


def s2v_home() -> Path:
    """Where the embedded defaults keep state: ``$S2V_HOME`` or ``./.s2v``."""
    return Path(os.environ.get("S2V_HOME", ".s2v")).absolute()


def default_tracking_uri(create: bool = True) -> str:
    """``$MLFLOW_TRACKING_URI`` or a sqlite database in :func:`s2v_home` (whose directory is
    made when ``create``)."""
    uri = os.environ.get("MLFLOW_TRACKING_URI")
    if uri:
        return uri
    home = s2v_home()
    if create:
        home.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{home / 'mlflow.db'}"


class RegistryUnavailableError(S2VError):
    """The model registry cannot be reached (missing store, server down)."""


def sqlite_path(uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI, None for any other store."""
    if not uri.startswith("sqlite:///"):
        return None
    return Path(uri[len("sqlite:///") :].split("?", 1)[0])


def default_artifact_root() -> str:
    """Artifact location for experiments created against the embedded sqlite store."""
    return (s2v_home() / "mlartifacts").as_uri()


def check_speaker(speaker: str) -> str:
    """Speaker ids are lowercase letters, digits and underscores (they form model names)."""
    if not isinstance(speaker, str) or not _SPEAKER_RE.fullmatch(speaker):
        shown = (
            repr(speaker[:40]) + ("..." if len(speaker) > 40 else "")
            if isinstance(speaker, str)
            else type(speaker).__name__
        )
        raise InputError(
            f"invalid speaker id {shown}: use 1-63 lowercase letters, digits or underscores"
        )
    return speaker


def model_name(speaker: str, component: str) -> str:
    """``s2v-<speaker>-<component>``."""
    return f"{PREFIX}-{check_speaker(speaker)}-{check_component(component)}"


def parse_model_name(name: str) -> tuple[str, str] | None:
    """(speaker, component) of a registered model name, or None if it is not one of ours."""
    for component in COMPONENTS:
        suffix = f"-{component}"
        if name.startswith(f"{PREFIX}-") and name.endswith(suffix):
            speaker = name[len(PREFIX) + 1 : -len(suffix)]
            if _SPEAKER_RE.match(speaker):
                return speaker, component
    return None


@dataclass(frozen=True)
class ModelVersionRef:
    """One registered version of a component, and how it was reached."""

    speaker: str
    component: str
    name: str
    version: str
    run_id: str
    source: str
    alias: str = ""
    aliases: tuple[str, ...] = ()
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def metrics(self) -> dict[str, float]:
        """Evaluation metrics attached to this version (tags ``metric.<name>``)."""
        out = {}
        for key, value in self.tags.items():
            if key.startswith("metric."):
                try:
                    out[key[len("metric.") :]] = float(value)
                except ValueError:
                    continue
        return out

    @property
    def data_hashes(self) -> dict[str, str]:
        """Data hashes behind this version (tags ``data.<name>``)."""
        return {k[len("data.") :]: v for k, v in self.tags.items() if k.startswith("data.")}

    def lineage(self) -> dict[str, str]:
        """Flat description for responses and logs."""
        return {
            "component": self.component,
            "name": self.name,
            "version": self.version,
            "alias": self.alias,
            "run_id": self.run_id,
        }


@dataclass(frozen=True)
class ResolvedComponent:
    """A version and the local directory holding its artifacts."""

    ref: ModelVersionRef
    path: Path


def _is_not_found(exc: Exception) -> bool:
    code = getattr(exc, "error_code", "")
    return code in ("RESOURCE_DOES_NOT_EXIST", "NOT_FOUND") or "not found" in str(exc).lower()


_DOWNLOAD_LOCK = threading.Lock()
#: sqlite URI → (device, inode) of the database file MLflow's cached store has open.
_OPENED: dict[str, tuple[int, int]] = {}


def _forget_stores(uri: str) -> None:
    """Drop MLflow's per-URI store caches and engines of ``uri``, so the next client opens the
    database afresh."""
    from mlflow.store.model_registry.sqlalchemy_store import SqlAlchemyStore as RegistryStore
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore as TrackingStore
    from mlflow.tracking._model_registry import utils as registry_utils
    from mlflow.tracking._tracking_service import utils as tracking_utils

    for holder in (
        registry_utils._model_registry_store_registry,
        tracking_utils._tracking_store_registry,
    ):
        if holder is not None:
            type(holder)._get_store_with_resolved_uri.cache_clear()
    for store in (TrackingStore, RegistryStore):
        engines = getattr(store, "_engine_map", {})
        with getattr(store, "_engine_map_lock", threading.Lock()):
            engine = engines.pop(uri, None)
        if engine is not None:
            engine.dispose()


class ModelRegistry:
    """Register, list, alias and resolve per-speaker components in MLflow."""

    def __init__(
        self,
        tracking_uri: str | None = None,
        cache_dir: str | Path | None = None,
        *,
        create: bool = True,
    ):
        self.tracking_uri = tracking_uri or default_tracking_uri(create)
        self.create = create
        self.cache_dir = Path(cache_dir) if cache_dir else s2v_home() / "model-cache"
        self._client: Any = None
        self._identity: tuple[int, int] | None = None

    @property
    def where(self) -> str:
        """Where the store is, for messages (a file path, or the server URI)."""
        path = sqlite_path(self.tracking_uri)
        return str(path) if path is not None else self.tracking_uri

    @property
    def client(self) -> Any:
        """The MLflow client; with ``create=False``, RegistryUnavailableError while a sqlite
        store is missing, and a fresh client when its file was replaced."""
        from mlflow import MlflowClient

        path = sqlite_path(self.tracking_uri)
        identity = None
        if path is not None:
            try:
                st = path.stat()
                identity = (st.st_dev, st.st_ino)
            except OSError:
                if not self.create:
                    raise RegistryUnavailableError(
                        f"model registry unavailable: no registry at {path} (set S2V_HOME or "
                        "MLFLOW_TRACKING_URI, or --tracking-uri)"
                    ) from None
        if identity != _OPENED.get(self.tracking_uri, identity):
            _forget_stores(
                self.tracking_uri
            )  # MLflow caches a store (and its open database) per URI
            self._client = None
        if self._client is None or identity != self._identity:
            self._client = MlflowClient(
                tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri
            )
            self._identity = identity
        if identity is not None:
            _OPENED[self.tracking_uri] = identity
        return self._client

    def _unavailable(self, exc: Exception) -> RegistryUnavailableError:
        """A read that failed for another reason than not-found: the store is unreachable."""
        self._client = None  # reconnect on the next call
        _forget_stores(self.tracking_uri)
        kind = type(exc).__name__
        return RegistryUnavailableError(f"model registry unavailable at {self.where} ({kind})")

    # ------------------------------------------------------------------ writing

    def experiment_id(self, name: str) -> str:
        """Id of the experiment ``name``, created (with a local artifact root) if missing."""
        exp = self.client.get_experiment_by_name(name)
        if exp is not None:
            return exp.experiment_id
        location = default_artifact_root() if self.tracking_uri.startswith("sqlite") else None
        return self.client.create_experiment(name, artifact_location=location)

    def register(
        self,
        speaker: str,
        component: str,
        directory: str | Path,
        *,
        run_id: str | None = None,
        metrics: dict[str, float] | None = None,
        tags: dict[str, str] | None = None,
        alias: str | None = None,
    ) -> ModelVersionRef:
        """Log ``directory`` as artifacts (of ``run_id``, or of a new run in the ``register``
        experiment) and create a new version of ``s2v-<speaker>-<component>``."""
        name = model_name(speaker, component)
        src = Path(directory)
        if not src.is_dir() or not any(src.iterdir()):
            raise InputError(f"{component} directory is missing or empty: {src}")
        if run_id is None:
            run = self.client.create_run(
                self.experiment_id(REGISTER_EXPERIMENT),
                tags={"speaker": speaker, "component": component},
            )
            run_id = run.info.run_id
            self.client.set_terminated(run_id)
        artifact_path = f"model/{component}"
        self.client.log_artifacts(run_id, str(src), artifact_path)
        source = f"{self.client.get_run(run_id).info.artifact_uri}/{artifact_path}"
        try:
            self.client.get_registered_model(name)
        except Exception as exc:
            if not _is_not_found(exc):
                raise
            self.client.create_registered_model(
                name, tags={"speaker": speaker, "component": component}
            )
        version_tags = {"speaker": speaker, "component": component, **(tags or {})}
        version_tags.update({f"metric.{k}": repr(float(v)) for k, v in (metrics or {}).items()})
        mv = self.client.create_model_version(name, source, run_id=run_id, tags=version_tags)
        if alias:
            self.client.set_registered_model_alias(name, alias, mv.version)
        return self.version(speaker, component, str(mv.version))

    def set_alias(self, speaker: str, component: str, alias: str, version: str) -> None:
        """Point ``alias`` at ``version`` (served without a restart by replicas that poll)."""
        self.version(speaker, component, version)  # raises NotFoundError
        self.client.set_registered_model_alias(model_name(speaker, component), alias, version)

    def set_tags(self, speaker: str, component: str, version: str, tags: dict[str, str]) -> None:
        """Attach tags (e.g. ``metric.*``, ``promotion.*``) to a version."""
        name = model_name(speaker, component)
        for key, value in tags.items():
            self.client.set_model_version_tag(name, version, key, str(value))

    # ------------------------------------------------------------------ reading

    def _ref(self, speaker: str, component: str, mv: Any, alias: str = "") -> ModelVersionRef:
        return ModelVersionRef(
            speaker=speaker,
            component=component,
            name=mv.name,
            version=str(mv.version),
            run_id=mv.run_id or "",
            source=mv.source,
            alias=alias,
            aliases=tuple(getattr(mv, "aliases", ()) or ()),
            tags=dict(mv.tags or {}),
        )

    def version(self, speaker: str, component: str, version: str) -> ModelVersionRef:
        """A given version; NotFoundError if absent."""
        name = model_name(speaker, component)
        try:
            mv = self.client.get_model_version(name, str(version))
        except RegistryUnavailableError:
            raise
        except Exception as exc:
            if _is_not_found(exc):
                raise NotFoundError(f"no version {version} of model {name}") from None
            raise self._unavailable(exc) from exc
        return self._ref(speaker, component, mv)

    def by_alias(self, speaker: str, component: str, alias: str = DEFAULT_ALIAS) -> ModelVersionRef:
        """The version ``alias`` points at; NotFoundError naming ``name@alias`` if none."""
        name = model_name(speaker, component)
        try:
            mv = self.client.get_model_version_by_alias(name, alias)
        except RegistryUnavailableError:
            raise
        except Exception as exc:
            if _is_not_found(exc):
                raise NotFoundError(f"no model {name}@{alias}") from None
            raise self._unavailable(exc) from exc
        return self._ref(speaker, component, mv, alias)

    def versions(self, speaker: str, component: str) -> list[ModelVersionRef]:
        """All versions of a component, newest first."""
        name = model_name(speaker, component)
        try:
            found = self.client.search_model_versions(f"name = '{name}'")
        except RegistryUnavailableError:
            raise
        except Exception as exc:
            raise self._unavailable(exc) from exc
        refs = [self._ref(speaker, component, mv) for mv in found]
        return sorted(refs, key=lambda r: int(r.version), reverse=True)

    def speakers(self) -> dict[str, list[str]]:
        """Registered speakers and their components."""
        out: dict[str, list[str]] = {}
        try:
            found = self.client.search_registered_models(filter_string=f"name LIKE '{PREFIX}-%'")
        except RegistryUnavailableError:
            raise
        except Exception as exc:
            raise self._unavailable(exc) from exc
        for rm in found:
            parsed = parse_model_name(rm.name)
            if parsed:
                out.setdefault(parsed[0], []).append(parsed[1])
        return {k: sorted(v) for k, v in sorted(out.items())}

    def download(self, ref: ModelVersionRef) -> Path:
        """Local directory with the version's artifacts, cached by (name, version)."""
        import mlflow.artifacts

        target = self.cache_dir / ref.name / ref.version
        if (target / _COMPLETE).is_file():
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{ref.version}-", dir=target.parent))
        try:
            try:
                local = mlflow.artifacts.download_artifacts(
                    artifact_uri=ref.source, dst_path=str(tmp), tracking_uri=self.tracking_uri
                )
            except Exception as exc:
                raise RegistryUnavailableError(
                    f"model registry unavailable: artifacts of {ref.name} v{ref.version} "
                    f"could not be fetched ({type(exc).__name__})"
                ) from exc
            (Path(local) / _COMPLETE).write_text(ref.run_id)
            with _DOWNLOAD_LOCK:  # a model being loaded from target is never swept away
                if not (target / _COMPLETE).is_file():
                    if target.exists():
                        shutil.rmtree(target)
                    Path(local).rename(target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return target

    def resolve(
        self, speaker: str, component: str, alias: str = DEFAULT_ALIAS
    ) -> ResolvedComponent:
        """The version behind ``alias`` and its local artifact directory."""
        ref = self.by_alias(speaker, component, alias)
        return ResolvedComponent(ref, self.download(ref))
