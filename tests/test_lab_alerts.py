"""The lab's alerts as Prometheus sends them: ``startsAt`` is when the rule fired.

Prometheus sends Alertmanager ``StartsAt: alert.FiredAt`` (cmd/prometheus/main.go,
``sendAlerts``): the moment the rule's ``for`` elapsed, not the moment its condition
began. The series here are hand-made, so the expected times follow from the rule alone.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from workbench.lab.alerts import evaluate, webhook_payloads
from workbench.lab.clock import Grid, iso, parse_iso
from workbench.lab.metrics import SeriesSet

STEP = 15.0
T0 = parse_iso("2026-11-20T10:00:00Z")
EVAL_LAG = 15  # the lab evaluates a rule 15 s after the scrape it reads


def _series(down: tuple[int, int], near_limit: tuple[int, int], n: int = 60) -> SeriesSet:
    """``api-0`` is down on scrapes ``down[0]..down[1]-1``; ``db-0`` uses 95% of its memory
    limit on ``near_limit[0]..near_limit[1]-1`` (and 50% otherwise)."""
    ss = SeriesSet(Grid(T0, STEP, n), [], [], [], np.empty((0, n)), [])
    up = np.ones(n)
    up[down[0] : down[1]] = 0
    ss.add("up", {"service": "api", "pod": "api-0"}, 0, up, is_int=True)
    mem = np.full(n, 0.5e9)
    mem[near_limit[0] : near_limit[1]] = 0.95e9
    ss.add("process_resident_memory_bytes", {"service": "db", "pod": "db-0"}, 0, mem)
    ss.add("container_memory_limit_bytes", {"service": "db", "pod": "db-0"}, 0, np.full(n, 1e9))
    ss.finish()
    return ss


def test_startsAt_is_when_the_rules_for_elapsed() -> None:
    # TargetDown (for: 1 min): down from scrape 10 (10:02:30) to 30 (10:07:30)
    ss = _series(down=(10, 30), near_limit=(0, 0))
    (alert,) = evaluate(None, ss)
    assert alert.name == "TargetDown"
    pending = T0 + 10 * STEP + EVAL_LAG  # the condition is first seen: 10:02:45
    assert alert.starts == pending
    assert alert.fired == pending + 60  # ... and has held for the rule's ``for``
    notes = webhook_payloads(None, [alert])
    firing = [a for p in notes for a in p["alerts"] if a["status"] == "firing"]
    assert [a["startsAt"] for a in firing] == ["2026-11-20T10:03:45Z"] == [iso(pending + 60)]
    resolved = [a for p in notes for a in p["alerts"] if a["status"] == "resolved"]
    # the resolved notification names the same alert: same fingerprint, same startsAt
    assert [(a["startsAt"], a["endsAt"]) for a in resolved] == [
        ("2026-11-20T10:03:45Z", iso(T0 + 30 * STEP + EVAL_LAG))
    ]


def test_a_condition_shorter_than_for_never_sends_an_alert() -> None:
    ss = _series(down=(10, 14), near_limit=(0, 0))  # 4 scrapes = 60 s: not more than ``for``
    assert evaluate(None, ss) == []


def test_alerts_and_notifications_follow_firing_order_not_pending_order() -> None:
    # db-0 goes pending first (scrape 5) but its rule waits 2 min: it fires at scrape 13;
    # api-0 goes pending later (scrape 8) and fires first, after 1 min (scrape 12)
    ss = _series(down=(8, 40), near_limit=(5, 40))
    alerts = evaluate(None, ss)
    assert [a.name for a in alerts] == ["TargetDown", "ContainerMemoryNearLimit"]
    assert [a.fired - a.starts for a in alerts] == [60.0, 120.0]
    notes = webhook_payloads(None, alerts)
    sent = [(p["groupLabels"]["alertname"], a["startsAt"]) for p in notes for a in p["alerts"]]
    assert sent[:2] == [
        ("TargetDown", iso(T0 + 12 * STEP + EVAL_LAG)),
        ("ContainerMemoryNearLimit", iso(T0 + 13 * STEP + EVAL_LAG)),
    ]


def test_the_demo_cache_of_an_older_generator_is_not_reused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cache written before the generator revision entered its key (pending-time alerts)
    is not the demo any more; the current revision's directory is."""
    from workbench import __version__
    from workbench.evaluation.suite import default_suite_dir
    from workbench.lab.demo import demo_path
    from workbench.lab.revision import GENERATOR_REVISION

    monkeypatch.setenv("WORKBENCH_CACHE", str(tmp_path))
    old = tmp_path / f"demo-{__version__}-seed1"
    new = tmp_path / f"demo-{__version__}-r{GENERATOR_REVISION}-seed1"
    for d in (old, new):
        d.mkdir()
        (d / "scenario.json").write_text(json.dumps({"name": d.name}))
    assert demo_path(1) == new
    assert default_suite_dir() == tmp_path / f"lab-suite-v{GENERATOR_REVISION}"
    assert GENERATOR_REVISION >= 4  # 4: alerts start when they fired


def test_an_oom_kill_pages_at_once_and_resolves_ten_minutes_later() -> None:
    # a fast leak: the container restarts after an OOM kill at scrape 20 (10:05:00); its
    # memory crossed 90% of the limit for less than ContainerMemoryNearLimit's 2 min and
    # it was down for one scrape (TargetDown needs 1 min): only the OOM rule can page
    n = 80
    ss = _series(down=(19, 20), near_limit=(15, 19), n=n)
    kills = np.zeros(n, dtype=bool)
    kills[20] = True
    ss.oom_kills.append(("cart", "cart-0", kills))
    (alert,) = evaluate(None, ss)
    assert alert.name == "KubernetesContainerOomKiller"
    assert alert.labels["service"] == "cart" and alert.labels["pod"] == "cart-0"
    seen = T0 + 20 * STEP + EVAL_LAG
    assert alert.starts == alert.fired == seen  # ``for: 0m``
    assert alert.ends == seen + 600  # no kill in the last 10 minutes any more
    (note,) = [p for p in webhook_payloads(None, [alert]) if p["status"] == "firing"]
    assert note["alerts"][0]["startsAt"] == iso(seen)


def test_no_oom_kill_no_oom_alert() -> None:
    ss = _series(down=(0, 0), near_limit=(0, 0))
    ss.oom_kills.append(("cart", "cart-0", np.zeros(60, dtype=bool)))
    assert evaluate(None, ss) == []
