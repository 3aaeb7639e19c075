"""Secret references: credentials named in configuration, resolved only at connect time.

A :class:`Secret` never shows its value: not in ``repr``, ``str``, an error, a log line or
a notebook. Configuration names where the value lives (``{env = "PROM_TOKEN"}``,
``{file = "/run/secrets/token"}``); ``reveal()`` reads it when a connection is made.

Example::

    >>> from workbench.secrets import Secret
    >>> tok = Secret.env("PROM_TOKEN")
    >>> tok
    Secret(env:PROM_TOKEN)
    >>> headers = {"Authorization": f"Bearer {tok.reveal()}"}   # at connect time only
"""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import NoReturn
from urllib.parse import quote, urlsplit, urlunsplit

from workbench.errors import ConfigError

__all__ = [
    "Secret",
    "encoded_forms",
    "literal_credentials",
    "redact",
    "redact_text",
    "redact_url",
]

#: query parameters that carry a credential (``?password=``, ``?api_key=``, ``?token=``)
CREDENTIAL_PARAM = re.compile(
    r"(?i)^(?:.*[-_])?(?:token|password|passwd|pwd|secret|api_?key|apikey|auth|"
    r"authorization|access_?token|sslpassword|client_?secret|signature|sig)$"
)
_QUERY_CRED = re.compile(
    r"(?i)((?:^|[?&;])(?:[\w.-]*[-_])?(?:token|password|passwd|pwd|secret|api_?key|apikey|"
    r"auth|authorization|access_?token|sslpassword|client_?secret|signature|sig)=)[^&;\s\"'<>]*"
)
#: ``Authorization: Basic xxx`` / ``Bearer xxx`` / ``Token xxx`` anywhere in a text
_SCHEME_CRED = re.compile(
    r"(?i)\b(Basic|Bearer|Token|Digest|Negotiate|ApiKey)(\s+|%20)[A-Za-z0-9._~+/=\-]{6,}"
)
#: ``scheme://user:password@host`` anywhere in a text
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://[^\s:/@\"'<>]*):[^\s@/\"'<>]*@")
#: header-ish pairs that carry credentials (``"X-Api-Key": "..."``, ``password=...``)
_PAIR = re.compile(
    r"(?i)([\"']?(?:x-api-key|api[-_]?key|x-auth-token|password|passwd|secret|"
    r"authorization)[\"']?\s*[:=]\s*[\"']?)(?!\*\*\*)(?!Basic\b|Bearer\b)[^\s\"',;&}\[{]+"
)


class Secret:
    """A reference to a credential: from an environment variable, a file, or a value.

    The value is read by :meth:`reveal` and never rendered.
    """

    __slots__ = ("_file", "_name", "_value")

    def __init__(
        self, *, env: str | None = None, file: str | None = None, value: str | None = None
    ) -> None:
        if sum(x is not None for x in (env, file, value)) != 1:
            raise ConfigError("a secret needs exactly one of env, file or value")
        self._name = env
        self._file = file
        self._value = value

    @classmethod
    def env(cls, name: str) -> Secret:
        return cls(env=name)

    @classmethod
    def file(cls, path: str) -> Secret:
        return cls(file=path)

    @classmethod
    def value(cls, value: str) -> Secret:
        """Wrap a literal value (from a notebook prompt, say) so it is never echoed."""
        return cls(value=value)

    @classmethod
    def from_config(cls, spec: object, *, field: str) -> Secret:
        """Build from a configuration value: ``{env = "X"}``, ``{file = "p"}`` or a
        ``Secret``. Plain strings are refused, so no credential sits in a config file."""
        if isinstance(spec, Secret):
            return spec
        if isinstance(spec, Mapping) and len(spec) == 1:
            ((k, v),) = spec.items()
            if k in ("env", "file"):
                return cls(**{k: str(v)})
        raise ConfigError(
            f'{field} must be a secret reference such as {{env = "NAME"}} or '
            '{file = "/path"}, not a literal value',
            hint="move the credential into an environment variable or a file and name it",
        )

    def reveal(self) -> str:
        """The secret's value. Call only where a connection is made."""
        if self._value is not None:
            return self._value
        if self._name is not None:
            v = os.environ.get(self._name)
            if v is None:
                raise ConfigError(
                    f"environment variable {self._name} is not set",
                    hint=f"export {self._name}=... before starting Jupyter",
                )
            return v
        assert self._file is not None
        try:
            return Path(self._file).read_text().strip()
        except OSError as exc:
            raise ConfigError(
                f"cannot read secret file {self._file}: {exc.strerror}",
                hint="check the path and its permissions",
            ) from None

    def __repr__(self) -> str:
        if self._name is not None:
            return f"Secret(env:{self._name})"
        if self._file is not None:
            return f"Secret(file:{self._file})"
        return "Secret(***)"

    __str__ = __repr__

    def __reduce__(self) -> NoReturn:
        raise TypeError("secrets cannot be pickled")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and (self._name, self._file, self._value) == (
            other._name,
            other._file,
            other._value,
        )

    def __hash__(self) -> int:
        return hash((self._name, self._file, self._value))


def redact_url(url: str) -> str:
    """Drop user-info and mask credential-looking query parameters of a URL.

    >>> redact_url("https://u:pw@h/api?token=abc&q=up")
    'https://h/api?token=***&q=up'
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable url>"
    netloc = parts.netloc.rsplit("@", 1)[-1]
    query = _QUERY_CRED.sub(r"\1***", parts.query)
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def literal_credentials(url: str) -> list[str]:
    """What in ``url`` is a literal credential: ``"password in user-info"`` and the names
    of credential query parameters (``password``, ``token``, ``api_key``...). Empty when
    the URL holds none.

    >>> literal_credentials("postgres://wb@db/x?password=hunter2&sslmode=require")
    ['query parameter password']
    """
    from urllib.parse import parse_qsl

    try:
        parts = urlsplit(url)
    except ValueError:
        return []
    found = []
    if parts.password is not None:
        found.append("password in user-info")
    for k, v in parse_qsl(parts.query, keep_blank_values=True):
        if v and CREDENTIAL_PARAM.match(k):
            found.append(f"query parameter {k}")
    return found


def encoded_forms(value: str, *, min_len: int = 8) -> list[str]:
    """Every form ``value`` takes on the wire or in an echo: itself, percent-encoded,
    and base64 (standard and URL-safe) at each of the three byte alignments, so the
    value is found inside ``base64("user:" + value)`` or any longer encoded text.

    The base64 forms are the characters that depend on ``value`` alone (the groups
    shared with the bytes before and after are dropped), so they match wherever the
    value sits in the encoded text.

    >>> import base64
    >>> any(f in base64.b64encode(b"alice:" + b"s3cret-password").decode()
    ...     for f in encoded_forms("s3cret-password"))
    True
    """
    if not value:
        return []
    out = {value}
    q = quote(value, safe="")
    out.add(q)
    raw = value.encode()
    for k in range(3):
        enc = base64.b64encode(b"\0" * k + raw).decode()
        # chars fully determined by value: skip the first group if it mixes prefix bytes,
        # and drop the last group (mixes with what follows or is padded)
        start = 4 if k else 0
        full_groups = (k + len(raw)) // 3
        inner = enc[start : full_groups * 4]
        if k == 0 and (len(raw) % 3):
            inner = enc[: full_groups * 4]
        if len(inner) >= min_len:
            out.add(inner)
            out.add(inner.replace("+", "-").replace("/", "_"))
    return sorted(out, key=len, reverse=True)


def _values(secrets: Iterable[Secret | str]) -> list[str]:
    vals = []
    for s in secrets:
        if isinstance(s, Secret):
            try:
                v = s.reveal()
            except ConfigError:
                continue
        else:
            v = s
        if v:
            vals.append(v)
    return vals


def redact_text(text: str, secrets: Iterable[Secret | str] = ()) -> str:
    """``text`` with every credential masked as ``***``: the values of ``secrets`` in
    every encoding (:func:`encoded_forms`), and whatever *looks* like a credential
    whatever its value: ``Basic``/``Bearer`` header values, ``user:password@`` in URLs,
    credential query parameters and ``password=...``/``"X-Api-Key": "..."`` pairs.

    Call it on the whole text, before any clipping: a clipped text can show a prefix.

    >>> redact_text("echo: Authorization: Basic YWxpY2U6czNjcmV0 from http://a:b@h/?token=x")
    'echo: Authorization: Basic *** from http://a:***@h/?token=***'
    """
    for v in _values(secrets):
        for form in encoded_forms(v, min_len=6):
            if len(form) >= 4:
                text = text.replace(form, "***")
    text = _SCHEME_CRED.sub(r"\1\2***", text)
    text = _USERINFO.sub(r"\1:***@", text)
    text = _QUERY_CRED.sub(r"\1***", text)
    return _PAIR.sub(r"\1***", text)


def redact(text: str, secrets: list[Secret] | tuple[Secret, ...]) -> str:
    """Replace any revealed value of ``secrets`` found in ``text`` with ``***``, in
    every encoding (see :func:`redact_text`)."""
    return redact_text(text, secrets)
