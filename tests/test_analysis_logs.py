"""Top error messages: masking groups variants; counts, first seen, new vs baseline."""

from __future__ import annotations

from datetime import timedelta

import polars as pl
import pytest

from tests.analysis_builders import T0
from workbench import frames
from workbench.analysis.logs import TOP_ERRORS_SCHEMA, mask_message, top_error_messages
from workbench.timewindow import Window

BASE = Window(T0, T0 + timedelta(hours=1))
INC = Window(T0 + timedelta(hours=1), T0 + timedelta(hours=2))


def _logs(rows: list[tuple[float, str, str, str]]) -> pl.DataFrame:
    return frames.validate(
        pl.DataFrame(
            {
                "ts": [T0 + timedelta(minutes=r[0]) for r in rows],
                "service": [r[1] for r in rows],
                "level": [r[2] for r in rows],
                "message": [r[3] for r in rows],
                "trace_id": [None] * len(rows),
                "span_id": [None] * len(rows),
                "attributes": [[] for _ in rows],
            },
            schema=frames.SCHEMAS["logs"],
        ),
        "logs",
    )


def test_masking_groups_ids_numbers_hex_uuids_and_ips() -> None:
    msgs = [
        "payment 8f14e45f-ceea-467f-a0e1-9f1d3c2b6a77 failed after 503 ms from 10.0.3.7:5432",
        "payment 1c0f7a12-55aa-4b5e-9d1e-0123456789ab failed after 12 ms from 192.168.1.20:5432",
        "payment deadbeefcafe0001 failed after 7 ms from 10.1.1.1\n  at Foo.bar(Foo.java:12)",
    ]
    masked = pl.DataFrame({"message": msgs}).select(mask_message())["message"].to_list()
    assert masked == ["payment <*> failed after <*> ms from <*>"] * 3


def test_counts_first_seen_example_and_new_vs_baseline() -> None:
    rows = []
    for m in range(0, 60, 10):  # baseline: a steady cache error on cart
        rows.append((m, "cart", "error", f"cache miss for key user:{m}"))
    for m in range(60, 120, 2):  # incident: cart's error doubles its rate, checkout new error
        rows.append((m, "cart", "error", f"cache miss for key user:{m}"))
    for m in range(65, 120, 1):
        rows.append((m, "checkout", "error", f"order ord_{m} rejected: upstream 503 in {m}ms"))
    rows.append((70, "checkout", "info", "order ord_1 rejected: upstream 503 in 5ms"))
    rows.append((71, "checkout", "fatal", "panic: nil map"))
    top = top_error_messages(_logs(rows), window=INC, baseline=BASE)
    assert dict(top.schema) == TOP_ERRORS_SCHEMA
    got = {(r["service"], r["pattern"]): r for r in top.iter_rows(named=True)}
    checkout = got[("checkout", "order <*> rejected: upstream <*> in <*>")]
    assert checkout["count"] == 55 and checkout["new"] is True
    assert checkout["baseline_count"] == 0 and checkout["rate_ratio"] is None
    assert checkout["first_seen"] == T0 + timedelta(minutes=65)
    assert checkout["example"] == "order ord_65 rejected: upstream 503 in 65ms"
    cart = got[("cart", "cache miss for key user:<*>")]
    assert (cart["count"], cart["baseline_count"], cart["new"]) == (30, 6, False)
    assert cart["rate_ratio"] == pytest.approx(5.0)
    assert got[("checkout", "panic: nil map")]["count"] == 1  # fatal counts as an error
    assert top["service"].to_list()[0] == "checkout"  # most frequent first


def test_without_windows_all_rows_count_and_services_can_merge() -> None:
    rows = [(1, "a", "error", "boom 1"), (2, "b", "error", "boom 2"), (3, "b", "warn", "meh")]
    top = top_error_messages(_logs(rows), by_service=False)
    assert top.select("service", "pattern", "count", "new").rows() == [(None, "boom <*>", 2, False)]


def test_each_error_line_counts_under_its_own_masked_message() -> None:
    """Messages are masked once per distinct message and joined back: every line (a
    repeated message, a missing one) counts under the pattern masking it alone gives."""
    rows = [
        (60 + i, svc, "error", msg)
        for i in range(40)
        for svc, msg in (
            ("cart", f"cache miss for key user:{i % 3}"),  # 3 messages, one pattern
            ("checkout", "order ord_7 rejected"),  # one message, repeated
        )
    ]
    logs = _logs(rows).vstack(
        _logs([(61, "checkout", "error", "x")]).with_columns(
            pl.lit(None, pl.String).alias("message")
        )
    )
    top = top_error_messages(logs, window=INC, n=100)
    errs = logs.filter(pl.col("level") == "error").with_columns(mask_message().alias("pattern"))
    want = errs.group_by("service", "pattern").len().sort("service", "pattern", nulls_last=True)
    got = top.select("service", "pattern", len=pl.col("count").cast(pl.UInt32))
    assert got.sort("service", "pattern", nulls_last=True).equals(want)
    assert top.filter(pl.col("service") == "cart")["count"].to_list() == [40]
