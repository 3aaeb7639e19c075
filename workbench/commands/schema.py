"""``workbench schema``: create the workbench tables in PostgreSQL and load data into them.

Example::

    $ export PGPASSWORD=...                       # never on the command line
    $ workbench schema init postgres://wb@db:5432/telemetry
    $ workbench lab generate --scenario demo --seed 1 --out /tmp/demo
    $ workbench schema load postgres://wb@db:5432/telemetry /tmp/demo

The password comes from ``PGPASSWORD`` (libpq's own variable), ``~/.pgpass``, or the
environment variable named by ``--password-env``.
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from workbench.sources.postgres.source import PostgresSource


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("url", help="postgres://user@host:5432/dbname (no password in it)")
    p.add_argument("--schema", default="workbench", help="schema for the tables (workbench)")
    p.add_argument(
        "--password-env",
        default=None,
        metavar="NAME",
        help="environment variable holding the password (default: libpq's PGPASSWORD)",
    )
    p.add_argument(
        "--timescale",
        choices=("auto", "require", "off"),
        default="auto",
        help="hypertables + compression: when installed (auto), always (require), never",
    )


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("schema", help="PostgreSQL/TimescaleDB: create tables, load a scenario")
    ssub = p.add_subparsers(dest="schema_command", metavar="ACTION")
    i = ssub.add_parser("init", help="create the tables and indexes (safe to run again)")
    _common(i)
    i.set_defaults(func=_init)
    ld = ssub.add_parser("load", help="load a lab scenario directory into the tables")
    _common(ld)
    ld.add_argument("directory", help="scenario directory (workbench lab generate --out)")
    ld.add_argument(
        "--replace",
        action="store_true",
        help="if this scenario was loaded before, delete the rows that load wrote (same "
        "tables, time range and services) and load it again; without it a second load is "
        "refused",
    )
    ld.set_defaults(func=_load)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def _source(args: argparse.Namespace) -> PostgresSource:
    from workbench.secrets import Secret
    from workbench.sources.postgres.source import PostgresSource

    password = Secret.env(args.password_env) if args.password_env else None
    return PostgresSource(args.url, password=password, schema=args.schema, statement_timeout=None)


def _init(args: argparse.Namespace) -> int:
    with _source(args) as pg:
        report = pg.init_schema(timescale=args.timescale)
    print(
        json.dumps(
            {
                "schema": report.schema,
                "timescale": report.timescale,
                "created": report.created,
                "existing": report.existing,
                "notes": report.notes,
            },
            indent=2,
        )
    )
    return 0


def _load(args: argparse.Namespace) -> int:
    from workbench.sources.postgres import loads as pg_loads
    from workbench.sources.postgres.ingest import load_directory

    with _source(args) as pg:
        pg.init_schema(timescale=args.timescale)
        key = pg_loads.scenario_key(args.directory)[0]
        before = pg._run(
            lambda c: pg_loads.previous(c, pg.schema, key), query="load ledger", window=None,
            retry=False,
        )  # fmt: skip
        counts = load_directory(pg, args.directory, replace=args.replace)
    action = "replaced" if before is not None else "loaded"
    print(json.dumps({"schema": args.schema, "scenario": key, "action": action,
                      "rows": counts}, indent=2))  # fmt: skip
    return 0
