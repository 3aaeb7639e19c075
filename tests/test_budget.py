"""Memory budget (issue 8 point 4): a load that would exceed ``max_rows`` stops early with
``LimitExceeded`` saying how to narrow it (PrometheusSource against the real servers; the
PostgreSQL row budget is tested in tests/test_postgres_errors.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests import promdata
from workbench.errors import ConfigError, LimitExceeded
from workbench.sources.budget import RowBudget
from workbench.sources.prometheus.source import PrometheusSource
from workbench.timewindow import Window

DAY = Window(promdata.LONG_START, promdata.LONG_START + timedelta(days=1))
ROWS = 3 * 1440  # wb_long at 60 s over a day


def test_row_budget_counts_and_projects() -> None:
    b = RowBudget(100, source="s", total_weight=10, query="q", hint="narrow it")
    b.add(10, 1)  # projects to 100: fine
    b.add(90, 9)  # exactly the limit: fine
    with pytest.raises(LimitExceeded) as info:
        b.add(1, 0)
    err = info.value
    assert err.limit == "max_rows=100" and "raise max_rows" in (err.hint or "")
    assert "narrow it" in (err.hint or "") and err.query == "q"
    early = RowBudget(100, source="s", total_weight=10)
    with pytest.raises(LimitExceeded, match=r"projected from the first 10\.0%"):
        early.add(21, 1)  # 210 projected > 2 x 100
    RowBudget(None, source="s").add(10**12)  # no limit


@pytest.mark.service
def test_prometheus_budget_stops_early_and_says_how_to_narrow(
    prom_backend, fault_proxy, hostile
) -> None:
    flavor, srv = prom_backend
    hostile.fault(flavor)
    proxy = fault_proxy(srv)

    def src(max_rows: int | None) -> PrometheusSource:
        return PrometheusSource(proxy.url, name="budgeted", flavor=flavor, max_rows=max_rows,
                                max_points_per_series=200, max_concurrency=1)  # fmt: skip

    assert src(ROWS).query_range("wb_long", DAY, step="60s").frame.height == ROWS
    assert src(None).query_range("wb_long", DAY, step="60s").frame.height == ROWS
    proxy.set("pass")  # restart the request count
    with pytest.raises(LimitExceeded) as info:
        src(ROWS - 1).query_range("wb_long", DAY, step="60s")
    assert info.value.limit == f"max_rows={ROWS - 1}" and info.value.source == "budgeted"
    assert "sum by" in (info.value.hint or "") and "narrow the window" in (info.value.hint or "")
    proxy.set("pass")
    with pytest.raises(LimitExceeded, match="projected"):
        src(1000).query_range("wb_long", DAY, step="60s")
    assert proxy.requests == 1  # stopped after the first of 8 chunks, not the last
    # narrowing as the hint says works
    narrow = Window(DAY.start, DAY.start + timedelta(hours=5))
    assert src(1000).query_range("wb_long", narrow, step="60s").frame.height == 3 * 300
    with pytest.raises(ConfigError):
        PrometheusSource(srv.url, max_rows=0)


def _jsonl(path, n: int):  # type: ignore[no-untyped-def]
    import json

    t0 = promdata.LONG_START
    path.write_text(
        "\n".join(
            json.dumps({"timestamp": (t0 + timedelta(seconds=i)).isoformat(), "level": "info",
                        "message": f"m{i}", "service": "s"})
            for i in range(n)
        )
    )  # fmt: skip
    return path


def test_file_sources_row_and_byte_budgets(tmp_path) -> None:
    from workbench.sources.files import DirectorySource, FileSource

    _jsonl(tmp_path / "a.jsonl", 60)
    _jsonl(tmp_path / "b.jsonl", 40)
    for mode in ("raise", "skip"):  # a budget is never "skipped" like a bad file
        ok = DirectorySource(tmp_path, max_rows=100, on_error=mode)
        assert ok.logs(None, DAY).rows == 100
        with pytest.raises(LimitExceeded) as info:
            DirectorySource(tmp_path, max_rows=99, on_error=mode).logs(None, DAY)
        assert info.value.limit == "max_rows=99" and "Parquet" in (info.value.hint or "")
        size = (tmp_path / "a.jsonl").stat().st_size
        with pytest.raises(LimitExceeded) as info:
            DirectorySource(tmp_path, max_bytes=size + 10, on_error=mode).logs(None, DAY)
        assert info.value.limit == f"max_bytes={size + 10}" and "b.jsonl" in str(info.value)
    one = FileSource(tmp_path / "a.jsonl", max_rows=60, max_bytes=10**6)
    assert one.logs(None, DAY).rows == 60
    # narrowing the window as the hint says brings it under the budget
    narrow = Window(DAY.start, DAY.start + timedelta(seconds=30))
    assert DirectorySource(tmp_path, max_rows=99).logs(None, narrow).rows == 60
    with pytest.raises(ConfigError):
        FileSource(tmp_path / "a.jsonl", max_rows=0)
