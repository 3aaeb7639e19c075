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

import os
import re
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from workbench.errors import ConfigError

__all__ = ["Secret", "redact", "redact_url"]


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

    def __reduce__(self) -> object:
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
    """Drop user-info and mask credential-looking query parameters of a URL."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable url>"
    netloc = parts.netloc.rsplit("@", 1)[-1]
    query = re.sub(
        r"(?i)((?:token|password|passwd|secret|api_?key|auth)[^=&]*=)[^&]*", r"\1***", parts.query
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def redact(text: str, secrets: list[Secret] | tuple[Secret, ...]) -> str:
    """Replace any revealed value of ``secrets`` found in ``text`` with ``***``."""
    for s in secrets:
        try:
            v = s.reveal()
        except ConfigError:
            continue
        if v:
            text = text.replace(v, "***")
    return text
