"""Translate psycopg and ADBC exceptions into the workbench error tree, with secrets scrubbed.

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

__all__ = ["connection_lost", "scrub", "translate"]

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
    """The workbench error for a psycopg or ADBC exception (the caller raises it
    ``from``, or ``from None`` when :func:`leaks` says its text held a secret)."""
    import psycopg
    from psycopg import errors as pe

    raw = str(exc).strip()
    message = scrub(raw, password)
    sqlstate = getattr(exc, "sqlstate", None)
    diag = getattr(exc, "diag", None)
    primary = getattr(diag, "message_primary", None) if diag is not None else None
    if _is_adbc(exc):  # judged by the psycopg class of the same SQLSTATE (see below)
        raw = _without_query(raw)
        message = scrub(raw, password)
        primary = _adbc_primary(exc)
        sqlstate = sqlstate or _sqlstate_from_text(raw)
        exc = _stand_in(exc, sqlstate, raw)
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


# ADBC errors carry the SQLSTATE (``exc.sqlstate``) and libpq's diagnostics
# (``exc.details``); an error met while the result streams in may come as a bare
# ``OSError`` with only libpq's text. They are judged as the psycopg exception of the same
# SQLSTATE would be, so both drivers give the same workbench errors.
_LOST_TEXT = (
    "server closed the connection",
    "no connection to the server",
    "terminating connection",
    "could not receive data",
    "could not send data",
    "connection to server",
    "failed to connect",
    "ssl syscall",
    "ssl error",
    "eof detected",
    "connection reset",
    "broken pipe",
)
_TEXT_SQLSTATE = (
    ("canceling statement due to statement timeout", "57014"),
    ("canceling statement due to user request", "57014"),
)


def _is_adbc(exc: BaseException) -> bool:
    mod = type(exc).__module__ or ""
    return mod.startswith("adbc_driver") or type(exc) is OSError


def _without_query(raw: str) -> str:
    """An ADBC message without the ``Query was: <SQL>`` it appends (the SQL holds the
    merged values, and its words must not be read as a lost connection)."""
    i = raw.find("Query was: ")
    if i < 0:
        return raw
    j = raw.rfind(". SQLSTATE: ")
    return (raw[:i].rstrip() + (" " + raw[j + 2 :] if j > i else "")).strip()


def _adbc_primary(exc: BaseException) -> str | None:
    for key, value in getattr(exc, "details", None) or []:
        k = key.decode() if isinstance(key, bytes) else str(key)
        if k == "PG_DIAG_MESSAGE_PRIMARY":
            return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    return None


def _sqlstate_from_text(raw: str) -> str | None:
    low = raw.lower()
    for text, state in _TEXT_SQLSTATE:
        if text in low:
            return state
    return None


def connection_lost(exc: BaseException | None, raw: str | None = None) -> bool:
    """Whether an ADBC error means the connection is gone (the network, a restart, a
    terminated backend) rather than a rejected query."""
    text = _without_query(raw if raw is not None else str(exc)).lower()
    status = getattr(exc, "status_code", None)
    if getattr(status, "name", "") == "IO" or "[libpq] failed to connect" in text:
        return True
    if "fatal:" in text:
        return True
    return any(t in text for t in _LOST_TEXT) and not _sqlstate_from_text(text)


def _stand_in(exc: BaseException, sqlstate: str | None, raw: str) -> BaseException:
    """The psycopg exception an ADBC error corresponds to (for the class tests above)."""
    import psycopg
    from psycopg import errors as pe

    if sqlstate:
        try:
            return pe.lookup(sqlstate)(raw)
        except KeyError:
            pass
    if connection_lost(exc, raw):
        return psycopg.OperationalError(raw)
    return psycopg.DatabaseError(raw)
