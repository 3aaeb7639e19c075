"""``workbench note TEXT --grafana``: write a note to Grafana as an annotation.

::

    workbench note "rolled back checkout to v2.13.4" --grafana --incident INC-9 \\
        --kind action [--at 2026-11-20T11:42:00Z] [--end ...] [--tag team:payments] \\
        [--config workbench.toml]

Grafana is the ``[grafana]`` table of ``--config`` (default ``./workbench.toml``, then
``$WORKBENCH_CONFIG``), else ``WORKBENCH_GRAFANA_URL``; the token is read from the
variable its ``token_env`` names. Nothing is written without ``--grafana``. Prints the
annotation's Grafana id. In a notebook: ``inc.note(text, grafana=True)`` (also kept in
the incident's annotation log).
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from workbench.commands import help_text
from workbench.errors import ConfigError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "note",
        help="write a note to Grafana as an annotation (only with --grafana)",
        description=help_text(__doc__),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("text", help="what happened, what was decided")
    p.add_argument("--grafana", action="store_true", help="write it to Grafana (required)")
    p.add_argument("--incident", default=None, help="tag it incident:<ID>")
    p.add_argument("--kind", default="note", help="tag it kind:<KIND> (default note)")
    p.add_argument("--at", default=None, help="when (RFC 3339, UTC; default now)")
    p.add_argument("--end", default=None, help="the end of a region (RFC 3339)")
    p.add_argument("--tag", action="append", default=[], help="another tag (repeatable)")
    p.add_argument("--config", default=None, help="workbench.toml with a [grafana] table")
    p.set_defaults(func=run)


def _time(value: str | None, what: str) -> datetime | None:
    if value is None:
        return None
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(f"--{what} {value!r} is not an RFC 3339 time") from None
    if t.tzinfo is None:
        raise ConfigError(f"--{what} {value!r} has no time zone", hint="end it with Z for UTC")
    return t.astimezone(UTC)


def run(args: argparse.Namespace) -> int:
    if not args.grafana:
        raise ConfigError(
            "nothing to do: notes are written to Grafana only when asked",
            hint="add --grafana",
        )
    from workbench.config import default_path
    from workbench.grafana_config import load_grafana
    from workbench.sources.grafana import post_annotation

    grafana = load_grafana(args.config or default_path())
    if grafana is None:
        raise ConfigError(
            "no Grafana configured",
            hint="add a [grafana] table to workbench.toml (url, token_env) or set "
            "WORKBENCH_GRAFANA_URL and WORKBENCH_GRAFANA_TOKEN",
        )
    tags = ["workbench", f"kind:{args.kind}", *args.tag]
    if args.incident:
        tags.insert(1, f"incident:{args.incident}")
    at = _time(args.at, "at") or datetime.now(UTC)
    gid = post_annotation(grafana, args.text, at=at, end=_time(args.end, "end"), tags=tags)
    print(f"annotation {gid} written to {grafana.url}")
    return 0
