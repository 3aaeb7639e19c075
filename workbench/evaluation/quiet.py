"""Fault-free pseudo-cases, for measuring how often the verdict cries wolf (specificity).

* **PetShop**: windows cut from ``noissue`` (normal operation) as the data set's own
  specificity protocol does: split points at 50 %, 60 %, ... of the normal period; the
  step at the split is the "alert" step, the normal period before it (less two steps,
  as the real issues have two steps before their alert) the baseline; one pseudo-case
  per split.
* **lab**: the second half of a case's baseline against its first half; every frame is
  cut at the end of the baseline, so nothing of the fault is seen. With a ``baseline``
  parameter (``workbench eval rca --baseline 4h``), as the notebook opens a fault-free
  window with it instead: the stretch as long as the case's window just before it,
  against the baseline the parameter names for it
  (:func:`~workbench.evaluation.labcase.lab_quiet_case`; the scenario needs that much
  history: ``--history-hours``).

Nezha has no fault-free period long enough (one construct minute per day).

Example::

    >>> from workbench.evaluation.quiet import quiet_cases
    >>> for case in quiet_cases("../shared/data/petshop"): ...
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import timedelta
from pathlib import Path

import polars as pl

from workbench.evaluation.alerting import DETECTION_DELAY
from workbench.evaluation.cases import (
    Case,
    _petshop_edges,
    detect_layout,
    lab_cases,
    petshop_scenarios,
)
from workbench.timewindow import Window

__all__ = ["quiet_cases"]

_LEAD_STEPS = 2  # steps of lead-in before the alert step in the PetShop issues


def quiet_cases(
    path: str | Path,
    cases: Iterable[Case] | None = None,
    *,
    baseline: str = "",
    dirs: Iterable[Path] | None = None,
    detection_delay: timedelta = DETECTION_DELAY,
) -> Iterator[Case]:
    """Fault-free pseudo-cases under ``path`` (PetShop or lab layouts; none for Nezha).
    Their ``truth`` is ``""`` and ``fault`` is ``"none"``. For a lab layout, ``cases``
    are the fault cases whose baselines to cut (default: every scenario under ``path``;
    ``workbench eval rca --lab-suite --seeds S`` passes the seeds asked for, as a suite
    directory may hold other seeds too). With ``baseline`` (the notebook parameter; lab
    layouts only, see the module docstring) the scenario directories ``dirs`` (default:
    every one under ``path``) are opened instead, each at its alert
    (``detection_delay`` where none fired)."""
    layout = detect_layout(path)
    if layout in ("lab", "lab-suite"):
        if baseline:
            return _lab_quiet_with(_lab_dirs(Path(path)) if dirs is None else dirs, baseline,
                                   detection_delay)  # fmt: skip
        return _lab_quiet(lab_cases(path) if cases is None else cases)
    if baseline:
        from workbench.errors import ConfigError

        raise ConfigError(f"a baseline parameter needs a lab layout, not {layout}")
    if layout == "petshop":
        return _petshop_quiet(path)
    return iter(())


def _cut(df: pl.DataFrame, col: str, end) -> pl.DataFrame:
    return df.filter(pl.col(col) < end) if df.height else df


def _lab_quiet(cases: Iterable[Case]) -> Iterator[Case]:
    for case in cases:
        b = case.baseline
        mid = b.start + (b.end - b.start) / 2
        yield Case(
            id=f"{case.id}/quiet",
            truth="",
            fault="none",
            window=Window(mid, b.end),
            baseline=Window(b.start, mid),
            metrics=_cut(case.metrics, "ts", b.end),
            logs=_cut(case.logs, "ts", b.end),
            spans=_cut(case.spans, "start", b.end),
            events=_cut(case.events, "ts", b.end),
            layout="lab",
            group="quiet",
        )


def _lab_dirs(path: Path) -> list[Path]:
    if (path / "truth.json").exists():
        return [path]
    return sorted(d for d in path.iterdir() if (d / "truth.json").exists())


def _lab_quiet_with(
    dirs: Iterable[Path], baseline: str, detection_delay: timedelta
) -> Iterator[Case]:
    from workbench.evaluation.labcase import lab_quiet_case

    for d in dirs:
        yield lab_quiet_case(d, baseline=baseline, detection_delay=detection_delay)


def _petshop_quiet(path: str | Path) -> Iterator[Case]:
    for sc, normal in petshop_scenarios(path):
        edges = _petshop_edges(sc / "graph.csv") if (sc / "graph.csv").exists() else None
        steps = normal["ts"].unique().sort()
        n = steps.len()
        step = steps.diff().drop_nulls().median()
        assert isinstance(step, timedelta)
        for split in range(n // 2, n - 3, max(1, int(n * 0.1))):
            at = steps[split]
            yield Case(
                id=f"{sc.name}/noissue/{split}",
                truth="",
                fault="none",
                window=Window(at, at + step),
                baseline=Window(steps[0], steps[split - _LEAD_STEPS]),
                metrics=normal.filter(pl.col("ts") < at + 3 * step),
                edges=edges,
                layout="petshop",
                group=f"{sc.name}:quiet",
                alert=at,
            )
