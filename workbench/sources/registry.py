"""The one table of backends: type, class, aliases, URL schemes, Grafana types, extra.

Configuration (:mod:`workbench.config_spec`, :mod:`workbench.config`), Grafana
provisioning (:mod:`workbench.config_grafana`) and the package root read this table;
no other module spells a backend's name. A backend's module is imported only when a
source of that type is built (or its class is asked for).

Third-party sources join through the entry-point group ``workbench.sources``; the
entry's name is the type, its object a :class:`Backend` or a :class:`~workbench.Source`
subclass::

    [project.entry-points."workbench.sources"]
    clickhouse = "wb_clickhouse:BACKEND"     # a Backend (aliases, schemes, Grafana types...)
    mylogs = "wb_mylogs:MyLogsSource"        # a Source subclass: mylogs+https://host

then ``type = "mylogs"`` in ``workbench.toml`` builds it. A plug-in cannot replace a
built-in type or alias (it is skipped with a logged warning).

Example::

    >>> from workbench.sources import registry
    >>> registry.lookup("thanos").type, registry.alias_options("thanos")
    ('prometheus', {'flavor': 'thanos'})
    >>> registry.load_class("loki").__name__
    'LokiSource'
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from importlib import metadata
from typing import Any, Literal

from workbench.errors import ConfigError

__all__ = [
    "BUILTIN",
    "ENTRY_POINT_GROUP",
    "Backend",
    "GrafanaDatasource",
    "alias_options",
    "backends",
    "by_grafana_type",
    "by_scheme",
    "exported",
    "find",
    "load_class",
    "load_object",
    "lookup",
]

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "workbench.sources"


@dataclass(frozen=True)
class Backend:
    """One backend's row of the registry.

    ``target``: ``"module:Class"`` of its source (imported only when needed).
    ``aliases``: other names for the type, each with the options it implies
    (``thanos`` -> ``flavor = "thanos"``). ``schemes``: bare URL schemes that name it
    (``postgres://``); every type and alias also works as a prefix, ``loki+https://``, when
    ``prefixed``. ``location``: whether it is reached by ``url`` or by ``path``.
    ``credentials``: ``"http"`` (username/password/bearer become HTTP auth) or ``"dsn"``
    (the user stays in the URL, the password is a constructor option, the query string
    is the driver's). ``grafana``: Grafana data-source types it reads, translated by
    ``grafana_options`` (``"module:function"`` taking a :class:`GrafanaDatasource`).
    ``extra``: the pip extra that installs its driver. ``file_target``: for a path
    backend, the class used when the path is one file. ``exports``: names the package
    root re-exports (``workbench.PrometheusSource``), each ``"Name"`` from ``target``'s
    module. ``example``: a URL shown in hints.
    """

    type: str
    target: str
    aliases: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    schemes: tuple[str, ...] = ()
    prefixed: bool = True
    location: Literal["url", "path"] = "url"
    credentials: Literal["http", "dsn"] = "http"
    grafana: tuple[str, ...] = ()
    grafana_options: str | None = None
    extra: str | None = None
    file_target: str | None = None
    exports: tuple[str, ...] = ()
    example: str = ""
    origin: str = "built-in"

    def names(self) -> Iterator[str]:
        """The type and its aliases, lower-case."""
        yield self.type.lower()
        yield from (a.lower() for a in self.aliases)


@dataclass(frozen=True)
class GrafanaDatasource:
    """One Grafana provisioning datasource, as a backend's ``grafana_options`` sees it.

    ``expand(value, field)`` resolves Grafana's ``$ENV``/``$__env{}``/``$__file{}``
    references in a plain setting; ``secret(value, field)`` turns a secure setting into a
    :class:`~workbench.Secret` reference (never its value)."""

    raw: Mapping[str, Any]
    url: str
    json_data: Mapping[str, Any]
    secure: Mapping[str, Any]
    where: str
    expand: Callable[[Any, str], Any]
    secret: Callable[[Any, str], Any]


_P = "workbench.sources."
BUILTIN: tuple[Backend, ...] = (
    Backend(
        "prometheus", _P + "prometheus.source:PrometheusSource",
        aliases={"prom": {}, "thanos": {"flavor": "thanos"}, "mimir": {"flavor": "mimir"},
                 "cortex": {"flavor": "mimir"}, "victoriametrics": {"flavor": "victoriametrics"},
                 "vm": {"flavor": "victoriametrics"}},
        grafana=("prometheus",), grafana_options=_P + "prometheus.grafana:options",
        extra="prometheus", exports=("PrometheusSource",),
        example="prometheus+https://host:9090",
    ),
    Backend(
        "loki", _P + "loki.source:LokiSource",
        grafana=("loki",), grafana_options=_P + "loki.grafana:options",
        exports=("LokiSource",), example="loki+http://host:3100",
    ),
    Backend(
        "tempo", _P + "tempo.source:TempoSource", grafana=("tempo",),
        exports=("TempoSource",), example="tempo+http://host:3200",
    ),
    Backend(
        "jaeger", _P + "jaeger.source:JaegerSource", grafana=("jaeger",),
        exports=("JaegerSource",), example="jaeger+http://host:16686",
    ),
    Backend(
        "alertmanager", _P + "alertmanager.source:AlertmanagerSource", grafana=("alertmanager",),
        exports=("AlertmanagerSource",), example="alertmanager+http://host:9093",
    ),
    Backend(
        "kubernetes", _P + "kubernetes.source:KubernetesSource", aliases={"k8s": {}},
        exports=("KubernetesSource",), example="kubernetes+https://host:6443",
    ),
    Backend(
        "argocd", _P + "argocd.source:ArgoCDSource", aliases={"argo-cd": {}},
        exports=("ArgoCDSource",), example="argocd+https://argocd.example.com",
    ),
    Backend(
        "grafana", _P + "grafana.source:GrafanaSource",
        exports=("GrafanaSource",), example="grafana+https://grafana.example.com",
    ),
    Backend(
        "postgres", _P + "postgres.source:PostgresSource",
        aliases={"postgresql": {}, "timescaledb": {}},
        schemes=("postgres", "postgresql", "timescale"), prefixed=False, credentials="dsn",
        grafana=("postgres", "grafana-postgresql-datasource"),
        grafana_options=_P + "postgres.grafana:options",
        extra="postgres", exports=("PostgresSource",), example="postgres://user@host/db",
    ),
    Backend(
        "clickhouse", _P + "clickhouse.source:ClickHouseSource",
        exports=("ClickHouseSource",), example="clickhouse+http://host:8123",
    ),
    Backend(
        "files", _P + "files:DirectorySource", aliases={"file": {}}, schemes=("files",),
        prefixed=False, location="path", file_target=_P + "files:FileSource",
        exports=("DirectorySource", "FileSource"), example="files:///path",
    ),
)  # fmt: skip

_builtin_names = {n: b for b in BUILTIN for n in b.names()}
_plugins: dict[str, Backend] = {}  # every name of a plug-in backend -> its row
_scanned: set[str] = set()  # entry points already looked at ("dist:name")


def _from_entry_point(ep: metadata.EntryPoint) -> Backend | None:
    dist = getattr(getattr(ep, "dist", None), "name", None) or "?"
    try:
        obj = ep.load()
    except Exception as exc:  # a broken plug-in must not break the others
        log.warning("source plug-in %s (%s) cannot be loaded: %s", ep.name, dist, exc)
        return None
    if isinstance(obj, Backend):
        backend = obj
    elif isinstance(obj, type):
        backend = Backend(ep.name, f"{ep.module}:{ep.attr}", example=f"{ep.name}+https://host")
    else:
        log.warning("source plug-in %s (%s) is neither a Backend nor a class", ep.name, dist)
        return None
    return replace(backend, origin=f"plug-in {dist}")


def _scan_plugins() -> None:
    """Register entry points not seen yet (called on a miss and when listing)."""
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        key = f"{ep.value}:{ep.name}"
        if key in _scanned:
            continue
        _scanned.add(key)
        if ep.name.lower() in _builtin_names:
            log.warning("source plug-in %s is skipped: %r is a built-in type", ep.value, ep.name)
            continue
        backend = _from_entry_point(ep)
        if backend is None:
            continue
        for name in backend.names():
            if name in _builtin_names or name in _plugins:
                log.warning("source plug-in %s: name %r is taken, skipped", ep.value, name)
                continue
            _plugins[name] = backend


def backends() -> tuple[Backend, ...]:
    """Every backend: built-in ones first, then the plug-ins installed."""
    _scan_plugins()
    seen = {id(b) for b in BUILTIN}
    extra = []
    for b in _plugins.values():
        if id(b) not in seen:
            seen.add(id(b))
            extra.append(b)
    return BUILTIN + tuple(extra)


def find(name: str) -> Backend | None:
    """The backend a type or alias names (case-insensitive), or None."""
    key = name.lower()
    hit = _builtin_names.get(key) or _plugins.get(key)
    if hit is None:
        _scan_plugins()
        hit = _plugins.get(key)
    return hit


def lookup(name: str, *, where: str = "") -> Backend:
    """Like :func:`find`, but an unknown name is a :class:`ConfigError` listing the types."""
    hit = find(name)
    if hit is None:
        prefix = f"{where}: " if where else ""
        raise ConfigError(
            f"{prefix}unknown source type {name!r}",
            hint=f"one of {', '.join(b.type for b in backends())} "
            f"(aliases: {', '.join(a for b in backends() for a in b.aliases)}); a third-party "
            f"source registers through the {ENTRY_POINT_GROUP!r} entry-point group",
        )
    return hit


def alias_options(name: str) -> dict[str, Any]:
    """The options an alias implies (``thanos`` -> ``{"flavor": "thanos"}``)."""
    backend = lookup(name)
    for alias, opts in backend.aliases.items():
        if alias.lower() == name.lower():
            return dict(opts)
    return {}


def by_scheme(scheme: str) -> Backend | None:
    """The backend owning a bare URL scheme (``postgres``, ``files``), or None."""
    key = scheme.lower()
    for b in backends():
        if key in b.schemes:
            return b
    return None


def by_grafana_type(gtype: str) -> Backend | None:
    """The backend that reads a Grafana data-source type, or None."""
    for b in backends():
        if gtype in b.grafana:
            return b
    return None


def load_object(target: str, *, backend: Backend) -> Any:
    """Import ``"module:attr"``; a missing driver is a :class:`ConfigError` naming the extra."""
    module, _, attr = target.partition(":")
    try:
        obj: Any = importlib.import_module(module)
        for part in attr.split("."):
            obj = getattr(obj, part)
        return obj
    except ImportError as exc:
        extra = (
            f"incident-workbench[{backend.extra}]" if backend.extra else "incident-workbench[all]"
        )
        if backend.origin != "built-in":
            extra = f"the {backend.origin} package's dependencies"
        raise ConfigError(
            f"the {backend.type} source cannot be loaded: {exc}",
            hint=f"install {extra}" if " " in extra else f"pip install '{extra}'",
        ) from exc


def load_class(name: str, *, single_file: bool = False) -> Any:
    """The source class of a type or alias (``single_file``: the one-file class, if any)."""
    backend = lookup(name)
    target = backend.file_target if single_file and backend.file_target else backend.target
    return load_object(target, backend=backend)


def exported() -> dict[str, Backend]:
    """Names the package root re-exports (``"PrometheusSource"``), with their backend."""
    return {name: b for b in BUILTIN for name in b.exports}


def export(name: str) -> Any:
    """Import one exported name (``workbench.PrometheusSource``) from its backend."""
    backend = exported()[name]
    module = backend.target.partition(":")[0]
    return load_object(f"{module}:{name}", backend=backend)
