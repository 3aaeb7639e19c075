"""``workbench new INC-123``: start an investigation notebook.

Creates ``OUT/INC-123.ipynb`` from the incident template with its parameters filled,
ready to open in JupyterLab (it is not executed)::

    workbench new INC-123 --since 45m --service checkout --config workbench.toml
    workbench new INC-123 --window 2026-11-20T11:00:00Z..2026-11-20T12:00:00Z --config workbench.toml
    workbench new INC-123 --alert 3f2a9c... --alertmanager http://alertmanager:9093 --config workbench.toml
    PAGERDUTY_TOKEN=... workbench new INC-123 --pagerduty PT4KHLK --config workbench.toml
    workbench new INC-123 --since 45m --baseline 8h --config workbench.toml
    workbench new DEMO-1 --demo            # the embedded demo incident, its own window

The sources come from ``--config`` (or ``./workbench.toml``, or ``$WORKBENCH_CONFIG``).
Without any, the command stops and says how to configure them: a notebook that read no
source would show nothing and look fine. Each configured server is checked to answer
(a TCP connection, no query, no credential); ``--no-check`` skips that when you prepare
a notebook away from the network.

``--baseline`` is what the window is compared with: a length that ends where the window
starts (``8h``) or ``START..END``; by default as long as the window, just before it. The
verdict measures chance on separate baseline windows as long as the incident's, so a
"weak" verdict says how long a baseline would settle it; the sources must keep that much.

With ``--alert`` the window starts ``--before`` (default 30m) ahead of the alert's
``startsAt`` and ends when it resolved (or now if it still fires); the alert's
``service`` label becomes ``--service`` unless one is given.

With ``--pagerduty`` the incident is read from PagerDuty's REST API (the key from
``$PAGERDUTY_TOKEN``, or ``--pagerduty-token-env NAME``): the window starts ``--before``
ahead of its ``created_at`` and ends when it was resolved (or now); its service becomes
``--service`` unless one is given.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from workbench.commands import help_text
from workbench.errors import ConfigError
from workbench.timewindow import Window, parse_duration, parse_time

_NEVER = "0001-01-01T00:00:00Z"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "new",
        help="create an incident notebook with its parameters filled",
        description=help_text(__doc__),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("incident_id", metavar="INCIDENT_ID", help="e.g. INC-123")
    when = p.add_mutually_exclusive_group()
    when.add_argument("--since", metavar="DURATION", help="the last DURATION, e.g. 45m")
    when.add_argument("--window", metavar="START..END", help="absolute window (UTC)")
    when.add_argument("--alert", metavar="FINGERPRINT", help="start from an Alertmanager alert")
    when.add_argument("--pagerduty", metavar="INCIDENT", help="start from a PagerDuty incident id")
    p.add_argument(
        "--pagerduty-url", default="https://api.pagerduty.com", help="PagerDuty REST API URL"
    )
    p.add_argument(
        "--pagerduty-token-env",
        default="PAGERDUTY_TOKEN",
        metavar="NAME",
        help="environment variable holding the PagerDuty API key (default PAGERDUTY_TOKEN)",
    )
    p.add_argument("--alertmanager", metavar="URL", help="Alertmanager base URL (with --alert)")
    p.add_argument(
        "--before",
        default="30m",
        help="with --alert/--pagerduty: how long before it started (default 30m)",
    )
    p.add_argument(
        "--baseline",
        default="",
        metavar="LENGTH|START..END",
        help="what the window is compared with: a length just before it (e.g. 8h) or an "
        "absolute window (default: as long as the window, just before it; a longer one gives "
        "the verdict more baseline windows to measure chance on)",
    )
    p.add_argument(
        "--service", action="append", default=[], help="service to focus on (repeatable)"
    )
    p.add_argument("--config", default="", metavar="PATH", help="workbench.toml naming the sources")
    p.add_argument(
        "--demo", action="store_true", help="use the embedded demo incident (no sources needed)"
    )
    p.add_argument("--no-check", action="store_true", help="do not check that the sources answer")
    p.add_argument("--out", type=Path, default=Path("."), help="directory (default: cwd)")
    p.add_argument("--force", action="store_true", help="overwrite an existing notebook")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from workbench.notebook import new_incident_notebook

    services: list[str] = list(args.service)
    window: Window | str = ""
    if args.alert:
        if not args.alertmanager:
            raise ConfigError("--alert needs --alertmanager URL")
        alert = find_alert(args.alertmanager, args.alert)
        window = alert_window(alert, before=args.before)
        svc = alert.get("labels", {}).get("service")
        if not services and svc:
            services = [svc]
    elif args.alertmanager:
        raise ConfigError("--alertmanager is only used with --alert")
    elif args.pagerduty:
        facts = pagerduty_incident(args.pagerduty, args.pagerduty_url, args.pagerduty_token_env)
        window = incident_window(facts, before=args.before)
        if not services and facts.get("service"):
            services = [facts["service"]]
        print(f"PagerDuty {facts['id']}: {facts['title']} (service {facts['service']}, "
              f"{facts['status']}, created {facts['created_at']:%Y-%m-%dT%H:%M:%SZ})")  # fmt: skip
    elif args.since or args.window:
        from workbench.incident import window_from_args

        window = window_from_args(since=args.since, window=args.window)
    elif not args.demo:
        raise ConfigError(
            "when did it happen? give --since DURATION, --window START..END, --alert ID or "
            "--pagerduty ID"
        )
    if args.baseline:  # a bad one is reported now, not when the notebook runs
        from workbench.notebook import baseline_window

        baseline_window(args.baseline, Window.parse(str(window)) if window else _demo_window())
    # after the window: a bad --alertmanager URL is reported first, whatever the sources
    config = "" if args.demo else sources_config(args.config, check=not args.no_check)
    path = new_incident_notebook(
        args.incident_id,
        window=window,
        baseline=args.baseline,
        services=services,
        sources_config=config,
        out_dir=args.out,
        overwrite=args.force,
    )
    what = "the demo incident" if args.demo else f"sources from {config}"
    print(f"wrote {path}  (window {window or 'of the demo'}; {what})")
    print(f"open it with: jupyter lab {path}")
    return 0


def _demo_window() -> Window:
    """The embedded demo incident's window (its baseline is checked against it)."""
    from workbench.incident import Incident

    return Incident.demo().window


_HOW_TO_CONFIGURE = (
    "list your backends in a workbench.toml, e.g.\n"
    "      [sources.prom]\n"
    '      type = "prometheus"\n'
    '      url = "http://prometheus:9090"\n'
    "    and pass it with --config workbench.toml (or put it in the current directory, or "
    "set WORKBENCH_CONFIG); or add --demo to try the embedded demo incident"
)


def sources_config(path: str, *, check: bool = True, timeout_s: float = 2.0) -> str:
    """The absolute path of the configuration the notebook will read its sources from.

    Raises :class:`ConfigError` (saying how to configure sources, or to use ``--demo``)
    when there is none, when it names no source, or when a source does not answer.

    >>> sources_config("workbench.toml")
    '/home/me/ops/workbench.toml'
    """
    from workbench.config import default_path, load_config

    chosen = Path(path) if path else default_path()
    if chosen is None:
        raise ConfigError("no sources configured: the notebook would have nothing to read",
                          hint=_HOW_TO_CONFIGURE)  # fmt: skip
    if not chosen.is_file():
        raise ConfigError(f"--config {chosen}: no such file", hint=_HOW_TO_CONFIGURE)
    sources = load_config(chosen, env=False)
    if not sources:
        raise ConfigError(f"{chosen} defines no sources", hint=_HOW_TO_CONFIGURE)
    if check:
        from workbench.sources.reach import unreachable

        down = unreachable(sources.values(), timeout_s=timeout_s)
        if down:
            listed = "; ".join(f"{name}: {why}" for name, why in down.items())
            raise ConfigError(
                f"{len(down)} of {len(sources)} source(s) in {chosen} cannot be reached: {listed}",
                hint="start them or fix their URL in the config; --no-check writes the "
                "notebook anyway; --demo uses the embedded demo incident",
            )
    # the notebook runs from its own folder: keep the config findable from there
    return str(chosen.resolve())


def find_alert(url: str, fingerprint: str) -> dict[str, Any]:
    """The alert with this fingerprint (or unique prefix) from Alertmanager's API v2."""
    from workbench.sources.http import HttpClient

    http = HttpClient("alertmanager", url)
    try:
        alerts = http.get_json("/api/v2/alerts", query=f"alerts fingerprint={fingerprint}")
    finally:
        http.close()
    if not isinstance(alerts, list):
        raise ConfigError(f"alertmanager at {http.url} did not return a list of alerts")
    hits = [a for a in alerts if str(a.get("fingerprint", "")).startswith(fingerprint)]
    if not hits:
        raise ConfigError(
            f"no alert with fingerprint {fingerprint!r} at {http.url} ({len(alerts)} alerts there)",
            hint="resolved alerts leave Alertmanager's API; give --window START..END instead",
        )
    if len({a["fingerprint"] for a in hits}) > 1:
        raise ConfigError(f"fingerprint prefix {fingerprint!r} matches several alerts")
    return hits[0]


def alert_window(
    alert: dict[str, Any], *, before: str = "30m", now: datetime | None = None
) -> Window:
    """From ``before`` ahead of the alert's ``startsAt`` to its end (or now if firing)."""
    try:
        start = parse_time(alert["startsAt"])
    except KeyError:
        raise ConfigError("the alert has no startsAt") from None
    end = now or datetime.now(UTC)
    ends = alert.get("endsAt")
    status = alert.get("status", {})
    resolved = isinstance(status, dict) and status.get("state") == "resolved"
    if ends and ends != _NEVER and resolved:
        end = parse_time(ends)
    return Window(start - parse_duration(before), max(end, start + parse_duration("1m")))


def pagerduty_incident(incident_id: str, url: str, token_env: str) -> dict[str, Any]:
    """The incident's facts (:func:`~workbench.sources.pagerduty.incident_facts`), read with
    the API key in ``$token_env`` (never printed)."""
    from workbench.sources.pagerduty import PagerDutyIncidents, pagerduty_auth

    pd = PagerDutyIncidents(url, auth=pagerduty_auth(token_env))
    try:
        return pd.incident(incident_id)
    finally:
        pd.close()


def incident_window(
    facts: dict[str, Any], *, before: str = "30m", now: datetime | None = None
) -> Window:
    """From ``before`` ahead of the incident's creation to its resolution (or now)."""
    start = facts["created_at"]
    end = facts.get("resolved_at") or now or datetime.now(UTC)
    return Window(start - parse_duration(before), max(end, start + parse_duration("1m")))
