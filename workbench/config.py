"""Sources from a URL, ``workbench.toml``, environment variables or Grafana provisioning.

Three ways to say where the data lives, all ending in the same :class:`SourceSpec`:

**A URL** whose scheme names the backend::

    prometheus+https://host:9090   (also thanos+, mimir+, victoriametrics+)
    loki+http://host:3100?tenant=team-a&limit=2000
    tempo+http://host:3200   jaeger+http://host:16686   alertmanager+http://host:9093
    clickhouse+http://host:8123 (OpenTelemetry exporter tables otel_logs, otel_traces)
    postgres://wb@db:5432/telemetry (also timescale://)      files:///data/inc-123

Query parameters that name a constructor option of the source (``limit``, ``tenant``,
``timeout``...) become options; a password in a URL is refused.

**workbench.toml** (``[sources.<name>]`` tables)::

    [sources.prom]
    type = "prometheus"                      # or url = "prometheus+https://host:9090"
    url = "https://host:9090"
    bearer = { env = "PROM_TOKEN" }          # secrets are references: {env=..} / {file=..}
    headers = { "X-Scope-OrgID" = "team-a" }
    ca_file = "/etc/ssl/my-ca.pem"
    timeout = 20                             # read seconds, or { connect = 3, read = 20 }

    [sources.pg]
    type = "postgres"
    url = "postgres://wb@db:5432/telemetry"
    password = { env = "PGPASSWORD" }

    [sources.files]
    type = "files"
    path = "/data/inc-123"

    grafana = "/etc/grafana/provisioning/datasources/ds.yaml"   # optional: import these

    [grafana]                  # or this table: Explore links, annotations, provisioning
    url = "https://grafana.example.com"      # (see workbench.grafana_config)
    token_env = "GRAFANA_TOKEN"

Common keys: ``type, url, path, bearer (or token), username (or user), password,
headers, ca_file, verify, tenant, timeout``; any other key must be a keyword option of
the source class (``limit = 2000`` for Loki, ``flavor = "thanos"`` for Prometheus...).
A literal credential (``password = "hunter2"``, a literal ``Authorization`` header) is
refused with a :class:`ConfigError`. Relative ``path`` and ``ca_file`` values are
relative to the configuration file.

**Environment variables**::

    WORKBENCH_SOURCES="prometheus+http://localhost:9090,logs=loki+http://localhost:3100"
    WORKBENCH_PROM_URL=prometheus+https://host:9090   # defines source "prom"
    WORKBENCH_PROMETHEUS_URL=https://host:9090        # type from the name when it is one
    WORKBENCH_<NAME>_TOKEN / _USER / _PASSWORD / _TENANT / _CA_FILE / _TIMEOUT / _TYPE

Items of ``WORKBENCH_SOURCES`` are ``[name=]url``; unnamed ones are named after their
type. ``_TOKEN`` and ``_PASSWORD`` are read only when the source connects (they become
``{env = "WORKBENCH_<NAME>_TOKEN"}`` references). Environment sources override file
sources of the same name.

**Grafana provisioning** (``apiVersion: 1``, ``datasources: [...]``): see
:mod:`workbench.config_grafana`.

Example::

    >>> import workbench as wb
    >>> prom = wb.connect("prometheus+http://localhost:9090")
    >>> sources = wb.load_config()          # ./workbench.toml, then $WORKBENCH_CONFIG, + env
    >>> loki = wb.connect("logs")           # a source named in the configuration
"""

from __future__ import annotations

import logging
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from workbench.config_spec import (
    SourceSpec,
    _split_url,
    build,
    self_describing,
    spec_from_mapping,
    spec_from_url,
)
from workbench.errors import ConfigError
from workbench.sources import registry
from workbench.sources.base import Source

__all__ = [
    "SourceSpec",
    "build",
    "connect",
    "env_specs",
    "load_config",
    "read_file",
    "read_specs",
    "spec_from_mapping",
    "spec_from_url",
]

log = logging.getLogger(__name__)


# -- files and environment -------------------------------------------------------------------
def _read_toml(path: Path) -> dict[str, SourceSpec]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    from workbench.grafana_config import TABLE, annotations_spec, grafana_from_table

    specs: dict[str, SourceSpec] = {}
    grafana = data.get(TABLE)
    if isinstance(grafana, Mapping):  # [grafana]: links, annotations, provisioning
        g, annotations, provisioning = grafana_from_table(
            grafana, origin=str(path), base_dir=path.parent
        )
        grafana = provisioning
        if annotations:
            spec = annotations_spec(g, origin=str(path))
            specs[spec.name] = spec
    if grafana:
        from workbench.config_grafana import read_grafana

        if not isinstance(grafana, str | list):
            raise ConfigError(f"{path}: grafana must be a path or a list of paths")
        for item in [grafana] if isinstance(grafana, str) else grafana:
            specs.update(read_grafana(path.parent / str(item)))
    sources = data.get("sources", {})
    if not isinstance(sources, Mapping):
        raise ConfigError(f"{path}: [sources] must be a table of [sources.<name>] tables")
    for name, table in sources.items():
        spec = spec_from_mapping(name, table, origin=str(path))
        # relative paths in a configuration file are relative to that file
        if spec.path and not Path(spec.path).expanduser().is_absolute():
            spec = replace(spec, path=str(path.parent / spec.path))
        ca = spec.auth.ca_file
        if ca and not Path(ca).expanduser().is_absolute():
            spec = replace(spec, auth=replace(spec.auth, ca_file=str(path.parent / ca)))
        specs[name] = spec
    return specs


def read_file(path: str | Path) -> dict[str, SourceSpec]:
    """Specs from a ``workbench.toml`` or a Grafana provisioning YAML (by suffix)."""
    p = Path(path).expanduser()
    if not p.exists():
        raise ConfigError(f"configuration file {p} does not exist")
    if p.suffix.lower() in (".yaml", ".yml"):
        from workbench.config_grafana import read_grafana

        return read_grafana(p)
    return _read_toml(p)


def _env_key(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "_", name).upper()


def env_specs(environ: Mapping[str, str] | None = None) -> dict[str, SourceSpec]:
    """Specs from ``WORKBENCH_SOURCES`` and ``WORKBENCH_<NAME>_URL`` (see module doc)."""
    env = os.environ if environ is None else environ
    tables: dict[str, dict[str, Any]] = {}
    origins: dict[str, str] = {}
    for item in filter(None, (s.strip() for s in env.get("WORKBENCH_SOURCES", "").split(","))):
        name, sep, url = item.partition("=")
        if not sep or "://" in name or self_describing(name):
            name, url = "", item
        kind = _split_url(url, where="WORKBENCH_SOURCES")[0]
        name = name.strip() or kind
        if name in tables:
            n = 2
            while f"{name}_{n}" in tables:
                n += 1
            name = f"{name}_{n}"
        tables[name] = {"url": url.strip()}
        origins[name] = "env WORKBENCH_SOURCES"
    for key, url in env.items():
        m = re.fullmatch(r"WORKBENCH_([A-Z0-9_]+?)_URL", key)
        if not m or not url:
            continue
        name = m.group(1).lower()
        typ = env.get(f"WORKBENCH_{m.group(1)}_TYPE")
        if typ is None and not self_describing(url) and registry.find(name) is not None:
            typ = name
        tables[name] = {"url": url, **({"type": typ} if typ else {})}
        origins[name] = f"env {key}"
    specs = {}
    for name, table in tables.items():
        k = f"WORKBENCH_{_env_key(name)}_"
        if env.get(k + "TOKEN") is not None:
            table["bearer"] = {"env": k + "TOKEN"}
        if env.get(k + "USER"):
            table["username"] = env[k + "USER"]
        if env.get(k + "PASSWORD") is not None:
            table["password"] = {"env": k + "PASSWORD"}
        for opt in ("TENANT", "CA_FILE", "TIMEOUT"):
            if env.get(k + opt):
                table[opt.lower()] = env[k + opt]
        specs[name] = spec_from_mapping(name, table, origin=origins[name])
    return specs


def default_path() -> Path | None:
    """``./workbench.toml`` if it exists, else ``$WORKBENCH_CONFIG`` if set, else None."""
    local = Path("workbench.toml")
    if local.is_file():
        return local
    env = os.environ.get("WORKBENCH_CONFIG")
    if env:
        p = Path(env).expanduser()
        if not p.exists():
            raise ConfigError(f"WORKBENCH_CONFIG names {p}, which does not exist")
        return p
    return None


def read_specs(path: str | Path | None = None, *, env: bool = True) -> dict[str, SourceSpec]:
    """All source specs: from ``path`` (default :func:`default_path`) then the environment."""
    p = Path(path) if path is not None else default_path()
    specs = read_file(p) if p is not None else {}
    if env:
        specs.update(env_specs())
    return specs


def load_config(path: str | Path | None = None, *, env: bool = True) -> dict[str, Source]:
    """Every configured source, by name.

    ``path``: a ``workbench.toml`` or Grafana datasource YAML; default ``./workbench.toml``,
    then ``$WORKBENCH_CONFIG``. Sources from environment variables are added (``env=False``
    to skip them). Secrets are read when a source first connects.

    >>> sources = load_config("workbench.toml")
    >>> sources["prom"].metrics(None, window, services=["checkout"])
    """
    return {name: build(spec) for name, spec in read_specs(path, env=env).items()}


def connect(url_or_name: str | Source, **kw: Any) -> Source:
    """A source from a URL (``prometheus+https://host:9090``, ``files:///data/x``...) or the
    name of a configured source, with settings as keywords.

    Keywords are the configuration keys: ``bearer=Secret.env("T")``, ``username=``,
    ``password=Secret.env("P")``, ``headers=``, ``tenant=``, ``ca_file=``, ``timeout=``,
    ``name=``, and the source's own options (``limit=2000``). Literal credentials are
    refused: wrap them with :class:`~workbench.Secret` (``Secret.value(getpass())``).

    >>> prom = connect("prometheus+http://localhost:9090", timeout=10)
    >>> loki = connect("loki+https://logs.example", tenant="team-a",
    ...                bearer=Secret.env("LOKI_TOKEN"))
    """
    if isinstance(url_or_name, Source):
        return url_or_name
    s = str(url_or_name)
    if "://" in s or self_describing(s):
        name = kw.pop("name", None)
        return build(spec_from_url(s, name=name, **kw))
    specs = read_specs()
    if s not in specs:
        known = ", ".join(sorted(specs)) or "none"
        raise ConfigError(
            f"no source named {s!r} (configured: {known})",
            hint="give a URL such as prometheus+http://host:9090, or add [sources."
            f"{s}] to workbench.toml",
        )
    spec = specs[s]
    if kw:
        extra = spec_from_mapping(s, {"type": spec.type, "url": spec.url, "path": spec.path,
                                      **kw}, origin="keywords")  # fmt: skip
        headers = {**spec.auth.headers, **extra.auth.headers}
        auth = replace(
            spec.auth,
            bearer=extra.auth.bearer or spec.auth.bearer,
            username=extra.auth.username or spec.auth.username,
            password=extra.auth.password or spec.auth.password,
            headers=headers,
            ca_file=extra.auth.ca_file or spec.auth.ca_file,
            verify=spec.auth.verify and extra.auth.verify,
        )
        spec = replace(spec, auth=auth, timeout=extra.timeout or spec.timeout,
                       options={**spec.options, **extra.options})  # fmt: skip
    return build(spec)
