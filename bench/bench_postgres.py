"""Benchmark: one million log rows from a real PostgreSQL 15 into a polars frame.

Starts a private cluster (tests/pg_server.py), fills ``workbench.logs`` with 1,000,000
rows shaped like the lab's logs (service, level, message, trace/span ids; attributes
``pod``, ``logger``, ``namespace``, ``version``, ``duration_ms``, and for the ~4% errors
``exception.type``, ``http.route``, ``status`` and a multi-line ``stack_trace``), then
times, best of 3 unless noted (ours and the COPY floors: best of 4, taking turns):

* ours: ``PostgresSource.logs(None, window)`` -- the product path: the ADBC PostgreSQL
  driver's binary COPY as Arrow record batches (``workbench.sources.postgres.arrow_io``),
  attributes (from the generated ``attributes_kv`` column) turned into the key/value
  contract, time-ordered, validated;
* previous: the product path until ADBC took over -- COPY CSV drained from libpq by
  ``copy_io.copy_out``, parsed by polars in chunks on worker threads, the same contract
  frame -- taking turns with ours in the same process (an A/B that holds on a busy
  machine); target: ours no slower;
* ``pandas.read_sql`` over a psycopg connection (the same columns; attributes stay dicts,
  so pandas does less work than we do) -- target: ours at least 3x faster;
* ``COPY (SELECT the same columns) TO STDOUT (FORMAT csv)`` into /dev/null, read through
  psycopg and read by ``psql`` (a C client: the floor of the server producing and
  sending the bytes) -- target: ours within 1.5x;
* the other loading options that were considered: a psycopg cursor ``fetchall`` into
  polars (with the same attribute conversion), COPY in text and binary formats into
  /dev/null, and binary COPY decoded by numpy (``pg_binary``, ``copy_out(binary=True)``:
  the same frame; it saves server CPU but costs more client CPU than polars' CSV
  reader, so it is not the default);
* the public-API Arrow loaders, side by side with ours (optional bench dependencies:
  ``pip install adbc-driver-postgresql connectorx``; a missing one prints ``skipped``):
  the ADBC PostgreSQL driver (``adbc_driver_postgresql.dbapi``, ``fetch_arrow_table``, its
  own binary COPY underneath) and connectorx (``read_sql(..., return_type="arrow")``),
  each to the same contract frame (the ``attributes_kv`` column decoded by the same
  ``decode_kv_text``, validated) and, separately, raw to Arrow; the reference is binary
  COPY to /dev/null -- the issue's target for a loader is within 1.1x of it;
* the server-side aggregation path (``metrics_aggregated``, date_bin) over 100 series x
  7 days at 1 minute, vs pulling the raw samples (``metrics``).

Run: ``.venv/bin/python bench/bench_postgres.py`` (about four minutes on an idle 2-core machine;
the loading dominates). ``BENCH_PG_ROWS`` changes the number of log rows.
"""

from __future__ import annotations

import gc
import math
import os
import sys
import time
import warnings
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import polars as pl  # noqa: E402

from tests.pg_server import PgCluster  # noqa: E402
from workbench import PostgresSource, Secret, Window, frames  # noqa: E402

ROWS = int(os.environ.get("BENCH_PG_ROWS", "1000000"))
SERIES, DAYS = 100, 7
ROUNDS = 4
T0 = datetime(2026, 11, 20, tzinfo=UTC)

FILL_LOGS = """
INSERT INTO workbench.logs (ts, service, level, message, trace_id, span_id, attributes)
SELECT timestamptz '2026-11-20 00:00:00+00' + g * interval '43 ms' + (g %% 997) * interval '1 us',
  s.name,
  CASE WHEN g %% 25 = 0 THEN 'error' WHEN g %% 7 = 0 THEN 'debug' WHEN g %% 31 = 0 THEN 'warn'
       ELSE 'info' END,
  CASE WHEN g %% 25 = 0 THEN 'request failed: GET /products/{id}: '
         || 'java.lang.IllegalStateException: reservation R-' || g || ' expired'
       ELSE 'product SKU-' || (g %% 99991) || ' loaded (stock=' || (g %% 500)
         || ', price=' || (g %% 20000) / 100.0 || ' USD)' END,
  md5(g::text) || md5((g / 7)::text), substr(md5((g + 3)::text), 1, 16),
  jsonb_build_object('pod', s.name || '-7d9f' || (g %% 3), 'logger', 'com.shop.' || s.name,
    'namespace', 'shop', 'version', '1.' || (g %% 4) || '.0',
    'duration_ms', ((g::bigint * 2654435761) %% 100003 / 100.0)::text)
  || CASE WHEN g %% 25 = 0 THEN jsonb_build_object('exception.type',
       'java.lang.IllegalStateException', 'http.route', '/products/{id}', 'status', '500',
       'stack_trace', E'java.lang.IllegalStateException: reservation expired\\n\\tat '
       || 'com.shop.CatalogService.id(CatalogService.java:' || (g %% 9973) || E')\\n\\tat '
       || 'java.base/java.lang.Thread.run(Thread.java:1583)')
     ELSE '{}'::jsonb END
FROM generate_series(1, %(rows)s) g
JOIN (SELECT i, 'svc-' || i AS name FROM generate_series(0, 19) i) s ON s.i = g %% 20
"""

FILL_METRICS = """
INSERT INTO workbench.metrics (ts, metric, service, value, labels)
SELECT timestamptz '2026-11-20 00:00:00+00' + m * interval '1 minute',
  'process_resident_memory_bytes', 'svc-' || (k %% 40),
  1e8 + k * 1e6 + 5e6 * sin(m / 1440.0 * 2 * pi()) + m * 100,
  jsonb_build_object('pod', 'svc-' || (k %% 40) || '-' || (k / 40), 'namespace', 'shop')
FROM generate_series(0, %(series)s - 1) k, generate_series(0, %(minutes)s - 1) m
"""


def best(fn: Callable[[], object], repeat: int = 3) -> tuple[float, object]:
    t_best, out = math.inf, None
    for _ in range(repeat):
        out = None
        gc.collect()
        t = time.perf_counter()
        out = fn()
        t_best = min(t_best, time.perf_counter() - t)
    return t_best, out


def line(name: str, value: float, unit: str, baseline: float, target: str, note: str = "") -> None:
    extra = f"; {note}" if note else ""
    print(
        f"{name}: {value:.3f} {unit} (baseline {baseline:.3f}, ratio {value / baseline:.2f}x, "
        f"target {target}{extra})",
        flush=True,
    )


def main() -> None:
    import psycopg

    from workbench.sources.postgres import kv as pg_kv

    t_setup = time.perf_counter()
    print(f"# load average at start: {os.getloadavg()}", flush=True)
    with PgCluster.started() as pg:
        password = Secret.value(pg.password)
        src = PostgresSource(pg.url, name="bench", password=password, statement_timeout=None)
        src.init_schema()
        conn = psycopg.connect(pg.url, password=pg.password, autocommit=True)
        conn.execute(FILL_LOGS, {"rows": ROWS})
        conn.execute(FILL_METRICS, {"series": SERIES, "minutes": DAYS * 1440})
        conn.execute("VACUUM ANALYZE")
        print(
            f"# setup: cluster + {ROWS:,} logs + {SERIES * DAYS * 1440:,} samples "
            f"{time.perf_counter() - t_setup:.1f} s",
            file=sys.stderr,
        )

        window = Window(T0, T0 + timedelta(days=30))
        cols = "ts, service, level, message, trace_id, span_id, attributes"
        select = f"SELECT {cols} FROM workbench.logs WHERE ts >= %(start)s AND ts < %(end)s"
        params = {"start": window.start, "end": window.end}

        def ours() -> pl.DataFrame:
            return src.logs(None, window).frame

        def previous() -> pl.DataFrame:
            from psycopg import sql

            from workbench.sources.postgres.copy_io import Column, copy_out

            cols = [Column("ts", "epoch_us")]
            cols += [Column(c) for c in ("service", "level", "message", "trace_id", "span_id")]
            cols.append(Column("attributes", "kvtext"))
            query = sql.SQL(
                "SELECT (extract(epoch FROM ts) * 1000000)::int8 AS ts, service, level, "
                "message, trace_id, span_id, attributes_kv AS attributes FROM workbench.logs "
                "WHERE ts >= %(start)s AND ts < %(end)s"
            )
            with conn.cursor() as cur:
                df = copy_out(cur, query, params, cols, max_rows=src.max_rows)
            return frames.validate(df if df["ts"].is_sorted() else df.sort("ts"), "logs")

        def copy_devnull(fmt: str) -> Callable[[], int]:
            def run() -> int:
                n = 0
                stmt = f"COPY ({select}) TO STDOUT {fmt}"
                with (
                    open(os.devnull, "wb") as out,
                    conn.cursor() as cur,
                    cur.copy(stmt, params) as cp,
                ):
                    for block in cp:
                        out.write(block)
                        n += 1
                return n

            return run

        def psql_devnull() -> int:
            import subprocess

            from tests.pg_server import PG_BIN

            literal = select.replace("%(start)s", f"'{window.start.isoformat()}'").replace(
                "%(end)s", f"'{window.end.isoformat()}'"
            )
            subprocess.run(
                [
                    str(PG_BIN / "psql"),
                    pg.url,
                    "-q",
                    "-c",
                    f"COPY ({literal}) TO STDOUT (FORMAT csv)",
                ],
                stdout=subprocess.DEVNULL,
                env={**os.environ, "PGPASSWORD": pg.password},
                check=True,
            )
            return ROWS

        def pandas_read_sql() -> object:
            import pandas as pd

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # "only SQLAlchemy is supported"
                return pd.read_sql(select, conn, params=params)

        def binary_numpy() -> pl.DataFrame:
            from workbench.sources.postgres.copy_io import Column, copy_out

            cols = [Column("ts", "timestamptz")]
            cols += [Column(c) for c in ("service", "level", "message", "trace_id", "span_id")]
            cols.append(Column("attributes", "kvtext"))
            query = select.replace("attributes FROM", "attributes_kv AS attributes FROM")
            with conn.cursor() as cur:
                df = copy_out(cur, query, params, cols, binary=True)
            return frames.validate(df if df["ts"].is_sorted() else df.sort("ts"), "logs")

        def cursor_fetchall() -> pl.DataFrame:
            with conn.cursor() as cur:
                cur.execute(select.replace("attributes", "attributes::text"), params)
                rows = cur.fetchall()
                names = [c.name for c in cur.description or []]
            df = pl.DataFrame(rows, schema=names, orient="row")
            df = df.with_columns(pg_kv.decode_objects(df["attributes"]))
            return frames.validate(df, "logs")

        # ours and the two COPY floors take turns, ROUNDS times, and each keeps its best:
        # the same number of tries for each, spread over the same stretch of time, so a
        # busy spell on the (shared) machine cannot favour one side
        t_ours = t_copy = t_psql = t_prev = math.inf
        for _ in range(ROUNDS):
            t, frame = best(ours, 1)
            assert isinstance(frame, pl.DataFrame) and frame.height == ROWS, frame
            t_ours = min(t_ours, t)
            t, before = best(previous, 1)
            t_prev = min(t_prev, t)
            assert before.equals(frame), "the previous path gives another frame"  # type: ignore[union-attr]
            del before
            t, n_copy = best(copy_devnull("(FORMAT csv)"), 1)
            assert n_copy == ROWS
            t_copy = min(t_copy, t)
            t_psql = min(t_psql, best(psql_devnull, 1)[0])
        t_pd, pdf = best(pandas_read_sql, 1)
        assert len(pdf) == ROWS  # type: ignore[arg-type]
        del pdf

        # correctness spot check: one error row's attributes equal the server's jsonb
        err = frame.filter(pl.col("level") == "error").head(1)
        server = conn.execute(
            "SELECT attributes FROM workbench.logs WHERE ts = %s AND service = %s AND "
            "level = 'error' LIMIT 1",
            (err["ts"][0], err["service"][0]),
        ).fetchone()[0]
        assert err["attributes"].to_list()[0] == frames.kv(server), "attribute mismatch"
        del frame

        print(
            f"postgres_logs_1m_speedup_vs_pandas_read_sql: {t_pd / t_ours:.2f} x "
            f"(baseline {t_pd:.3f} s, ratio {t_pd / t_ours:.2f}x, target >= 3x; ours "
            f"{t_ours:.3f} s)",
            flush=True,
        )
        line(
            "postgres_logs_1m_adbc_vs_previous_copy_csv_loader",
            t_ours,
            "s",
            t_prev,
            "<= 1.0x",
            "A/B in the same turns: the previous product path (copy_io.copy_out CSV)",
        )
        line(
            "postgres_logs_1m_vs_copy_csv_devnull",
            t_ours,
            "s",
            t_copy,
            "<= 1.5x",
            "COPY read through psycopg",
        )
        line(
            "postgres_logs_1m_vs_psql_copy_csv_devnull",
            t_ours,
            "s",
            t_psql,
            "<= 1.5x",
            "COPY read by psql, a C client: the server's floor",
        )

        # public-API Arrow loaders, same server, same run --------------------------------
        literal = select.replace("%(start)s", f"'{window.start.isoformat()}'").replace(
            "%(end)s", f"'{window.end.isoformat()}'"
        )
        kv_select = literal.replace("attributes FROM", "attributes_kv AS attributes FROM")

        def to_contract(table: object) -> pl.DataFrame:
            df = pl.from_arrow(table)
            assert isinstance(df, pl.DataFrame)
            df = df.with_columns(
                pl.col("ts").cast(pl.Datetime("us", "UTC")),
                pg_kv.decode_kv_text(df["attributes"]).alias("attributes"),
            )
            return frames.validate(df if df["ts"].is_sorted() else df.sort("ts"), "logs")

        # the test cluster's password is a canary with odd characters: percent-encode it
        uri = pg.url.replace("@", f":{quote(pg.password, safe='')}@", 1)

        def adbc(raw: bool) -> Callable[[], object]:
            def run() -> object:
                import adbc_driver_postgresql.dbapi as adbc_pg

                with adbc_pg.connect(uri) as aconn, aconn.cursor() as cur:
                    cur.execute(kv_select)
                    table = cur.fetch_arrow_table()
                return table if raw else to_contract(table)

            return run

        def connectorx(raw: bool) -> Callable[[], object]:
            def run() -> object:
                import connectorx as cx

                table = cx.read_sql(uri, kv_select, return_type="arrow")
                return table if raw else to_contract(table)

            return run

        # ours, the binary-COPY floor and each driver take turns (2 rounds, best of each),
        # so a busy spell on the shared machine cannot favour one of them
        reference = ours()
        loaders = {"adbc": adbc, "connectorx": connectorx}
        t_now: dict[str, float] = {"ours": math.inf, "floor": math.inf}
        same: dict[str, bool] = {}
        for _ in range(2):
            t_now["ours"] = min(t_now["ours"], best(ours, 1)[0])
            t_now["floor"] = min(t_now["floor"], best(copy_devnull("(FORMAT binary)"), 1)[0])
            for label, make in list(loaders.items()):
                try:
                    t, table = best(make(True), 1)
                    assert table.num_rows == ROWS  # type: ignore[attr-defined]
                    del table
                    t_now[f"{label}_raw"] = min(t_now.get(f"{label}_raw", math.inf), t)
                    t, f4 = best(make(False), 1)
                    same[label] = f4.equals(reference)  # type: ignore[union-attr]
                    del f4
                    t_now[label] = min(t_now.get(label, math.inf), t)
                except ImportError as exc:
                    print(f"# {label}: skipped ({exc}); pip install -e '.[postgres,bench]'")
                    del loaders[label]
        floor = t_now["floor"]
        for label in loaders:
            line(f"postgres_option_{label}_to_arrow", t_now[f"{label}_raw"], "s", floor,
                 "info: vs binary COPY to /dev/null")  # fmt: skip
            line(f"postgres_option_{label}_to_contract_frame", t_now[label], "s", floor,
                 "<= 1.1x for a loader we would adopt",
                 f"same frame as ours: {same[label]}; ours {t_now['ours']:.3f} s in the same "
                 f"turns, {t_now['ours'] / t_now[label]:.2f}x the driver")  # fmt: skip
        line("postgres_logs_1m_vs_copy_binary_devnull", t_now["ours"], "s", floor, "<= 1.1x",
             "the issue's target for our loader; same turns")  # fmt: skip
        del reference

        # the other options considered -------------------------------------------------
        t_text, _ = best(copy_devnull(""), 2)
        t_bin, _ = best(copy_devnull("(FORMAT binary)"), 2)
        line("postgres_option_copy_text_devnull", t_text, "s", t_copy, "info: vs csv")
        line("postgres_option_copy_binary_devnull", t_bin, "s", t_copy, "info: vs csv")
        t_binpy, f3 = best(binary_numpy, 2)
        assert f3.equals(ours()), "binary decode differs"  # type: ignore[union-attr]
        del f3
        line(
            "postgres_option_binary_copy_numpy_decode",
            t_binpy,
            "s",
            t_ours,
            "info: vs ours (ours is the baseline here)",
        )
        t_fetch, f2 = best(cursor_fetchall, 1)
        assert f2.height == ROWS  # type: ignore[union-attr]
        del f2
        line(
            "postgres_option_cursor_fetchall_to_polars",
            t_fetch,
            "s",
            t_ours,
            "info: vs ours (ours is the baseline here)",
        )

        # server-side aggregation vs raw ----------------------------------------------
        week = Window(T0, T0 + timedelta(days=DAYS))
        t_agg, agg = best(lambda: src.metrics_aggregated(week, "1h", agg="max").frame, 2)
        t_raw, raw = best(lambda: src.metrics(None, week).frame, 1)
        assert agg.height == SERIES * DAYS * 24, agg.height  # type: ignore[union-attr]
        assert raw.height == SERIES * DAYS * 1440  # type: ignore[union-attr]
        line(
            "postgres_metrics_100x7d_1m_aggregated_1h_vs_raw",
            t_agg,
            "s",
            t_raw,
            "< 1.0x",
            f"{agg.height:,} rows vs {raw.height:,}",  # type: ignore[union-attr]
        )
        conn.close()
        src.close()
    print(f"# load average at end: {os.getloadavg()}", flush=True)


if __name__ == "__main__":
    main()
