"""Per-service metric aggregates from Parquet (the investigation's first pass at scale):
counters summed over pods (resets count 0, rates add up), gauges averaged, per-instance
labels gone, the window pushed into the scan; the lab states its trace sampling and
grows trace volume with the topology."""

from __future__ import annotations

import gzip
import io
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from tests.analysis_builders import metrics_at
from workbench import Incident, Window, frames
from workbench.analysis.changes import rate_counters
from workbench.lab.runner import TRACES_PER_SERVICE, trace_target
from workbench.sources.files import DirectorySource
from workbench.sources.files.aggregate import service_aggregates

T0 = datetime(2026, 1, 1, 10, 0, tzinfo=UTC)


def _rows() -> pl.DataFrame:
    rows = []
    for i in range(20):  # 30 s scrapes over 10 minutes
        ts = T0 + timedelta(seconds=30 * i)
        # pod a: +10 per scrape; pod b: +4 per scrape, reset to 0 at scrape 10
        b = 4 * i if i < 10 else 4 * (i - 10)
        for pod, v in (("a", 10 * i), ("b", b)):
            lab = {"pod": pod, "instance": f"10.0.0.{pod}", "route": "/x"}
            rows.append((ts, "reqs_total", "svc", float(v), lab))
            rows.append((ts, "cpu_ratio", "svc", 0.2 if pod == "a" else 0.6, lab))
    return metrics_at(rows)


@pytest.fixture()
def parquet_dir(tmp_path: Path) -> Path:
    (tmp_path / "metrics").mkdir()
    df = _rows()
    for name, part in df.group_by("metric"):
        part.write_parquet(tmp_path / "metrics" / f"metrics.{name[0]}.parquet")
    return tmp_path


def test_counters_sum_over_pods_and_gauges_average(parquet_dir: Path) -> None:
    win = Window(T0, T0 + timedelta(minutes=10))
    files = sorted((parquet_dir / "metrics").glob("*.parquet"))
    agg = service_aggregates(files, win, step=timedelta(seconds=60))
    keys = agg["labels"].list.eval(pl.element().struct.field("key")).explode().unique()
    assert set(keys.to_list()) == {"route"}  # pod and instance summed away
    gauge = agg.filter(pl.col("metric") == "cpu_ratio")
    assert gauge.height == 10 and gauge["value"].to_list() == pytest.approx([0.4] * 10)
    counter = agg.filter(pl.col("metric") == "reqs_total").sort("ts")
    assert counter.height == 10
    # reset-free: increases of a (10 per scrape) and b (4, reset counts 0), summed
    inc = counter["value"].diff().drop_nulls().to_list()
    assert inc[:4] == [28.0, 28.0, 28.0, 28.0]
    assert inc[4] == 10.0 + 10.0 + 4.0  # scrape 10 is b's reset: only a's 10 and b's next 4
    rates = rate_counters(counter.select(list(frames.SCHEMAS["metrics"])))
    assert rates["value"].max() == pytest.approx(28.0 / 60)


def test_pieces_of_row_groups_give_the_same_aggregates(tmp_path: Path) -> None:
    """Read a few row groups at a time (bounded memory), a counter series cut between
    two pieces keeps its increase across the cut: the same frame as one whole piece."""
    win = Window(T0, T0 + timedelta(minutes=10))
    (tmp_path / "metrics").mkdir()
    df = _rows()
    df = pl.concat([df, df.with_columns(service=pl.lit("other"))])
    # series-ordered, as exporters and the lab write: 7 rows per row group cut series
    ordered = df.sort("metric", "service", pl.col("labels").hash(), "ts")
    ordered.write_parquet(tmp_path / "metrics" / "metrics.parquet", row_group_size=7)
    files = [tmp_path / "metrics" / "metrics.parquet"]
    whole = service_aggregates(files, win)
    pieces = service_aggregates(files, win, chunk_rows=7)
    key = ["ts", "metric", "service"]
    assert pieces.height == whole.height == 40
    assert pieces.sort(key)["value"].to_list() == whole.sort(key)["value"].to_list()
    counter = pieces.filter((pl.col("metric") == "reqs_total") & (pl.col("service") == "svc"))
    assert counter.sort("ts")["value"].diff().drop_nulls().to_list()[:4] == [28.0] * 4
    # each series one block in time order (score_changes then skips its sort)
    blocks = pieces.with_columns(_k=pl.struct("metric", "service").hash())
    assert blocks.select((pl.col("_k") != pl.col("_k").shift(1)).sum()).item() == 3
    # rows in no order at all (a series goes back in time between pieces): aggregated
    # whole, the same answer
    ordered.sample(fraction=1.0, shuffle=True, seed=3).write_parquet(
        tmp_path / "metrics" / "metrics.parquet", row_group_size=7
    )
    shuffled = service_aggregates(files, win, chunk_rows=7)
    assert shuffled.sort(key)["value"].to_list() == whole.sort(key)["value"].to_list()


@pytest.mark.parametrize("gauges", ["mean", "sum"])
def test_pieces_side_by_side_give_what_one_accumulator_gives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, gauges: str
) -> None:
    """The pieces are aggregated in threads, each into an accumulator of its own, merged
    in file and piece order: bit for bit what one accumulator fed every piece of every
    file in turn gives (the way before), with series cut between pieces and between
    files, resets, a file not in series blocks and a compressed file (its pieces stay
    in one task)."""
    from workbench.analysis import threads
    from workbench.sources.files import aggregate

    win = Window(T0, T0 + timedelta(minutes=10))
    (tmp_path / "metrics").mkdir()
    df = _rows()
    df = pl.concat([df, df.with_columns(service=pl.lit("other"))])
    ordered = df.sort("metric", "service", pl.col("labels").hash(), "ts")
    early, late = (
        ordered.filter(pl.col("ts") < T0 + timedelta(minutes=4)),
        ordered.filter(pl.col("ts") >= T0 + timedelta(minutes=4)),
    )
    files = [tmp_path / "metrics" / f"m{i}.parquet" for i in range(3)]
    early.write_parquet(files[0], row_group_size=7)  # series go on in the next file
    late.write_parquet(files[1], row_group_size=7)
    # pods interleaved row by row (not series blocks): that piece is sorted
    mixed = ordered.with_columns(service=pl.lit("third")).sort("ts", "metric")
    buf = io.BytesIO()
    mixed.write_parquet(buf)  # one piece (a series going back in time across pieces
    # makes the whole aggregation fall back to one piece, threads or not)
    files[2] = files[2].with_suffix(".parquet.gz")
    files[2].write_bytes(gzip.compress(buf.getvalue()))

    def state(acc: aggregate._Acc) -> dict[str, list[pl.DataFrame]]:
        """What an accumulator holds before its result (the result clears it)."""
        return {k: list(getattr(acc, k)) for k in ("parts", "gauge_parts", "groups", "edges")}

    one = aggregate._Acc("60s", list(aggregate.PER_INSTANCE), None, gauges)
    for f in files:  # one accumulator fed every piece of every file in turn
        src, runs = aggregate._plan(f, win, 7, None, None)
        aggregate._light_pieces(one, src, runs, win, None, None)
    want = state(one)
    want_rows, want_sets = one.result()

    threaded: set[str] = set()
    merged: list[dict[str, list[pl.DataFrame]]] = []
    run_all, merge = threads.run_all, aggregate._merged

    def spy_run_all(tasks):  # type: ignore[no-untyped-def]
        def seen(fn):  # type: ignore[no-untyped-def]
            return lambda: (threaded.add(threading.current_thread().name), fn())[1]

        return run_all({k: seen(fn) for k, fn in tasks.items()})

    def spy_merged(accs, into):  # type: ignore[no-untyped-def]
        out = merge(accs, into)
        merged.append(state(out))
        return out

    monkeypatch.setattr(threads, "workers", lambda tasks: max(1, min(2, tasks)))
    monkeypatch.setattr(threads, "run_all", spy_run_all)
    monkeypatch.setattr(aggregate, "_merged", spy_merged)
    rows, sets = aggregate.keyed_aggregates(files, win, chunk_rows=7, gauges=gauges)
    assert len(threaded) == 2 and threading.current_thread().name not in threaded
    assert len(merged) == 1  # pieces, not the whole-file fallback
    for key, frames_ in want.items():  # frame for frame, in order
        assert len(merged[0][key]) == len(frames_) > 0 or key == "gauge_parts", key
        for got, exp in zip(merged[0][key], frames_, strict=True):  # rows: group_by's order
            assert_frame_equal(got.sort(got.columns), exp.sort(exp.columns), check_exact=True)
    assert rows.height == 60
    assert_frame_equal(rows, want_rows, check_exact=True)
    assert_frame_equal(sets.sort("_kh"), want_sets.sort("_kh"), check_exact=True)


def test_window_is_pushed_into_the_scan(parquet_dir: Path) -> None:
    win = Window(T0 + timedelta(minutes=5), T0 + timedelta(minutes=10))
    files = sorted((parquet_dir / "metrics").glob("*.parquet"))
    agg = service_aggregates(files, win, step=timedelta(seconds=60))
    assert agg["ts"].min() >= win.start and agg["ts"].max() < win.end
    assert agg.filter(pl.col("metric") == "cpu_ratio").height == 5


def test_directory_source_metric_grain(parquet_dir: Path) -> None:
    win = Window(T0, T0 + timedelta(minutes=10))
    raw = DirectorySource(parquet_dir).metrics(None, win)
    agg = DirectorySource(parquet_dir, metric_grain="service").metrics(None, win)
    assert raw.rows == 80 and agg.rows == 20
    assert not agg.partial and "aggregated per service" in agg.warnings[0]
    one = DirectorySource(parquet_dir, metric_grain="service").metrics("cpu_*", win)
    assert set(one.frame["metric"].to_list()) == {"cpu_ratio"}
    inc = Incident("x", win, sources=[DirectorySource(parquet_dir, metric_grain="service")])
    assert inc.metrics.height == 20  # the incident asks the source for aggregates
    # auto (default): raw samples unless they would pass max_rows, then aggregates
    assert (
        DirectorySource(parquet_dir, metric_grain="series", max_rows=50).metrics("cpu_*", win).rows
        == 40
    )
    auto = DirectorySource(parquet_dir, max_rows=50).metrics(None, win)
    assert auto.rows == 20 and "aggregated per service" in auto.warnings[0]
    with pytest.raises(Exception, match="metric_grain"):
        DirectorySource(parquet_dir, metric_grain="pod")


def test_trace_volume_grows_with_the_topology() -> None:
    assert trace_target(13, generated=False) == 2500  # the shop (demo) is unchanged
    assert trace_target(8, generated=True) == 2500
    assert trace_target(1000, generated=True) == TRACES_PER_SERVICE * 1000
    assert trace_target(1000, generated=True) > 10 * trace_target(1000, generated=False)


def test_generated_topology_writes_family_files_and_states_sampling(
    lab_scenario_dir,
) -> None:
    import json

    path = lab_scenario_dir("cpu-hog", 2, services=8)
    fams = sorted(p.name for p in (path / "metrics").glob("metrics.*.parquet"))
    assert len(fams) > 3 and not (path / "metrics" / "metrics.parquet").exists()
    meta = json.loads((path / "scenario.json").read_text())
    s = meta["sampling"]
    assert 0 < s["candidate_probability"] <= 1 and s["keep_probability"] == 0.35
    assert s["kept_traces"] == meta["counts"]["traces"]
    assert s["target_traces"] == trace_target(8, generated=True)
    # the aggregates path reads every family file; ranking finds the fault's service
    inc = Incident.from_directory(path, metric_grain="service")
    assert set(inc.metrics["metric"].unique().to_list()) >= {"up", "app_info"}
    raw = Incident.from_directory(path)
    assert inc.metrics.height < raw.metrics.height


@pytest.mark.parametrize("unit", ["ms", "us", "ns"])
def test_row_groups_outside_the_window_are_skipped_by_their_statistics(
    tmp_path: Path, unit: str
) -> None:
    """The ts statistics of each row group decide, in every time unit, whether it is
    read: groups wholly before or after the window are not."""
    import pyarrow.parquet as pq

    from workbench.sources.files.aggregate import _runs

    df = _rows().with_columns(pl.col("ts").dt.cast_time_unit(unit)).sort("ts")
    path = tmp_path / "m.parquet"
    df.write_parquet(path, row_group_size=4)  # 80 rows: 20 groups, one scrape each
    md = pq.ParquetFile(path).metadata
    win = Window(T0 + timedelta(minutes=3), T0 + timedelta(minutes=6))
    runs = list(_runs(md, win, rows=10**9))
    assert len(runs) == 1
    offset, length = runs[0]
    kept = df.slice(offset, length)["ts"]
    assert kept.min() == win.start and kept.max() == win.end - timedelta(seconds=30)
    assert (offset, length) == (24, 24)  # scrapes 6..11, in [3 min, 6 min)
    everything = list(_runs(md, Window(T0, T0 + timedelta(hours=1)), rows=10**9))
    assert everything == [(0, 80)]


def test_statistics_do_not_import_pandas(tmp_path: Path) -> None:
    """Reading nanosecond ts statistics must not import pandas on a loader thread: a
    half-imported pandas there breaks altair drawing on another thread (the explorer
    draws while metrics load; seen at 300 services)."""
    import subprocess
    import sys

    path = tmp_path / "m.parquet"
    _rows().with_columns(pl.col("ts").dt.cast_time_unit("ns")).write_parquet(path, row_group_size=4)
    code = (
        "import sys, pyarrow.parquet as pq\n"
        "from datetime import UTC, datetime, timedelta\n"
        "from workbench import Window\n"
        "from workbench.sources.files.aggregate import _runs\n"
        "sys.modules.pop('pandas', None)\n"
        "assert 'pandas' not in sys.modules\n"
        f"md = pq.ParquetFile({str(path)!r}).metadata\n"
        "t = datetime(2026, 1, 1, 10, 3, tzinfo=UTC)\n"
        "print(list(_runs(md, Window(t, t + timedelta(minutes=3)), rows=10**9)))\n"
        "print('pandas' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split("\n")[:2] == ["[(24, 24)]", "False"], out.stdout + out.stderr
