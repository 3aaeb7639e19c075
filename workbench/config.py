"""Sources from a URL, ``workbench.toml``, environment variables or Grafana provisioning.

Three ways to say where the data lives, all ending in the same :class:`SourceSpec`:

**A URL** whose scheme names the backend::

    prometheus+https://host:9090   (also thanos+, mimir+, victoriametrics+)
    loki+http://host:3100?tenant=team-a&limit=2000
    tempo+http://host:3200   jaeger+http://host:16686   alertmanager+http://host:9093
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

Common keys: ``type, url, path, bearer (or token), username (or user), password,
headers, ca_file, verify, tenant, timeout``; any other key must be a keyword option of
the source class (``limit = 2000`` for Loki, ``flavor = "thanos"`` for Prometheus...).
A literal credential (``password = "hunter2"``, a literal ``Authorization`` header) is
refused with a :class:`ConfigError`.

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

import inspect
import logging
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from workbench.errors import ConfigError, WorkbenchError
from workbench.secrets import Secret
from workbench.sources.base import Source
from workbench.sources.http import Auth, Timeout

__all__ = ["SourceSpec", "build", "connect", "load_config", "read_specs", "spec_from_url"]

log = logging.getLogger(__name__)

TYPES = ("prometheus", "loki", "tempo", "jaeger", "alertmanager", "postgres", "files")
_ALIASES: dict[str, tuple[str, dict[str, Any]]] = {
    "prometheus": ("prometheus", {}),
    "prom": ("prometheus", {}),
    "thanos": ("prometheus", {"flavor": "thanos"}),
    "mimir": ("prometheus", {"flavor": "mimir"}),
    "cortex": ("prometheus", {"flavor": "mimir"}),
    "victoriametrics": ("prometheus", {"flavor": "victoriametrics"}),
    "vm": ("prometheus", {"flavor": "victoriametrics"}),
    "loki": ("loki", {}),
    "tempo": ("tempo", {}),
    "jaeger": ("jaeger", {}),
    "alertmanager": ("alertmanager", {}),
    "postgres": ("postgres", {}),
    "postgresql": ("postgres", {}),
    "timescaledb": ("postgres", {}),
    "files": ("files", {}),
    "file": ("files", {}),
}
COMMON_KEYS = frozenset(
    {"type", "url", "path", "name", "bearer", "token", "username", "user", "password",
     "headers", "ca_file", "verify", "tenant", "timeout"}
)  # fmt: skip
_SENSITIVE_HEADER = re.compile(r"(?i)authorization|token|secret|key|passw|cookie|credential")
_URL_PREFIX = re.compile(r"^([A-Za-z][A-Za-z0-9-]*)\+(https?)://(.*)$", re.S)


@dataclass
class SourceSpec:
    """Everything needed to build one source; secrets stay references until it connects.

    ``origin`` says where it was defined (a file, an environment variable, a URL)."""

    name: str
    type: str
    url: str | None = None
    path: str | None = None
    auth: Auth = field(default_factory=Auth)
    timeout: Timeout | None = None
    options: dict[str, Any] = field(default_factory=dict)
    origin: str = ""


def _canonical(kind: str, *, where: str) -> tuple[str, dict[str, Any]]:
    try:
        return _ALIASES[kind.lower()]
    except KeyError:
        raise ConfigError(
            f"{where}: unknown source type {kind!r}",
            hint=f"one of {', '.join(TYPES)} (or thanos, mimir, victoriametrics)",
        ) from None


def _secret(value: Any, *, field: str, where: str) -> Secret:
    try:
        return Secret.from_config(value, field=field)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc.message}", hint=exc.hint) from None


def _headers(value: Any, *, where: str) -> dict[str, str | Secret]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: headers must be a table of name = value")
    out: dict[str, str | Secret] = {}
    for k, v in value.items():
        if isinstance(v, str) and not _SENSITIVE_HEADER.search(str(k)):
            out[str(k)] = v
        else:
            out[str(k)] = _secret(v, field=f"header {k}", where=where)
    return out


def _timeout(value: Any, *, where: str) -> Timeout:
    try:
        if isinstance(value, Timeout):
            return value
        if isinstance(value, Mapping):
            return Timeout(**{k: float(v) for k, v in value.items()})
        return Timeout(read=float(value))
    except (TypeError, ValueError):
        raise ConfigError(
            f"{where}: timeout {value!r} is not seconds or {{connect = s, read = s}}"
        ) from None


def _split_url(url: str, *, where: str) -> tuple[str, str | None, str | None, dict[str, Any]]:
    """``(type, url, path, alias options)`` from a prefixed URL."""
    m = _URL_PREFIX.match(url)
    if m:
        kind, extra = _canonical(m.group(1), where=where)
        return kind, f"{m.group(2)}://{m.group(3)}", None, dict(extra)
    low = url.lower()
    if low.startswith(("postgres://", "postgresql://", "timescale://")):
        return "postgres", url, None, {}
    if low.startswith("files:"):
        rest = url[len("files:") :]
        return "files", None, rest[2:] if rest.startswith("//") else rest, {}
    if low.startswith(("http://", "https://")):
        raise ConfigError(
            f"{where}: {url!r} does not say which backend it is",
            hint="prefix the scheme, e.g. prometheus+https://host:9090 or loki+http://host:3100, "
            "or give type = ...",
        )
    raise ConfigError(
        f"{where}: cannot read source URL {url!r}",
        hint="use prometheus+https://host:9090, loki+http://..., postgres://user@host/db "
        "or files:///path",
    )


def _urlsplit(url: str, *, where: str) -> Any:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
        return parts
    except ValueError as exc:
        raise ConfigError(f"{where}: cannot read URL {url!r}: {exc}") from None


def _strip_userinfo(url: str, *, where: str, keep_user: bool) -> tuple[str, str | None]:
    parts = _urlsplit(url, where=where)
    if parts.password is not None:
        raise ConfigError(
            f"{where}: the URL holds a password",
            hint='remove it from the URL and name it with password = {env = "NAME"}',
        )
    user = parts.username
    if keep_user or user is None:
        return url, user
    netloc = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment)), user


def _source_class(kind: str) -> Any:
    """The source class of a type, imported only when needed."""
    try:
        return _import_source_class(kind)
    except ImportError as exc:
        raise ConfigError(
            f"the {kind} source cannot be loaded: {exc}",
            hint="install the package's optional dependencies: pip install 'incident-workbench[all]'",
        ) from exc


def _import_source_class(kind: str) -> Any:
    if kind == "prometheus":
        from workbench.sources.prometheus import PrometheusSource

        return PrometheusSource
    if kind == "loki":
        from workbench.sources.loki import LokiSource

        return LokiSource
    if kind == "tempo":
        from workbench.sources.tempo import TempoSource

        return TempoSource
    if kind == "jaeger":
        from workbench.sources.jaeger import JaegerSource

        return JaegerSource
    if kind == "alertmanager":
        from workbench.sources.alertmanager import AlertmanagerSource

        return AlertmanagerSource
    if kind == "postgres":
        from workbench.sources.postgres import PostgresSource

        return PostgresSource
    from workbench.sources.files import DirectorySource

    return DirectorySource


def _params(kind: str) -> dict[str, inspect.Parameter]:
    sig = inspect.signature(_source_class(kind).__init__)
    return {k: p for k, p in sig.parameters.items() if k != "self" and p.kind != p.VAR_KEYWORD}


def _coerce(kind: str, key: str, value: str, *, where: str) -> Any:
    """A string option (URL query, environment) in the type of the parameter's default."""
    p = _params(kind).get(key)
    default = p.default if p is not None else None
    try:
        if isinstance(default, bool):
            return value.strip().lower() in ("1", "true", "yes", "on")
        if isinstance(default, int):
            return int(value)
        if isinstance(default, float):
            return float(value)
    except ValueError:
        raise ConfigError(f"{where}: option {key}={value!r} is not a number") from None
    return value


def spec_from_mapping(name: str, table: Mapping[str, Any], *, origin: str) -> SourceSpec:
    """A :class:`SourceSpec` from one ``[sources.<name>]`` table (or a keyword dict)."""
    where = f"{origin}: source {name!r}" if origin else f"source {name!r}"
    if not isinstance(table, Mapping):
        raise ConfigError(f"{where} must be a table of settings")
    t = dict(table)
    for key in ("type", "url", "path", "username", "user", "ca_file"):
        if t.get(key) is not None and not isinstance(t[key], str):
            raise ConfigError(f"{where}: {key} must be a string, not {type(t[key]).__name__}")
    for key in ("tenant",):
        if t.get(key) is not None and not isinstance(t[key], str | int):
            raise ConfigError(f"{where}: {key} must be a string")
    if not isinstance(t.get("verify", True), bool | str):
        raise ConfigError(f"{where}: verify must be true or false")
    url = t.pop("url", None)
    path = t.pop("path", None)
    kind = t.pop("type", None)
    t.pop("name", None)
    options: dict[str, Any] = {}
    if url is not None and (kind is None or _URL_PREFIX.match(url) or url.startswith("files:")):
        ukind, url, upath, options = _split_url(url, where=where)
        if kind is not None and _canonical(kind, where=where)[0] != ukind:
            raise ConfigError(f"{where}: type {kind!r} contradicts the URL's {ukind!r}")
        kind, path = ukind, path or upath
    if kind is None:
        raise ConfigError(f"{where} has no type", hint=f"add type = one of {', '.join(TYPES)}")
    kind, extra = _canonical(str(kind), where=where)
    options = {**extra, **options}
    if kind == "files":
        if not path:
            raise ConfigError(f"{where}: a files source needs path = ...")
    elif not url:
        raise ConfigError(f"{where}: a {kind} source needs url = ...")
    username = t.pop("username", None) or t.pop("user", None)
    if url:
        url, url_user = _strip_userinfo(url, where=where, keep_user=kind == "postgres")
        if kind != "postgres":
            username = username or url_user
        parts = _urlsplit(url, where=where)
        if kind != "postgres" and parts.query:
            known = set(_params(kind)) | COMMON_KEYS
            keep = []
            for k, v in parse_qsl(parts.query, keep_blank_values=True):
                if k in known and k not in ("url", "type", "path"):
                    t.setdefault(k, _coerce(kind, k, v, where=where))
                else:
                    keep.append((k, v))
            url = urlunsplit(parts._replace(query=urlencode(keep)))
    bearer = t.pop("bearer", None)
    token = t.pop("token", None)
    password = t.pop("password", None)
    headers = _headers(t.pop("headers", {}) or {}, where=where)
    tenant = t.pop("tenant", None)
    if tenant is not None:
        headers["X-Scope-OrgID"] = str(tenant)
    verify = t.pop("verify", True)
    if isinstance(verify, str):
        verify = verify.strip().lower() not in ("0", "false", "no", "off")
    auth = Auth(
        bearer=_secret(bearer or token, field="bearer", where=where) if (bearer or token) else None,
        username=str(username) if username and kind != "postgres" else None,
        password=_secret(password, field="password", where=where)
        if password is not None and kind != "postgres"
        else None,
        headers=headers,
        ca_file=str(t.pop("ca_file")) if t.get("ca_file") else None,
        verify=bool(verify),
    )
    t.pop("ca_file", None)
    timeout = _timeout(t.pop("timeout"), where=where) if "timeout" in t else None
    if kind == "postgres" and password is not None:
        options["password"] = _secret(password, field="password", where=where)
    if kind == "postgres" and username and url and urlsplit(url).username is None:
        parts = urlsplit(url)
        url = urlunsplit(parts._replace(netloc=f"{username}@{parts.netloc}"))
    allowed = _params(kind)
    unknown = [k for k in t if k not in allowed or k in ("url", "path", "auth", "timeout")]
    if unknown:
        accepted = sorted((set(allowed) | COMMON_KEYS) - {"auth", "self"})
        raise ConfigError(
            f"{where}: unknown setting(s) {', '.join(map(repr, unknown))}",
            hint=f"a {kind} source accepts {', '.join(accepted)}",
        )
    options.update(t)
    return SourceSpec(name=name, type=kind, url=url, path=path, auth=auth, timeout=timeout,
                      options=options, origin=origin)  # fmt: skip


def spec_from_url(url: str, *, name: str | None = None, **kw: Any) -> SourceSpec:
    """A :class:`SourceSpec` from a prefixed URL plus keyword settings (as in a table)."""
    kind = _split_url(url, where="URL")[0]
    spec = spec_from_mapping(name or kind, {"url": url, **kw}, origin="")
    return spec


def build(spec: SourceSpec) -> Source:
    """Create the source a :class:`SourceSpec` describes (secrets are not read yet)."""
    where = f"{spec.origin}: source {spec.name!r}" if spec.origin else f"source {spec.name!r}"
    cls = _source_class(spec.type)
    params = _params(spec.type)
    kw: dict[str, Any] = {"name": spec.name, **spec.options}
    if spec.type == "files":
        p = Path(spec.path or "").expanduser()
        if p.is_file():
            from workbench.sources.files import FileSource

            cls = FileSource
        args: tuple[Any, ...] = (p,)
    else:
        args = (spec.url,)
        ca = spec.auth.ca_file
        if ca and not Path(ca).expanduser().is_file():
            raise ConfigError(f"{where}: CA file {ca} does not exist",
                              hint="give the path of the PEM file of the server's CA")  # fmt: skip
        if "auth" in params:
            kw["auth"] = spec.auth
        elif spec.auth != Auth():
            raise ConfigError(f"{where}: a {spec.type} source takes no HTTP auth settings")
        if spec.timeout is not None:
            kw["timeout"] = spec.timeout
    try:
        return cls(*args, **kw)
    except WorkbenchError as exc:
        if isinstance(exc, ConfigError):
            raise ConfigError(f"{where}: {exc.message}", hint=exc.hint) from exc
        raise
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: {exc}") from None


# -- files and environment -------------------------------------------------------------------
def _read_toml(path: Path) -> dict[str, SourceSpec]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    specs: dict[str, SourceSpec] = {}
    grafana = data.get("grafana")
    if grafana:
        from workbench.config_grafana import read_grafana

        for g in [grafana] if isinstance(grafana, str) else list(grafana):
            specs.update(read_grafana(path.parent / str(g)))
    sources = data.get("sources", {})
    if not isinstance(sources, Mapping):
        raise ConfigError(f"{path}: [sources] must be a table of [sources.<name>] tables")
    for name, table in sources.items():
        specs[name] = spec_from_mapping(name, table, origin=str(path))
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
        if not sep or "://" in name or name.startswith("files:"):
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
        kind = env.get(f"WORKBENCH_{m.group(1)}_TYPE")
        self_describing = _URL_PREFIX.match(url) or url.lower().startswith(
            ("postgres://", "postgresql://", "timescale://", "files:")
        )
        if kind is None and not self_describing and name in _ALIASES:
            kind = name
        tables[name] = {"url": url, **({"type": kind} if kind else {})}
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
    if "://" in s or s.lower().startswith("files:"):
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
