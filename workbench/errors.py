"""Typed errors of the workbench.

Every failure the workbench reports is one of these, so a notebook can catch exactly what
it can handle::

    WorkbenchError
    ├── ConfigError            a setting, window or configuration file is wrong
    ├── BadData                input that breaks a format or the frame contract
    │                          (file, line, field)
    └── SourceError            a backend could not answer (always names the source)
        ├── SourceUnavailable  unreachable, refused, timed out, or a 5xx
        ├── AuthError          401/403, a wrong password or token
        ├── QueryError         the backend rejected the query (status, error type, text)
        └── LimitExceeded      a server or client limit was hit (which one, how to narrow)

Errors carry structured fields, render readably in a notebook (``_repr_html_``), and never
hold secrets or local variables: only the source name, the query, the window and the
server's own error text. Driver exceptions are translated at the source boundary and
chained with ``raise ... from exc``.

Example::

    >>> try:
    ...     incident.source("prom").metrics("up{", window)
    ... except QueryError as err:
    ...     print(err.status, err.error_type)
"""

from __future__ import annotations

import html
from typing import Any

__all__ = [
    "AuthError",
    "BadData",
    "ConfigError",
    "LimitExceeded",
    "QueryError",
    "SourceError",
    "SourceUnavailable",
    "WorkbenchError",
]


class WorkbenchError(Exception):
    """Base of every error the workbench raises.

    ``hint`` says what the user can do about it; ``details()`` returns the structured
    fields for display.
    """

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def details(self) -> dict[str, Any]:
        """Structured fields of this error (never secrets)."""
        return {}

    def __str__(self) -> str:
        parts = [self.message]
        fields = {k: v for k, v in self.details().items() if v is not None and v != ""}
        if fields:
            parts.append("; ".join(f"{k}={v}" for k, v in fields.items()))
        if self.hint:
            parts.append(f"what to do: {self.hint}")
        return " | ".join(parts)

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><th style='text-align:left'>{html.escape(str(k))}</th>"
            f"<td style='text-align:left'>{html.escape(str(v))}</td></tr>"
            for k, v in self.details().items()
            if v is not None and v != ""
        )
        hint = f"<p><b>What to do:</b> {html.escape(self.hint)}</p>" if self.hint else ""
        return (
            f"<div class='wb-error'><b>{type(self).__name__}</b>: {html.escape(self.message)}"
            f"<table>{rows}</table>{hint}</div>"
        )


class ConfigError(WorkbenchError):
    """A setting, time window or configuration file is wrong."""


class BadData(WorkbenchError):
    """Input that breaks a format or the frame contract.

    Names where: ``path`` (file), ``line`` (1-based), ``field`` (column or JSON key).
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        field: str | None = None,
        source: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.path = path
        self.line = line
        self.field = field
        self.source = source

    def details(self) -> dict[str, Any]:
        return {"source": self.source, "path": self.path, "line": self.line, "field": self.field}


class SourceError(WorkbenchError):
    """A backend could not answer. Always names the source."""

    def __init__(
        self,
        message: str,
        *,
        source: str,
        query: str | None = None,
        window: object | None = None,
        status: int | None = None,
        error_type: str | None = None,
        detail: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.source = source
        self.query = query
        self.window = window
        self.status = status
        self.error_type = error_type
        self.detail = detail

    def details(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "query": self.query,
            "window": str(self.window) if self.window is not None else None,
            "status": self.status,
            "error_type": self.error_type,
            "detail": self.detail,
        }


class SourceUnavailable(SourceError):
    """The backend is unreachable, refused the connection, timed out or answered 5xx."""


class AuthError(SourceError):
    """The backend refused the credentials (HTTP 401/403, a wrong password)."""


class QueryError(SourceError):
    """The backend rejected the query.

    ``status`` is the HTTP status (if any), ``error_type`` and ``detail`` the server's
    own error type and text (Prometheus ``errorType``/``error``, a SQLSTATE, ...).
    """


class LimitExceeded(SourceError):
    """A server or client limit was hit: ``limit`` names it, ``hint`` says how to narrow."""

    def __init__(
        self,
        message: str,
        *,
        source: str,
        limit: str,
        query: str | None = None,
        window: object | None = None,
        status: int | None = None,
        detail: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(
            message,
            source=source,
            query=query,
            window=window,
            status=status,
            detail=detail,
            hint=hint,
        )
        self.limit = limit

    def details(self) -> dict[str, Any]:
        return {**super().details(), "limit": self.limit}
