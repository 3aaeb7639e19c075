"""Translate psycopg exceptions into the workbench error tree, with secrets scrubbed.

=================================================  ===========================================
what happened                                      error
=================================================  ===========================================
refused, DNS, connect timeout, server shut down    ``SourceUnavailable``
connection lost while a query or COPY ran          ``SourceUnavailable`` (never a short frame)
wrong password (SQLSTATE 28P01), no such role      ``AuthError``
permission denied (42501)                          ``AuthError`` (hint: GRANT)
statement timeout (57014)                          ``QueryError`` error_type 57014 + hint
missing table (42P01)                              ``QueryError`` hint: ``workbench schema init``
any other SQL error                                ``QueryError`` error_type = SQLSTATE,
                                                   detail = the server's message
=================================================  ===========================================

libpq messages can echo connection parameters, so every message goes through
:func:`scrub` (the password, ``password=...`` pairs and URL user-info are removed) and the
original exception is chained only when its text held nothing secret.
"""

from __future__ import annotations

import re
from typing import Any

from workbench.errors import AuthError, QueryError, SourceError, SourceUnavailable
from workbench.secrets import Secret

__all__ = ["scrub", "translate"]

_PW_PAIR = re.compile(r"(?i)(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)")
_URL_USERINFO = re.compile(r"(?i)(postgres(?:ql)?(?:\+\w+)?://[^:/@\s]*):[^@\s]*@")
_AUTH_TEXT = (
    "password authentication failed",
    "no password supplied",
    "fe_sendauth",
    "authentication failed",
    "pg_hba.conf",
    'role "',
)


def scrub(text: str, password: Secret | None) -> str:
    """``text`` without the password, ``password=...`` pairs or URL credentials."""
    if password is not None:
        try:
            value = password.reveal()
        except Exception:
            value = ""
        if value:
            text = text.replace(value, "***")
    text = _PW_PAIR.sub(r"\1***", text)
    return _URL_USERINFO.sub(r"\1:***@", text)


def translate(
    exc: BaseException,
    *,
    source: str,
    password: Secret | None,
    query: str | None = None,
    window: object | None = None,
    connecting: bool = False,
) -> SourceError:
    """The workbench error for a psycopg exception (the caller raises it ``from``)."""
    import psycopg
    from psycopg import errors as pe

    raw = str(exc).strip()
    message = scrub(raw, password)
    sqlstate = getattr(exc, "sqlstate", None)
    diag = getattr(exc, "diag", None)
    primary = getattr(diag, "message_primary", None) if diag is not None else None
    detail = scrub(primary or message, password)
    kw: dict[str, Any] = {"source": source, "query": query, "window": window}

    if isinstance(exc, pe.InvalidPassword | pe.InvalidAuthorizationSpecification) or (
        sqlstate in ("28P01", "28000")
    ):
        err: SourceError = AuthError(
            "PostgreSQL refused the credentials",
            error_type=sqlstate or "28P01",
            detail=detail,
            hint="check the user name and the password secret (e.g. PGPASSWORD)",
            **kw,
        )
    elif connecting and any(t in raw.lower() for t in _AUTH_TEXT):
        err = AuthError(
            "PostgreSQL refused the credentials",
            error_type="28P01" if "password" in raw.lower() else "28000",
            detail=detail,
            hint="check the user name and the password secret (e.g. PGPASSWORD)",
            **kw,
        )
    elif isinstance(exc, pe.InsufficientPrivilege):
        err = AuthError(
            "permission denied",
            error_type=sqlstate,
            detail=detail,
            hint="ask for SELECT (and INSERT for loading) on the workbench schema",
            **kw,
        )
    elif isinstance(exc, pe.QueryCanceled):
        err = QueryError(
            "the query ran longer than the statement timeout and was cancelled",
            error_type=sqlstate or "57014",
            detail=detail,
            hint="narrow the window or the services, aggregate on the server "
            "(metrics_aggregated), or raise the timeout",
            **kw,
        )
    elif isinstance(exc, pe.UndefinedTable):
        err = QueryError(
            "a table is missing",
            error_type=sqlstate,
            detail=detail,
            hint="create the tables with `workbench schema init URL`, or check the schema name",
            **kw,
        )
    elif connecting or isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
        what = "cannot connect to PostgreSQL" if connecting else "lost the PostgreSQL connection"
        err = SourceUnavailable(
            what,
            error_type=sqlstate,
            detail=detail,
            hint="check that the server is up and reachable (host, port, firewall); "
            "a load that was cut off returned nothing, so retry it",
            **kw,
        )
    else:
        err = QueryError(
            "PostgreSQL rejected the query",
            error_type=sqlstate,
            detail=detail,
            hint="fix the SQL (see detail); parameters go in `params`, never in the text",
            **kw,
        )
    return err


def leaks(exc: BaseException, password: Secret | None) -> bool:
    """True if ``exc``'s text would reveal something :func:`scrub` removes."""
    raw = str(exc)
    return scrub(raw, password) != raw
