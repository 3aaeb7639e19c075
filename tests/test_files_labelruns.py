"""Series blocks found from the labels' dictionary indices (the fast read of a metrics
piece) agree exactly with comparing the decoded label lists, in every layout the
reader meets; and aggregates from block-ordered, shuffled and row-group-cut files agree."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow.parquet as pq
import pytest
from polars.testing import assert_frame_equal

from tests.analysis_builders import metrics_at
from workbench import Window, frames
from workbench.sources.files.aggregate import service_aggregates
from workbench.sources.files.labelruns import LEAVES, LabelRuns

T0 = datetime(2026, 1, 1, 10, 0, tzinfo=UTC)


def _label_lists(n_series: int, rng: random.Random) -> list[dict[str, str]]:
    """Label lists of mixed lengths; some differ from another only in the last value."""
    out = []
    for i in range(n_series):
        lab = {"instance": f"pod-{i % 7}", "route": f"/r{i % 3}"}
        if i % 4:
            lab["le"] = str(0.1 * (i % 5))
        if i % 5 == 0:
            lab["status"] = "500" if i % 2 else "200"
        out.append(lab)
    rng.shuffle(out)
    return out


def _write(tmp_path: Path, labels: list[dict[str, str]], *, group: int) -> Path:
    path = tmp_path / "m.parquet"
    pl.DataFrame({"labels": frames.kv_from_dicts(labels)}).write_parquet(path, row_group_size=group)
    return path


@pytest.mark.parametrize("mixed", [False, True])
@pytest.mark.parametrize("keep", ["all", "every_third", "middle"])
def test_changed_matches_comparing_decoded_lists(tmp_path: Path, mixed: bool, keep: str) -> None:
    rng = random.Random(3)
    series = _label_lists(40, rng)
    if not mixed:
        series = [dict(list(s.items())[:2]) for s in series]  # one length: the matrix path
    rows = [s for s in series for _ in range(rng.randint(1, 6))]
    rows += rows[:9]  # a series seen again later: a change, not a continuation
    path = _write(tmp_path, rows, group=len(rows))
    sel = np.arange(len(rows))
    if keep == "every_third":
        sel = sel[::3]
    elif keep == "middle":
        sel = sel[5:-5]
    runs = LabelRuns.read(pq.ParquetFile(path, read_dictionary=LEAVES), [0], sel)
    assert runs is not None
    decoded = pl.read_parquet(path)["labels"].gather(sel)
    want = (decoded.hash(1) != decoded.hash(1).shift(1)).fill_null(True).to_numpy()
    assert (runs.changed() == want).all()
    at = pl.Series(np.flatnonzero(want))
    got = runs.decode(at)
    assert got.to_list() == decoded.gather(at).to_list()
    assert (got.hash(11) == decoded.gather(at).hash(11)).all()  # same series keys


def _metrics(rng: random.Random) -> pl.DataFrame:
    rows = []
    for s, lab in enumerate(_label_lists(30, rng)):
        metric = "reqs_total" if s % 2 else "mem_bytes"
        v = 0.0
        for i in range(40):
            v = 0.0 if i == 17 and s % 3 == 0 else v + rng.random() * 5  # some resets
            rows.append((T0 + timedelta(seconds=15 * i), metric, f"svc{s % 4}", v, lab))
    return metrics_at(rows)


def test_block_files_aggregate_like_shuffled_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Series blocks (the fast path, cut into pieces of 3 row groups of 100 rows), the
    same rows shuffled (the sorted path) and one whole piece give the same aggregates."""
    from workbench.sources.files import aggregate

    sorted_rows: list[int] = []
    plain = aggregate._Acc._add_sorted

    def spy(self: aggregate._Acc, df: pl.DataFrame) -> None:
        sorted_rows.append(df.height)
        plain(self, df)

    monkeypatch.setattr(aggregate._Acc, "_add_sorted", spy)
    df = _metrics(random.Random(5))
    win = Window(T0 + timedelta(minutes=1), T0 + timedelta(minutes=9))
    blocks, shuffled = tmp_path / "b.parquet", tmp_path / "s.parquet"
    df.write_parquet(blocks, row_group_size=100)
    df.sample(fraction=1.0, shuffle=True, seed=1).write_parquet(shuffled, row_group_size=100)
    step = timedelta(seconds=60)
    a = service_aggregates([blocks], win, step=step, chunk_rows=300)
    assert sorted_rows == []  # every piece went the block way
    b = service_aggregates([shuffled], win, step=step, chunk_rows=10**9)
    assert sum(sorted_rows) == 30 * 32  # the shuffled rows in the window: sorted
    c = service_aggregates([blocks], win, step=step, chunk_rows=10**9)
    assert a.height > 100
    key = ["metric", "service", "ts"]
    a, b, c = (
        x.with_columns(pl.col("labels").hash(1).alias("_k")).sort([*key, "_k"]) for x in (a, b, c)
    )
    assert_frame_equal(a, b, check_exact=False, rel_tol=1e-12)
    assert_frame_equal(a, c, check_exact=False, rel_tol=1e-12)


def test_compressed_file_takes_the_block_path_too(tmp_path: Path) -> None:
    """A ``.parquet.gz`` (read from memory) aggregates like the plain file."""
    import gzip

    df = _metrics(random.Random(7))
    win = Window(T0, T0 + timedelta(minutes=10))
    plain = tmp_path / "m.parquet"
    df.write_parquet(plain, row_group_size=64)
    packed = tmp_path / "m.parquet.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    step = timedelta(seconds=60)
    a = service_aggregates([plain], win, step=step, chunk_rows=128)
    b = service_aggregates([packed], win, step=step, chunk_rows=128)
    assert a.height > 100
    assert_frame_equal(a, b)


def test_block_path_does_not_import_pandas(tmp_path: Path) -> None:
    """pyarrow's ``to_numpy``/``pa.array`` import pandas; a half-imported pandas on the
    explorer's loader thread breaks altair drawing on another (seen at 300 services)."""
    import subprocess
    import sys

    path = tmp_path / "m.parquet"
    _metrics(random.Random(9)).write_parquet(path, row_group_size=50)
    code = (
        "import sys\n"
        "from datetime import UTC, datetime, timedelta\n"
        "from workbench import Window\n"
        "from workbench.sources.files import aggregate\n"
        "sys.modules.pop('pandas', None)\n"
        "calls = []\n"
        "plain = aggregate._Acc._add_blocks\n"
        "aggregate._Acc._add_blocks = lambda *a: calls.append(1) or plain(*a)\n"
        "t0 = datetime(2026, 1, 1, 10, 0, tzinfo=UTC)\n"
        f"df = aggregate.service_aggregates([{str(path)!r}], "
        "Window(t0, t0 + timedelta(minutes=10)), chunk_rows=100)\n"
        "assert df.height > 0 and calls, (df.height, calls)\n"
        "assert 'pandas' not in sys.modules, 'pandas imported'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
