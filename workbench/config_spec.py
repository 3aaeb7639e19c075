"""Source specs: one source's settings checked and normalised, and the source built.

A :class:`SourceSpec` is what every configuration form (URL, ``workbench.toml`` table,
environment variables, Grafana provisioning) turns into; :func:`build` creates the source
from it, importing the backend's module only then. Secrets stay :class:`Secret`
references. The accepted settings are described in :mod:`workbench.config`.

Example::

    >>> spec = spec_from_mapping("logs", {"url": "loki+http://loki:3100", "limit": 2000},
    ...                          origin="workbench.toml")
    >>> build(spec).limit
    2000
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from workbench.errors import ConfigError, WorkbenchError
from workbench.secrets import Secret, literal_credentials
from workbench.sources import registry
from workbench.sources.base import Source
from workbench.sources.http import Auth, Timeout

__all__ = ["COMMON_KEYS", "SourceSpec", "build", "spec_from_mapping", "spec_from_url"]

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
    """``(type, options the alias implies)`` from the registry."""
    return registry.lookup(kind, where=where).type, registry.alias_options(kind)


def _examples() -> str:
    return ", ".join(b.example for b in registry.backends() if b.example)


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
        backend = registry.lookup(m.group(1), where=where)
        if not backend.prefixed:
            raise ConfigError(f"{where}: {m.group(1)}+{m.group(2)}:// is not a {backend.type} URL",
                              hint=f"write it as {backend.example}")  # fmt: skip
        extra = registry.alias_options(m.group(1))
        return backend.type, f"{m.group(2)}://{m.group(3)}", None, extra
    scheme, colon, rest = url.partition(":")
    owner = registry.by_scheme(scheme) if colon else None
    if owner is not None and owner.location == "path":
        return owner.type, None, rest[2:] if rest.startswith("//") else rest, {}
    if owner is not None and rest.startswith("//"):
        return owner.type, url, None, {}
    if url.lower().startswith(("http://", "https://")):
        raise ConfigError(
            f"{where}: {url!r} does not say which backend it is",
            hint=f"prefix the scheme with the type, e.g. {_examples()}, or give type = ...",
        )
    raise ConfigError(f"{where}: cannot read source URL {url!r}", hint=f"use {_examples()}")


def self_describing(url: str) -> bool:
    """Whether a URL names its backend (``loki+http://``, ``postgres://``, ``files:``)."""
    scheme, colon, _ = url.partition(":")
    return bool(_URL_PREFIX.match(url)) or (bool(colon) and registry.by_scheme(scheme) is not None)


def _path_url(url: str) -> bool:
    scheme, colon, _ = url.partition(":")
    backend = registry.by_scheme(scheme) if colon else None
    return backend is not None and backend.location == "path"


def _urlsplit(url: str, *, where: str) -> Any:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
        return parts
    except ValueError as exc:
        raise ConfigError(f"{where}: cannot read URL {url!r}: {exc}") from None


def _strip_userinfo(url: str, *, where: str, keep_user: bool) -> tuple[str, str | None]:
    parts = _urlsplit(url, where=where)
    found = literal_credentials(url)
    if found:
        raise ConfigError(
            f"{where}: the URL holds a password or token, a literal credential ({', '.join(found)})",
            hint='remove it from the URL and name it with password = {env = "NAME"} '
            '(or bearer = {env = "NAME"})',
        )
    user = parts.username
    if keep_user or user is None:
        return url, user
    netloc = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment)), user


def _source_class(kind: str) -> Any:
    """The source class of a type, imported only when needed."""
    return registry.load_class(kind)


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
    if url is not None and (kind is None or _URL_PREFIX.match(url) or _path_url(url)):
        ukind, url, upath, options = _split_url(url, where=where)
        if kind is not None and _canonical(kind, where=where)[0] != ukind:
            raise ConfigError(f"{where}: type {kind!r} contradicts the URL's {ukind!r}")
        kind, path = ukind, path or upath
    if kind is None:
        types = ", ".join(b.type for b in registry.backends())
        raise ConfigError(f"{where} has no type", hint=f"add type = one of {types}")
    kind, extra = _canonical(str(kind), where=where)
    backend = registry.lookup(kind)
    dsn = backend.credentials == "dsn"  # user in the URL, password an option, driver's query
    options = {**extra, **options}
    if backend.location == "path":
        if not path:
            raise ConfigError(f"{where}: a {kind} source needs path = ...")
    elif not url:
        raise ConfigError(f"{where}: a {kind} source needs url = ...")
    username = t.pop("username", None) or t.pop("user", None)
    if url:
        url, url_user = _strip_userinfo(url, where=where, keep_user=dsn)
        if not dsn:
            username = username or url_user
        parts = _urlsplit(url, where=where)
        if not dsn and parts.query:
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
        username=str(username) if username and not dsn else None,
        password=_secret(password, field="password", where=where)
        if password is not None and not dsn
        else None,
        headers=headers,
        ca_file=str(t.pop("ca_file")) if t.get("ca_file") else None,
        verify=bool(verify),
    )
    t.pop("ca_file", None)
    timeout = _timeout(t.pop("timeout"), where=where) if "timeout" in t else None
    if dsn and password is not None:
        options["password"] = _secret(password, field="password", where=where)
    if dsn and username and url and urlsplit(url).username is None:
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
    if registry.lookup(spec.type).location == "path":
        p = Path(spec.path or "").expanduser()
        if p.is_file():
            cls = registry.load_class(spec.type, single_file=True)
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
