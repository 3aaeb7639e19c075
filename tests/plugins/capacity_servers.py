"""Capacity fixtures: the 28-day lab history, in files, a real Prometheus and PostgreSQL.

``capacity_history``     Path of a 28-day history at 5 minutes (seed 1): the same data as
                         the notebook's embedded default (``history_path()``).
``capacity_prometheus``  a real Prometheus over promtool blocks of that history.
``capacity_pg``          a :class:`workbench.PostgresSource` on its own schema of the
                         session's private PostgreSQL, the history's metrics COPY-loaded.

promtool 2.42 makes 2-hour blocks and re-reads its whole input for every block, so the
history is first split into one OpenMetrics file per day (:func:`split_openmetrics`):
28 small runs instead of 336 passes over the whole file.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import promservers
from tests.pg_server import scratch_schema
from tests.servers import require_binary


def split_openmetrics(src: Path, out_dir: Path, *, hours: int = 24) -> list[Path]:
    """``src`` (OpenMetrics with timestamps, no exemplars) as one file per ``hours`` of
    samples, each with the headers of the families it holds and ``# EOF``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    width = hours * 3600
    parts: dict[int, list[str]] = {}
    written: dict[int, int] = {}
    header: list[str] = []
    family, name = 0, None
    with src.open(encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("#"):
                if line.startswith("# EOF"):
                    break
                fields = line.split(" ", 3)
                if len(fields) >= 3 and fields[2] != name:
                    family, name, header = family + 1, fields[2], []
                header.append(line)
                continue
            idx = int(float(line.rsplit(" ", 1)[1]) // width)
            buf = parts.setdefault(idx, [])
            if written.get(idx) != family:
                buf.extend(header)
                written[idx] = family
            buf.append(line)
    paths = []
    for idx in sorted(parts):
        p = out_dir / f"part-{idx}.om"
        p.write_text("".join(parts[idx]) + "# EOF\n", encoding="utf-8")
        paths.append(p)
    return paths


@pytest.fixture(scope="session")
def capacity_history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from workbench.lab.history import generate_history

    return generate_history(1, tmp_path_factory.mktemp("capacity-history"), days=28, step_s=300)


@pytest.fixture(scope="session")
def capacity_prometheus(
    tmp_path_factory: pytest.TempPathFactory, capacity_history: Path
) -> Iterator[promservers.Server]:
    require_binary(promservers.PROMETHEUS)
    require_binary(promservers.PROMTOOL)
    work = tmp_path_factory.mktemp("capacity-prometheus")
    parts = split_openmetrics(capacity_history / "metrics" / "metrics.om", work / "om")
    try:
        blocks = promservers.build_blocks(parts, work / "data")
        srv = promservers.start_prometheus(work, [], blocks_dir=blocks)
    except RuntimeError as exc:
        pytest.fail(f"prometheus over the capacity history did not start: {exc}", pytrace=False)
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def capacity_pg(postgres_server: Any, capacity_history: Path) -> Iterator[Any]:
    import polars as pl

    with scratch_schema(postgres_server, "cap", timeout=5) as src:
        src.ingest("metrics", pl.read_parquet(capacity_history / "metrics" / "metrics.parquet"))
        yield src
