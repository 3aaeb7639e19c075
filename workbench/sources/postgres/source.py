"""PostgreSQL and TimescaleDB as a source of metrics, logs, spans and events (ADBC + psycopg 3).

The tables are the ones ``workbench schema init URL`` creates (see
:mod:`workbench.sources.postgres.schema`); ``workbench schema load URL DIR`` fills them from a
lab scenario directory. Reads (the four signals, :meth:`PostgresSource.query`,
:meth:`PostgresSource.metrics_aggregated`) go through the ADBC PostgreSQL driver: its binary
``COPY`` arrives as Arrow record batches that polars takes as they are
(:mod:`workbench.sources.postgres.arrow_io`; it measured faster than our own COPY CSV
loader). psycopg keeps schema creation, ``COPY ... FROM STDIN`` ingest and the small
probes. Long ranges come back pre-aggregated by the server with
:meth:`PostgresSource.metrics_aggregated` (``time_bucket`` on TimescaleDB, ``date_bin`` on
plain PostgreSQL). Every value is quoted by psycopg; identifiers by :mod:`psycopg.sql`.

Example::

    >>> from workbench import PostgresSource, Secret, Window
    >>> pg = PostgresSource("postgres://wb@db.internal:5432/telemetry",
    ...                     password=Secret.env("PGPASSWORD"))
    >>> w = Window.parse("2026-11-20T11:00:00Z..2026-11-20T12:00:00Z")
    >>> pg.logs("timeout", w, services=["checkout"]).frame      # message contains "timeout"
    >>> pg.metrics_aggregated(w, "5m", agg="max", metric="process_resident_memory_bytes")
    >>> pg.query("SELECT ts, service, count(*) AS n FROM workbench.logs "
    ...          "WHERE ts >= %(start)s AND ts < %(end)s GROUP BY 1, 2", window=w).frame

Errors: unreachable -> ``SourceUnavailable``; wrong password -> ``AuthError`` (28P01);
a rejected query -> ``QueryError`` with the SQLSTATE as ``error_type`` and the server's
message as ``detail``; the statement timeout -> ``QueryError`` (57014) with a hint; more
rows than ``max_rows`` -> ``LimitExceeded`` (the stream stops there); a connection lost
mid-load -> ``SourceUnavailable`` (never a short frame); no answer within
``statement_timeout + timeout`` -> ``SourceUnavailable`` (the socket is cut). A pooled
connection the server dropped (a restart) is replaced and the read retried once, if the
query had not started yet. The password reaches libpq through a short-lived passfile for
ADBC, never through a connection string, and is scrubbed from every message.
"""

from __future__ import annotations

import logging
import math
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Literal, NoReturn, TypeVar

import polars as pl

from workbench import frames
from workbench.errors import (
    BadData,
    ConfigError,
    LimitExceeded,
    SourceUnavailable,
)
from workbench.secrets import Secret
from workbench.sources.base import Result, Signal, Source, Timer
from workbench.sources.capabilities import BucketRequest, Buckets, CapacityAggregation
from workbench.sources.postgres.watchdog import Watchdog
from workbench.timewindow import Window, parse_duration

__all__ = ["AGGREGATIONS", "PostgresSource", "aggregate_select"]

log = logging.getLogger(__name__)
T = TypeVar("T")

#: Server-side aggregations for :meth:`PostgresSource.metrics_aggregated`.
AGGREGATIONS: dict[str, str] = {
    "avg": "avg(value)",
    "min": "min(value)",
    "max": "max(value)",
    "sum": "sum(value)",
    "count": "count(*)::double precision",
    "stddev": "coalesce(stddev_samp(value), 0)",
    "first": "(array_agg(value ORDER BY ts ASC))[1]",
    "last": "(array_agg(value ORDER BY ts DESC))[1]",
    "p50": "percentile_cont(0.5) WITHIN GROUP (ORDER BY value)",
    "p90": "percentile_cont(0.9) WITHIN GROUP (ORDER BY value)",
    "p95": "percentile_cont(0.95) WITHIN GROUP (ORDER BY value)",
    "p99": "percentile_cont(0.99) WITHIN GROUP (ORDER BY value)",
}
_TIMESCALE_AGG = {"first": "first(value, ts)", "last": "last(value, ts)"}
_KV_COLUMN = {
    "metrics": "labels",
    "logs": "attributes",
    "spans": "attributes",
    "events": "attributes",
}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class PostgresSource(Source, CapacityAggregation):
    """Telemetry tables in PostgreSQL or TimescaleDB.

    Arguments (all but the first keyword-only):

    * ``dsn_or_url`` -- ``postgres://user@host:5432/db`` (also ``postgresql://``,
      ``postgresql+psycopg://``, ``timescale://``) or a libpq ``key=value`` string.
      A password written in it is moved into a :class:`Secret` and never shown.
    * TLS: towards a host that is not this machine, with no ``sslmode`` in the URL (nor
      ``PGSSLMODE``), the source verifies the server's certificate and name whenever the
      server offers TLS (``sslmode=verify-full``, CA from ``sslrootcert`` or the system
      store) and falls back to an unencrypted connection, recorded in ``describe()``
      and logged, only when the server offers no TLS at all. Opt out with
      ``?sslmode=prefer`` (encrypted, not verified) or ``?sslmode=require`` in the URL.
      Local hosts and Unix sockets keep libpq's default.
    * ``name`` -- how results and errors name this source (default ``"postgres"``).
    * ``password`` -- a :class:`Secret` (``Secret.env("PGPASSWORD")``), resolved when
      connecting. Without one libpq's own ``PGPASSWORD``/``~/.pgpass`` apply.
    * ``timeout`` -- seconds to wait for a connection (default 10), or an
      ``http.Timeout`` whose ``connect``/``read`` set the connect and statement timeouts.
    * ``statement_timeout`` -- seconds a single query may run on the server (default 60;
      ``None`` = the server's setting). A read with no answer at all for
      ``statement_timeout + timeout`` seconds (a dead network) is cut client-side:
      ``SourceUnavailable``, never a hang.
    * ``schema`` -- the schema holding the tables (default ``"workbench"``).
    * ``max_rows`` -- the largest frame one call may return (default 5,000,000;
      ``None`` = no limit); more gives :class:`~workbench.errors.LimitExceeded`.

    Methods: ``metrics``/``logs``/``spans``/``events`` (the Source interface),
    :meth:`metrics_aggregated`, :meth:`query` (your own SQL), :meth:`init_schema`,
    :meth:`ingest`, :meth:`close`.
    """

    kind: ClassVar[str] = "postgres"
    capabilities: ClassVar[frozenset[Signal]] = frozenset({"metrics", "logs", "spans", "events"})

    def __init__(
        self,
        dsn_or_url: str,
        *,
        name: str = "postgres",
        password: Secret | None = None,
        timeout: float | Any = 10.0,
        statement_timeout: float | None = 60.0,
        schema: str = "workbench",
        max_rows: int | None = 5_000_000,
        application_name: str = "incident-workbench",
    ) -> None:
        super().__init__(name=name)
        params = _parse_dsn(dsn_or_url)
        inline = params.pop("password", None)
        if inline is not None and password is not None:
            raise ConfigError(
                f"source {name!r}: a password is given both in the URL and as password=",
                hint="keep it out of the URL and pass password=Secret.env(...)",
            )
        if password is not None and not isinstance(password, Secret):
            raise ConfigError(
                f"source {name!r}: password must be a Secret, not {type(password).__name__}",
                hint='wrap it: password=Secret.env("PGPASSWORD") or Secret.value(...)',
            )
        self._password = Secret.value(inline) if inline is not None else password
        self._params = params
        #: verify TLS when offered (see the class doc); ``tls`` says what was used
        self._tls_auto = (
            "sslmode" not in params
            and not os.environ.get("PGSSLMODE")
            and not _is_local_host(params.get("host"), params.get("hostaddr"))
        )
        self.tls: str | None = params.get("sslmode") or None
        if hasattr(timeout, "connect") and hasattr(timeout, "read"):
            connect_s, statement_timeout = float(timeout.connect), float(timeout.read)
        else:
            connect_s = float(timeout)
        if connect_s <= 0 or (statement_timeout is not None and statement_timeout <= 0):
            raise ConfigError(f"source {name!r}: timeouts must be positive")
        self.connect_timeout = connect_s
        self.statement_timeout = statement_timeout
        #: client-side deadline of a read: the server's statement timeout plus the
        #: connect timeout, after which a silent connection is cut (see pg_watchdog)
        self.deadline_s = None if statement_timeout is None else statement_timeout + connect_s
        if not schema:
            raise ConfigError(f"source {name!r}: schema must not be empty")
        self.schema = schema
        if max_rows is not None and max_rows < 1:
            raise ConfigError(f"source {name!r}: max_rows must be at least 1 (or None)")
        self.max_rows = max_rows
        self.application_name = application_name
        self._conn: Any = None  # psycopg: schema, ingest, probes
        self._aconn: Any = None  # ADBC: bulk reads (metrics/logs/spans/events, query)
        self._asock: Any = None  # its socket, cut by the watchdog
        self._lock = threading.RLock()
        self._timescale: bool | None = None

    # ------------------------------------------------------------------ description
    @property
    def url(self) -> str:
        """Where this source points, without any credential."""
        p = self._params
        host = p.get("host") or p.get("hostaddr") or "localhost"
        port = f":{p['port']}" if p.get("port") else ""
        user = f"{p['user']}@" if p.get("user") else ""
        return f"postgresql://{user}{host}{port}/{p.get('dbname', '')}"

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "url": self.url,
            "schema": self.schema,
            "timescale": self._timescale,
            "max_rows": self.max_rows,
            "password": repr(self._password) if self._password else None,
            "tls": self.tls or ("verify-full when offered" if self._tls_auto else "libpq default"),
            **({"warnings": [self._plain_warning]} if self.tls == "none" else {}),
        }

    _plain_warning = "the server offers no TLS: the connection (and password) is not encrypted"

    # ------------------------------------------------------------------ connection
    def _conninfo(self, *, read_only: bool = False) -> dict[str, Any]:
        """libpq parameters of our connections (no password: see ``_connect``)."""
        options = [
            self._params.get("options", ""),
            "-c TimeZone=UTC",
            "-c DateStyle=ISO",
            "-c extra_float_digits=1",
            "-c IntervalStyle=iso_8601",
        ]
        if read_only:
            options.append("-c default_transaction_read_only=on")
        if self.statement_timeout is not None:
            options.append(f"-c statement_timeout={int(self.statement_timeout * 1000)}")
        kwargs: dict[str, Any] = {
            **self._params,
            "options": " ".join(o for o in options if o),
            "connect_timeout": max(2, math.ceil(self.connect_timeout)),
            "application_name": self.application_name,
        }
        if self._tls_auto:
            kwargs["sslmode"] = "verify-full"
            kwargs.setdefault("sslrootcert", "system")
        return kwargs

    def _open(
        self,
        connect: Callable[[dict[str, Any]], T],
        errors: tuple[type[BaseException], ...],
        *,
        read_only: bool = False,
    ) -> T:
        """``connect(params)`` with TLS verified when offered (see the class doc) and
        errors translated; shared by the psycopg and the ADBC connection."""
        from workbench.sources.postgres.errors import leaks, translate

        kwargs = self._conninfo(read_only=read_only)
        try:
            try:
                conn = connect(kwargs)
            except errors as exc:
                if not (self._tls_auto and "does not support SSL" in str(exc)):
                    raise
                kwargs["sslmode"] = "disable"
                kwargs.pop("sslrootcert", None)
                conn = connect(kwargs)
                self.tls = "none"
                log.warning("source %s: %s", self.name, self._plain_warning)
            else:
                if self._tls_auto:
                    self.tls = "verify-full"
        except errors as exc:
            err = translate(exc, source=self.name, password=self._password, connecting=True)
            text = str(exc).lower()
            if self._tls_auto and ("certificate" in text or "root.crt" in text):
                err.hint = (
                    "the server's TLS certificate did not verify: give its CA with "
                    "sslrootcert=/path/ca.pem in the URL, or opt out with ?sslmode=prefer "
                    "(encrypted, not verified)"
                )
            if leaks(exc, self._password):
                raise err from None
            raise err from exc
        return conn

    def _connect(self) -> Any:
        """The psycopg connection: schema creation, COPY-in ingest, probes (ADBC has no
        COPY FROM STDIN and no ``psycopg.sql`` composition; reads go through ADBC)."""
        import psycopg

        def connect(kwargs: dict[str, Any]) -> Any:
            if self._password is not None:
                kwargs = {**kwargs, "password": self._password.reveal()}
            return psycopg.connect(autocommit=True, **kwargs)

        return self._open(connect, (psycopg.Error,))

    def _adbc_connect(self) -> Any:
        """The ADBC connection for bulk reads (read-only by default), and its socket for
        the watchdog (``arrow_io.socket_of``)."""
        import adbc_driver_manager

        from workbench.sources.postgres import arrow_io

        port_text = str(self._params.get("port") or os.environ.get("PGPORT") or "5432")
        port = int(port_text) if port_text.isdigit() else None

        def connect(kwargs: dict[str, Any]) -> Any:
            before = arrow_io.socket_fds()
            pw = self._password.reveal() if self._password is not None else None
            conn = arrow_io.connect(kwargs, pw)
            self._asock = arrow_io.socket_of(before, port) if port is not None else None
            return conn

        return self._open(connect, (adbc_driver_manager.Error, OSError), read_only=True)

    def _adbc_connection(self) -> Any:
        if self._aconn is None:
            self._aconn = self._adbc_connect()
        return self._aconn

    def _adbc_drop(self) -> None:
        conn, self._aconn, self._asock = self._aconn, None, None
        if conn is not None:
            try:
                conn.close()
            except Exception:
                log.debug("closing a broken ADBC connection failed", exc_info=True)

    def _connection(self) -> Any:
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._drop()
            self._conn = self._connect()
        return self._conn

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:
                log.debug("closing a broken connection failed", exc_info=True)

    def close(self) -> None:
        """Close the connections (a later call opens new ones)."""
        with self._lock:
            self._drop()
            self._adbc_drop()

    def _over_budget(self, budget: int, query: str | None, window: Window | None) -> LimitExceeded:
        """The error for a result past ``max_rows`` (both read paths)."""
        return LimitExceeded(
            f"the result has more than {budget:,} rows",
            source=self.name,
            limit=f"max_rows={budget}",
            query=query,
            window=window,
            hint="narrow the window or the services, use metrics_aggregated() "
            "for long ranges, or raise max_rows",
        )

    def _no_answer(
        self, deadline: float | None, query: str | None, window: Window | None
    ) -> SourceUnavailable:
        """The error for a read the watchdog cut at the deadline (both read paths)."""
        return SourceUnavailable(
            f"{self.name} did not answer within {deadline:g} s",
            source=self.name,
            query=query,
            window=window,
            hint="the server or the network stopped answering; check "
            "connectivity and retry (the deadline is statement_timeout "
            "plus the connect timeout)",
        )

    def _raise_translated(
        self,
        exc: Exception,
        query: str | None,
        window: Window | None,
        *,
        rows: int,
        lost_after_start: bool = False,
    ) -> NoReturn:
        """Raise ``exc`` as the workbench error it means (both read paths): the rows that
        had arrived are named (none is returned), and a driver error whose text holds the
        password is not chained."""
        from workbench.sources.postgres.errors import leaks, translate

        err = translate(exc, source=self.name, password=self._password, query=query, window=window)
        if rows:
            err.detail = f"{err.detail} (after {rows:,} rows; nothing returned)"
        elif lost_after_start:
            err.detail = f"{err.detail} (the rows had started; nothing returned)"
        if leaks(exc, self._password):
            raise err from None
        raise err from exc

    def _run(
        self,
        fn: Callable[[Any], T],
        *,
        query: str | None,
        window: Window | None,
        retry: bool = True,
    ) -> T:
        """Run ``fn(conn)`` with error translation; retry once on a connection the server
        dropped while it sat in the pool (only if no row had arrived)."""
        import psycopg

        from workbench.sources.postgres.copy_io import RowBudgetExceeded

        deadline = None if self.statement_timeout is None or not retry else self.deadline_s
        with self._lock:
            for attempt in (0, 1):
                conn = self._connection()
                dog = Watchdog(conn, deadline)
                try:
                    with dog:
                        return fn(conn)
                except BadData as exc:  # a value the frame cannot hold (infinity, say)
                    exc.source = exc.source or self.name
                    raise
                except RowBudgetExceeded as exc:
                    self._drop()  # the COPY was abandoned mid-stream
                    raise self._over_budget(exc.budget, query, window) from None
                except psycopg.Error as exc:
                    broken = conn.broken or conn.closed
                    if broken or dog.fired:
                        self._drop()
                    if dog.fired:
                        raise self._no_answer(deadline, query, window) from None
                    rows = getattr(exc, "workbench_rows_received", 0)
                    if (
                        retry
                        and attempt == 0
                        and broken
                        and rows == 0
                        and isinstance(exc, psycopg.OperationalError)
                    ):
                        log.info(
                            "%s: connection was dropped by the server; reconnecting", self.name
                        )
                        continue
                    self._raise_translated(exc, query, window, rows=rows)
        raise AssertionError("unreachable")

    def _run_adbc(
        self,
        fn: Callable[[Any, Callable[[Any], None]], T],
        *,
        query: str | None,
        window: Window | None,
    ) -> T:
        """Run ``fn(adbc_conn, on_cursor)`` with the same contract as :meth:`_run`:
        errors translated, the deadline enforced (the socket is shut down; failing that,
        ``adbc_cancel()`` on the cursors ``fn`` handed to ``on_cursor``), and one retry
        on a pooled connection found dead before the query started."""
        import adbc_driver_manager

        from workbench.sources.postgres.copy_io import RowBudgetExceeded
        from workbench.sources.postgres.errors import connection_lost

        deadline = None if self.statement_timeout is None else self.deadline_s
        with self._lock:
            for attempt in (0, 1):
                conn = self._adbc_connection()
                sock = self._asock
                cursors: list[Any] = []

                def cut(sock: Any = sock, cursors: list[Any] = cursors) -> None:
                    if sock is not None and sock.shutdown():
                        return
                    for cur in cursors:  # no socket found: ask the server to stop
                        try:
                            cur.adbc_cancel()
                        except Exception:  # a cursor already closed
                            log.debug("adbc_cancel on a closed cursor", exc_info=True)

                dog = Watchdog(None, deadline, cut=cut)
                try:
                    with dog:
                        return fn(conn, cursors.append)
                except BadData as exc:
                    exc.source = exc.source or self.name
                    raise
                except RowBudgetExceeded as exc:
                    self._adbc_drop()  # the stream was abandoned mid-way
                    raise self._over_budget(exc.budget, query, window) from None
                except (adbc_driver_manager.Error, OSError) as exc:
                    lost = connection_lost(exc)
                    if lost or dog.fired:
                        self._adbc_drop()
                    if dog.fired:
                        raise self._no_answer(deadline, query, window) from None
                    rows = getattr(exc, "workbench_rows_received", 0)
                    started = getattr(exc, "workbench_started", False)
                    if attempt == 0 and lost and not started and rows == 0:
                        log.info(
                            "%s: connection was dropped by the server; reconnecting", self.name
                        )
                        continue
                    self._raise_translated(
                        exc, query, window, rows=rows, lost_after_start=started and lost
                    )
        raise AssertionError("unreachable")

    @property
    def timescale(self) -> bool:
        """Whether the database has the TimescaleDB extension (asked once)."""
        if self._timescale is None:
            from workbench.sources.postgres.schema import detect_timescale

            self._timescale = self._run(lambda c: detect_timescale(c)[0], query=None, window=None)
        return bool(self._timescale)

    # ------------------------------------------------------------------ reading
    def _table(self, kind: str) -> Any:
        from psycopg import sql

        return sql.Identifier(self.schema, kind)

    def _read(
        self,
        signal: str,
        select: Any,
        params: Mapping[str, Any],
        columns: Sequence[Any],
        *,
        query_text: str,
        window: Window | None,
        max_rows: int | None,
    ) -> pl.DataFrame:
        from psycopg import sql

        from workbench.sources.postgres import arrow_io

        if max_rows is not None:
            select = sql.SQL("{} LIMIT {}").format(select, sql.Literal(max_rows + 1))
        text = self._merge(select, dict(params), query=query_text, window=window)
        where = f"{self.schema}.{signal}"

        def go(conn: Any, on_cursor: Callable[[Any], None]) -> pl.DataFrame:
            return arrow_io.read(
                conn, text, columns, max_rows=max_rows, where=where, on_cursor=on_cursor
            )

        return self._run_adbc(go, query=query_text, window=window)

    def _merge(self, sql_: Any, params: Any, *, query: str | None, window: Window | None) -> str:
        """``sql_`` with ``params`` merged in by psycopg (see ``arrow_io.merge_params``);
        values PostgreSQL cannot hold (a NUL in text) or placeholders that do not fit
        give :class:`QueryError`, as the server's refusal did before."""
        import psycopg

        from workbench.sources.postgres import arrow_io
        from workbench.sources.postgres.errors import translate

        try:
            return arrow_io.merge_params(sql_, params)
        except psycopg.Error as exc:
            raise translate(
                exc, source=self.name, password=self._password, query=query, window=window
            ) from None

    def _load(
        self,
        signal: str,
        window: Window,
        *,
        services: Sequence[str] | None,
        where: Sequence[tuple[str, Any]] = (),
        query_text: str | None,
    ) -> Result:
        from psycopg import sql

        from workbench.sources.postgres.copy_io import Column
        from workbench.sources.postgres.schema import COLUMNS, TIME_COLUMN

        tcol = TIME_COLUMN[signal]
        kinds = {
            "timestamptz NOT NULL": "timestamptz",
            "timestamptz": "timestamptz",
            "double precision NOT NULL": "float",
        }
        kv = _KV_COLUMN[signal]
        cols = [
            Column(c, "kvtext" if c == kv else kinds.get(t, "text")) for c, t in COLUMNS[signal]
        ]
        params: dict[str, Any] = {"start": window.start, "end": window.end}
        conds: list[sql.Composable] = []
        if signal == "events":  # events overlapping the window (a long chaos run, say)
            conds.append(sql.SQL('ts < %(end)s AND (ts >= %(start)s OR "end" >= %(start)s)'))
        else:
            conds.append(
                sql.SQL("{t} >= %(start)s AND {t} < %(end)s").format(t=sql.Identifier(tcol))
            )
        if services is not None:
            conds.append(sql.SQL("service = ANY(%(services)s)"))
            params["services"] = [str(s) for s in services]
        for i, (cond, value) in enumerate(where):
            key = f"p{i}"
            conds.append(sql.SQL(cond.replace("{}", f"%({key})s")))
            params[key] = value
        select = sql.SQL("SELECT {} FROM {} WHERE {}").format(
            sql.SQL(", ").join(_output(c, kv) for c in cols),
            self._table(signal),
            sql.SQL(" AND ").join(conds),
        )
        text = query_text or f"{signal} in {self.schema}.{signal}"
        with Timer() as t:
            try:
                df = self._read(
                    signal,
                    select,
                    params,
                    cols,
                    query_text=text,
                    window=window,
                    max_rows=self.max_rows,
                )
            except BadData as exc:
                if exc.field in {c.name for c in cols if c.kind == "timestamptz"}:
                    exc.hint = (
                        f"filter it out in SQL (query() with WHERE isfinite({exc.field})) or "
                        f"replace it with a real time (UPDATE {self.schema}.{signal} SET ... "
                        f"WHERE NOT isfinite({exc.field}))"
                    )
                raise
            if not df[tcol].is_sorted():
                df = df.sort(tcol)
        return self.result(signal, df, query=text, window=window, elapsed_s=t.elapsed)

    def metrics(
        self, query: str | None, window: Window, *, services: Sequence[str] | None = None
    ) -> Result:
        """Raw samples in ``window``; ``query`` is a metric name (``None`` = all)."""
        where = [("metric = {}", query)] if query else []
        return self._load(
            "metrics",
            window,
            services=services,
            where=where,
            query_text=f"metric = {query!r}" if query else None,
        )

    def logs(
        self, query: str | None, window: Window, *, services: Sequence[str] | None = None
    ) -> Result:
        """Log lines in ``window``; ``query`` is text the message must contain
        (case-sensitive, taken literally: ``%`` and ``_`` are not wildcards)."""
        where = [("strpos(message, {}) > 0", query)] if query else []
        return self._load(
            "logs",
            window,
            services=services,
            where=where,
            query_text=f"message contains {query!r}" if query else None,
        )

    def spans(
        self, query: str | None, window: Window, *, services: Sequence[str] | None = None
    ) -> Result:
        """Spans starting in ``window``; ``query`` is a trace id (``None`` = all)."""
        where = [("trace_id = {}", query)] if query else []
        return self._load(
            "spans",
            window,
            services=services,
            where=where,
            query_text=f"trace_id = {query!r}" if query else None,
        )

    def events(self, window: Window, *, services: Sequence[str] | None = None) -> Result:
        """Events overlapping ``window`` (starting in it, or still running at its start)."""
        return self._load("events", window, services=services, query_text=None)

    # capability: capacity aggregation (see workbench.sources.capabilities) -----------
    def capacity_has_metric(self, metrics: list[str], window: Window) -> bool:
        """Whether any of ``metrics`` has data in ``window`` (picks the capacity profile)."""
        from workbench.sources.postgres.capacity import has_metric

        return has_metric(self, metrics, window)

    def capacity_buckets(self, request: BucketRequest) -> Buckets:
        """Usage and limits bucketed on the server (see :mod:`workbench.sources.postgres.capacity`)."""
        from workbench.sources.postgres.capacity import buckets

        return buckets(self, request)

    # ------------------------------------------------------------------ aggregation
    def metrics_aggregated(
        self,
        window: Window,
        step: str | timedelta,
        agg: str = "avg",
        *,
        services: Sequence[str] | None = None,
        metric: str | Sequence[str] | None = None,
        by: Literal["series", "service"] = "series",
        origin: datetime = _EPOCH,
    ) -> Result:
        """Metrics aggregated by the server into ``step`` buckets: one row per bucket and
        series (``by="series"``: metric + service + labels) or per bucket, metric and
        service (``by="service"``, labels dropped). ``ts`` is the bucket start; buckets
        are aligned to ``origin`` (default the Unix epoch, like Prometheus steps).
        ``agg`` is one of :data:`AGGREGATIONS` (avg, min, max, sum, count, stddev,
        first, last, p50, p90, p95, p99). Uses ``time_bucket`` on TimescaleDB and
        ``date_bin`` on plain PostgreSQL.

        >>> pg.metrics_aggregated(Window.last("30d"), "1h", agg="max",
        ...                       metric="process_resident_memory_bytes").frame
        """

        from workbench.sources.postgres.copy_io import Column

        if agg not in AGGREGATIONS:
            raise ConfigError(
                f"unknown aggregation {agg!r}",
                hint=f"use one of {', '.join(AGGREGATIONS)}",
            )
        if by not in ("series", "service"):
            raise ConfigError(f"by must be 'series' or 'service', not {by!r}")
        step_td = parse_duration(step)
        if step_td <= timedelta(0):
            raise ConfigError(f"step must be positive, not {step!r}")
        ts_fn = "time_bucket" if self.timescale else "date_bin"
        params: dict[str, Any] = {
            "step": step_td,
            "origin": origin,
            "start": window.start,
            "end": window.end,
        }
        if metric is not None:
            params["metrics"] = [metric] if isinstance(metric, str) else [str(m) for m in metric]
        if services is not None:
            params["services"] = [str(s) for s in services]
        select = aggregate_select(
            self.schema,
            timescale=self.timescale,
            agg=agg,
            by=by,
            by_metric=metric is not None,
            by_services=services is not None,
        )
        cols = [
            Column("ts", "timestamptz"),
            Column("metric"),
            Column("service"),
            Column("value", "float"),
            Column("labels", "kvtext"),
        ]
        text = f"{agg} by {by} per {step} ({ts_fn})" + (
            f" of {params['metrics']}" if metric is not None else ""
        )
        with Timer() as t:
            df = self._read(
                "metrics",
                select,
                params,
                cols,
                query_text=text,
                window=window,
                max_rows=self.max_rows,
            )
            df = df.sort(["metric", "service", "ts"])
        return self.result(
            "metrics",
            df,
            query=text,
            window=window,
            elapsed_s=t.elapsed,
            step=str(step),
            agg=agg,
            bucket_function=ts_fn,
        )

    # ------------------------------------------------------------------ your own SQL
    def query(
        self,
        sql_text: str,
        params: Sequence[Any] | Mapping[str, Any] | None = None,
        *,
        kind: frames.FrameKind | None = None,
        window: Window | None = None,
        max_rows: int | None = None,
        read_only: bool = True,
    ) -> Result:
        """Run your own ``SELECT`` and get a frame.

        Values go in ``params`` (``%s`` or ``%(name)s`` placeholders), never in the text.
        With ``window``, ``%(start)s`` and ``%(end)s`` are bound to its ends (``params``
        must then be a mapping or ``None``). ``kind`` declares the frame kind
        (``"logs"``, ...): the result is validated against the contract and a jsonb
        ``labels``/``attributes`` column becomes key/value lists. Without ``kind`` you
        get the columns as they come (``Result.signal == "table"``). The statement runs
        in a read-only transaction unless ``read_only=False``.

        >>> pg.query("SELECT ts, metric, service, value, labels FROM workbench.metrics "
        ...          "WHERE metric = %(m)s AND ts >= %(start)s AND ts < %(end)s",
        ...          {"m": "up"}, kind="metrics", window=w)
        """
        from workbench.sources.postgres import arrow_io
        from workbench.sources.postgres.copy_io import Column, _check_names

        if kind is not None and kind not in frames.SCHEMAS:
            raise ConfigError(f"unknown frame kind {kind!r}", hint=f"one of {list(frames.SCHEMAS)}")
        body = sql_text.strip().rstrip(";").strip()
        if not body:
            raise ConfigError("empty SQL")
        if window is not None:
            if params is not None and not isinstance(params, Mapping):
                raise ConfigError(
                    "with window=, params must be a mapping (use %(name)s placeholders)",
                    hint="write %(start)s and %(end)s for the window's ends",
                )
            params = {**(params or {}), "start": window.start, "end": window.end}
        budget = self.max_rows if max_rows is None else max_rows
        inner = self._merge(body, params, query=body, window=window)
        kv_cols = [_KV_COLUMN[kind]] if kind else []

        def go(conn: Any, on_cursor: Callable[[Any], None]) -> pl.DataFrame:
            cur = conn.cursor()
            on_cursor(cur)
            try:
                if not read_only:  # the ADBC connection is read-only by default
                    cur.execute("SET default_transaction_read_only = off")
                schema = cur.adbc_execute_schema(f"SELECT * FROM ({inner}) AS q")
            finally:
                cur.close()
            cols = arrow_io.columns_from_schema(schema, kv=kv_cols)
            _check_names(cols)
            items = []
            for c in cols:
                name = '"' + c.name.replace('"', '""') + '"'
                cast = arrow_io.SQL_CASTS.get(c.kind)
                items.append(f"q.{name}::{cast} AS {name}" if cast else f"q.{name}")
            select = f"SELECT {', '.join(items)} FROM ({inner}) AS q"
            if budget is not None:
                select += f" LIMIT {budget + 1}"
            try:
                return arrow_io.read(
                    conn,
                    select,
                    [Column(c.name, c.kind) for c in cols],
                    max_rows=budget,
                    where="query",
                    on_cursor=on_cursor,
                )
            finally:
                if not read_only:
                    reset = conn.cursor()
                    try:
                        reset.execute("SET default_transaction_read_only = on")
                    finally:
                        reset.close()

        with Timer() as t:
            df = self._run_adbc(go, query=body, window=window)
        if kind is None:
            return Result(
                source=self.name,
                signal="table",
                frame=df,
                query=body,
                window=window,
                elapsed_s=t.elapsed,
            )
        return self.result(kind, df, query=body, window=window, elapsed_s=t.elapsed)

    # ------------------------------------------------------------------ writing
    def init_schema(self, *, timescale: Literal["auto", "require", "off"] = "auto") -> Any:
        """Create the workbench tables if missing (idempotent); returns a SchemaReport."""
        from workbench.sources.postgres.schema import init_schema

        report = self._run(
            lambda c: init_schema(c, self.schema, timescale=timescale),
            query="schema init",
            window=None,
            retry=False,
        )
        self._timescale = report.timescale
        return report

    def ingest(self, kind: frames.FrameKind, frame: pl.DataFrame) -> int:
        """Append a frame of ``kind`` to its table with COPY, all or nothing; returns the
        number of rows written.

        >>> pg.ingest("logs", logs_frame)
        """
        from workbench.sources.postgres.ingest import ingest_frame

        df = frames.validate(frame, kind, source=self.name)
        return self._run(
            lambda c: ingest_frame(c, self.schema, kind, df, source=self.name),
            query=f"COPY {self.schema}.{kind} FROM STDIN",
            window=None,
            retry=False,
        )


def aggregate_select(
    schema: str,
    *,
    timescale: bool,
    agg: str,
    by: str = "series",
    by_metric: bool = False,
    by_services: bool = False,
) -> Any:
    """The SELECT behind :meth:`PostgresSource.metrics_aggregated` (a ``psycopg.sql``
    object; values are the bound parameters ``step``, ``origin``, ``start``, ``end``,
    ``metrics``, ``services``)."""
    from psycopg import sql

    ts_fn = "time_bucket" if timescale else "date_bin"
    agg_sql = (_TIMESCALE_AGG.get(agg) if timescale else None) or AGGREGATIONS[agg]
    conds = [sql.SQL("ts >= %(start)s AND ts < %(end)s")]
    if by_metric:
        conds.append(sql.SQL("metric = ANY(%(metrics)s)"))
    if by_services:
        conds.append(sql.SQL("service = ANY(%(services)s)"))
    series = by == "series"
    return sql.SQL(
        "SELECT {fn}(%(step)s::interval, ts, %(origin)s::timestamptz) AS ts, metric, "
        "service, {agg} AS value, {labels} AS labels FROM {table} WHERE {where} "
        "GROUP BY {group}"
    ).format(
        fn=sql.SQL(ts_fn),
        agg=sql.SQL(agg_sql),
        labels=sql.SQL("labels_kv" if series else "''"),
        table=sql.Identifier(schema, "metrics"),
        where=sql.SQL(" AND ").join(conds),
        group=sql.SQL("1, metric, service, labels_kv" if series else "1, metric, service"),
    )


def _output(col: Any, kv: str) -> Any:
    """The SELECT item for a column of the source's own tables (see ``_load``)."""
    from psycopg import sql

    from workbench.sources.postgres.schema import KV_TEXT_SUFFIX

    name = sql.Identifier(col.name)
    if col.name == kv:
        return sql.SQL("{} AS {}").format(sql.Identifier(col.name + KV_TEXT_SUFFIX), name)
    if col.kind == "epoch_us":
        return sql.SQL("(extract(epoch FROM {}) * 1000000)::int8 AS {}").format(name, name)
    return name


def _is_local_host(host: str | None, hostaddr: str | None) -> bool:
    """Whether libpq connects to this machine (a Unix socket or a loopback address).
    The host name decides, since that is what a certificate is verified against."""
    names = [x for x in (host or "").split(",") if x] or ([hostaddr] if hostaddr else [])
    names = names or ["localhost"]
    return all(
        n.startswith("/") or n.lower() == "localhost" or n.startswith("127.") or n == "::1"
        for n in names
    )


def _parse_dsn(dsn: str) -> dict[str, str]:
    """libpq connection parameters from a URL or key=value string."""
    if not isinstance(dsn, str) or not dsn.strip():
        raise ConfigError("a PostgreSQL source needs a URL such as postgres://user@host/db")
    text = dsn.strip()
    scheme, sep, rest = text.partition("://")
    if sep:
        base = scheme.lower().split("+", 1)[0]
        if base not in ("postgres", "postgresql", "timescale", "timescaledb"):
            raise ConfigError(
                f"unsupported URL scheme {scheme!r} for a PostgreSQL source",
                hint="use postgres://user@host:5432/dbname",
            )
        text = "postgresql://" + rest
    try:
        import psycopg.conninfo
    except ImportError as exc:  # pragma: no cover - extras not installed
        raise ConfigError(
            "the PostgreSQL source needs psycopg",
            hint="pip install 'incident-workbench[postgres]'",
        ) from exc
    try:
        params = psycopg.conninfo.conninfo_to_dict(text)
    except psycopg.Error:
        raise ConfigError(
            "cannot read the PostgreSQL connection string",
            hint="use postgres://user@host:5432/dbname or 'host=... dbname=...'",
        ) from None
    return {k: str(v) for k, v in params.items() if v is not None}
