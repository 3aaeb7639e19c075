"""Sources from a Grafana datasource provisioning file, so a team reuses what it has.

Reads ``apiVersion: 1`` files (``datasources: [{name, type, url, basicAuth, basicAuthUser,
user, database, jsonData, secureJsonData}]``) for the Grafana types that a backend of
:mod:`workbench.sources.registry` reads (Prometheus, Loki, Tempo, Jaeger, Alertmanager,
PostgreSQL, and plug-ins that declare some); other types are skipped with a logged warning.

Mapping:

- ``basicAuth`` + ``basicAuthUser`` + ``secureJsonData.basicAuthPassword`` -> basic auth
- ``jsonData.httpHeaderName<N>`` + ``secureJsonData.httpHeaderValue<N>`` -> headers
  (``X-Scope-OrgID`` for a tenant)
- ``jsonData.tlsSkipVerify`` -> ``verify=False``; ``tlsAuthWithCACert`` +
  ``secureJsonData.tlsCACert`` -> a CA file (``$__file{/path}`` is used as is; PEM text
  is written to a private temporary file)
- ``jsonData.timeout`` -> read timeout
- the rest by the backend's own ``grafana_options`` (each backend's ``grafana`` module:
  Prometheus ``prometheusType`` -> flavor and ``timeInterval`` -> scrape interval; Loki
  ``maxLines`` -> ``limit``; PostgreSQL ``url``, ``user``, ``jsonData.database``,
  ``jsonData.sslmode``, ``secureJsonData.password`` -> DSN and password)

Grafana's environment interpolation (``$VAR``, ``${VAR}``, ``$__env{VAR}``,
``$__file{path}``) is honoured: in ordinary fields it is expanded when the file is read;
in ``secureJsonData`` it becomes a secret *reference* read only when the source connects.
A literal credential in ``secureJsonData`` (a password, an ``Authorization`` header
value) is refused with :class:`~workbench.errors.ConfigError`. Client certificates
(``tlsAuth``), OAuth pass-through and SigV4 are not supported: such datasources are
skipped with a warning naming the reason.

Example::

    >>> from workbench.config_grafana import read_grafana
    >>> specs = read_grafana("/etc/grafana/provisioning/datasources/datasources.yaml")
    >>> sorted(specs)
    ['Loki', 'Prometheus', 'Tempo']
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from workbench.config_spec import SourceSpec, spec_from_mapping
from workbench.errors import ConfigError
from workbench.secrets import Secret
from workbench.sources import registry

__all__ = ["read_grafana"]

log = logging.getLogger(__name__)

_TOKEN = re.compile(
    r"\$__(?P<fn>env|file|vault)\{(?P<arg>[^}]*)\}"
    r"|\$\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)\}"
    r"|\$(?P<bare>[A-Za-z_][A-Za-z0-9_]*)"
)
_SENSITIVE_HEADER = re.compile(r"(?i)authorization|token|secret|key|passw|cookie|credential")


class _TemplateSecret(Secret):
    """A secret reference inside fixed text, e.g. ``Bearer ${TOKEN}``."""

    __slots__ = ("_prefix", "_suffix")

    def __init__(self, prefix: str, suffix: str, *, env: str | None = None,
                 file: str | None = None) -> None:  # fmt: skip
        super().__init__(env=env, file=file)
        self._prefix = prefix
        self._suffix = suffix

    def reveal(self) -> str:
        return self._prefix + super().reveal() + self._suffix

    def __repr__(self) -> str:
        return super().__repr__()[:-1] + " in template)"

    __str__ = __repr__


class _Skip(Exception):
    pass


def _expand(value: Any, *, where: str) -> Any:
    """Expand Grafana's env/file interpolation in an ordinary (non-secret) value."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if not isinstance(value, str):
        raise ConfigError(f"{where} must be a single value, not a {type(value).__name__}")

    def sub(m: re.Match[str]) -> str:
        if m.group("fn") == "file":
            try:
                return Path(m.group("arg")).read_text().strip()
            except OSError as exc:
                raise ConfigError(
                    f"{where}: cannot read {m.group('arg')}: {exc.strerror}"
                ) from None
        if m.group("fn") == "vault":
            raise ConfigError(f"{where}: $__vault{{...}} is not supported")
        var = m.group("arg") if m.group("fn") else (m.group("braced") or m.group("bare"))
        v = os.environ.get(var)
        if v is None:
            raise ConfigError(f"{where}: environment variable {var} is not set",
                              hint=f"export {var}=... (the provisioning file uses it)")  # fmt: skip
        return v

    return _TOKEN.sub(sub, value)


def _secret_ref(value: Any, *, where: str, literal_ok: bool = False) -> Secret | str:
    """A ``secureJsonData`` value as a secret reference (or, if allowed, a literal)."""
    text = value if isinstance(value, str) else None
    tokens = list(_TOKEN.finditer(text)) if text is not None else []
    if not tokens:
        if literal_ok and text is not None:
            return text
        raise ConfigError(
            f"{where} is a literal secret in the provisioning file",
            hint="write it as $ENV_VAR, ${ENV_VAR} or $__file{/path} so it is read at "
            "connect time; the workbench does not take credentials from config files",
        )
    if len(tokens) > 1:
        raise ConfigError(f"{where}: only one $VAR reference per secret is supported")
    m = tokens[0]
    if m.group("fn") == "vault":
        raise ConfigError(f"{where}: $__vault{{...}} is not supported")
    kind = "file" if m.group("fn") == "file" else "env"
    arg = m.group("arg") if m.group("fn") else (m.group("braced") or m.group("bare"))
    assert text is not None
    prefix, suffix = text[: m.start()], text[m.end() :]
    if prefix or suffix:
        return _TemplateSecret(prefix, suffix, **{kind: arg})
    return Secret(**{kind: arg})


def _ca_file(spec: Any, *, where: str) -> str:
    if isinstance(spec, str):
        m = re.fullmatch(r"\s*\$__file\{([^}]*)\}\s*", spec)
        if m:
            return m.group(1)
    pem = _expand(spec, where=where)
    if not isinstance(pem, str) or "-----BEGIN" not in pem:
        raise ConfigError(f"{where} is neither PEM text nor $__file{{/path}}")
    fd, path = tempfile.mkstemp(prefix="workbench-ca-", suffix=".pem")
    with os.fdopen(fd, "w") as fh:
        fh.write(pem)
    return path


def _datasource(ds: Mapping[str, Any], *, where: str) -> dict[str, Any]:
    """One datasource as a workbench source table (raises _Skip for unsupported ones)."""
    gtype = str(ds.get("type") or "")
    backend = registry.by_grafana_type(gtype)
    if backend is None:
        raise _Skip(f"type {gtype!r} is not a workbench source")
    kind = backend.type
    jd = ds.get("jsonData") or {}
    sjd = ds.get("secureJsonData") or {}
    if not isinstance(jd, Mapping) or not isinstance(sjd, Mapping):
        raise ConfigError(f"{where}: jsonData and secureJsonData must be mappings")
    for flag, what in (("tlsAuth", "client certificates (tlsAuth)"),
                       ("oauthPassThru", "OAuth pass-through"), ("sigV4Auth", "SigV4 auth")):  # fmt: skip
        if jd.get(flag):
            raise _Skip(f"{what} is not supported")
    url = _expand(ds.get("url"), where=f"{where}.url")
    if not isinstance(url, str) or not url:
        raise ConfigError(f"{where} has no url")
    table: dict[str, Any] = {"type": kind}
    view = registry.GrafanaDatasource(
        raw=ds, url=url, json_data=jd, secure=sjd, where=where,
        expand=lambda value, field: _expand(value, where=field),
        secret=lambda value, field: _secret_ref(value, where=field),
    )  # fmt: skip
    hook = (
        registry.load_object(backend.grafana_options, backend=backend)
        if backend.grafana_options
        else None
    )
    if backend.credentials == "dsn":  # the backend's own connection string and password
        return {**table, **(hook(view) if hook else {})}
    table["url"] = url
    if ds.get("basicAuth"):
        user = _expand(ds.get("basicAuthUser"), where=f"{where}.basicAuthUser")
        table["username"] = None if user is None else str(user)
        if sjd.get("basicAuthPassword") is None:
            raise ConfigError(
                f"{where}: basicAuth is on but secureJsonData has no basicAuthPassword"
            )
        table["password"] = _secret_ref(
            sjd["basicAuthPassword"], where=f"{where}.secureJsonData.basicAuthPassword"
        )
    headers: dict[str, Any] = {}
    for key, hname in jd.items():
        m = re.fullmatch(r"httpHeaderName(\d+)", str(key))
        if not m or not hname:
            continue
        vkey = f"httpHeaderValue{m.group(1)}"
        if vkey not in sjd:
            raise ConfigError(f"{where}: jsonData.{key} has no secureJsonData.{vkey}")
        headers[str(hname)] = _secret_ref(
            sjd[vkey], where=f"{where}.secureJsonData.{vkey}",
            literal_ok=not _SENSITIVE_HEADER.search(str(hname)),
        )  # fmt: skip
    if headers:
        table["headers"] = headers
    if jd.get("tlsSkipVerify"):
        table["verify"] = False
    if jd.get("tlsAuthWithCACert") and sjd.get("tlsCACert"):
        table["ca_file"] = _ca_file(sjd["tlsCACert"], where=f"{where}.secureJsonData.tlsCACert")
    if jd.get("timeout") not in (None, ""):
        table["timeout"] = _expand(jd["timeout"], where=f"{where}.jsonData.timeout")
    if hook is not None:
        table.update(hook(view))
    return table


def read_grafana(path: str | Path) -> dict[str, SourceSpec]:
    """Source specs from a Grafana datasource provisioning YAML file, by datasource name."""
    from workbench.errors import LimitExceeded
    from workbench.limits import load_yaml, read_capped

    p = Path(path).expanduser()
    try:
        text = read_capped(p, source="grafana provisioning", cap=16 << 20).decode("utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {p}: {exc.strerror}") from None
    except (UnicodeDecodeError, LimitExceeded) as exc:
        raise ConfigError(f"cannot read {p}: {exc}") from None
    doc = load_yaml(text, where=str(p), error=ConfigError)
    if not isinstance(doc, Mapping) or "datasources" not in doc:
        raise ConfigError(f"{p} is not a Grafana datasource provisioning file",
                          hint="expected apiVersion: 1 and a datasources: list")  # fmt: skip
    if str(doc.get("apiVersion", "1")) != "1":
        raise ConfigError(f"{p}: apiVersion {doc.get('apiVersion')!r} is not supported (only 1)")
    items = doc.get("datasources") or []
    if not isinstance(items, list):
        raise ConfigError(f"{p}: datasources must be a list")
    specs: dict[str, SourceSpec] = {}
    for i, ds in enumerate(items):
        where = f"{p}: datasources[{i}]"
        if not isinstance(ds, Mapping) or not ds.get("name"):
            raise ConfigError(f"{where} has no name")
        name = str(ds["name"])
        where = f"{where} ({name})"
        try:
            table = _datasource(ds, where=where)
        except _Skip as why:
            log.warning("%s skipped: %s", where, why)
            continue
        if name in specs:
            raise ConfigError(f"{where}: a datasource named {name!r} is defined twice")
        specs[name] = spec_from_mapping(name, table, origin=f"{p} datasources[{i}]")
    return specs
