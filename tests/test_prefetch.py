"""A background load (``workbench._prefetch``, ``notebook.prefetch_incident``) changes
nothing a cell shows: adopted only when the cell asks for the same load and the
background work said nothing; otherwise the cell loads (and says it, or raises) itself."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from workbench import frames, notebook
from workbench._prefetch import Prefetch
from workbench.errors import SourceUnavailable
from workbench.incident import SIGNALS, Incident
from workbench.sources.base import Result, Source
from workbench.timewindow import Window

T0 = datetime(2026, 11, 20, 11, tzinfo=UTC)
WINDOW = Window(T0, T0 + timedelta(hours=1))


class Counting(Source):
    """Serves a few log lines; counts its loads; can fail, warn or block on demand."""

    kind = "counting"
    capabilities: ClassVar[frozenset[str]] = frozenset({"logs", "events"})  # type: ignore[assignment]

    def __init__(self, *, fail: str = "", warn: bool = False, gate: Any = None) -> None:
        super().__init__(name="counting")
        self.calls: list[str] = []
        self.fail, self.warn, self.gate = fail, warn, gate

    def logs(self, query: str | None, window: Window, *, services: Any = None) -> Result:
        self.calls.append("logs")
        if self.gate is not None:
            self.gate.wait(10)
        if self.warn:
            logging.getLogger("workbench.sources.counting").warning("counting: slow answer")
        if self.fail == "workbench":
            raise SourceUnavailable("counting is down", source=self.name)
        if self.fail == "bug":
            raise RuntimeError("a bug in the source")
        names = list(services or ["a", "b"])
        frame = _frame(
            "logs",
            ts=[window.start + timedelta(minutes=i) for i in range(len(names))],
            service=names,
            level=["error"] * len(names),
            message=[f"boom {i}" for i in range(len(names))],
        )
        return self.result("logs", frame, window=window)

    def events(self, window: Window, *, services: Any = None) -> Result:
        self.calls.append("events")
        frame = _frame("events", ts=[window.start], kind=["deploy"], service=["a"], title=["a"])
        return self.result("events", frame, window=window)


def _frame(contract: str, /, **columns: list[Any]) -> pl.DataFrame:
    schema = frames.SCHEMAS[contract]
    n = len(next(iter(columns.values())))
    empty: dict[str, list[Any]] = {"attributes": [[]] * n}
    return pl.DataFrame(
        {c: columns.get(c, empty.get(c, [None] * n)) for c in schema}, schema=schema
    )


def _opener(src: Counting, services: list[str] | None = None) -> Any:
    def open_() -> Incident:
        inc = Incident("INC-1", WINDOW, sources=[src])
        if services:
            inc.services = list(services)
        return inc

    return open_


def _same_as_plain(inc: Incident) -> None:
    plain = Incident("INC-1", WINDOW, sources=[Counting()], services=inc.services).load()
    for sig in ("logs", "events"):
        assert_frame_equal(inc.frame(sig), plain.frame(sig))
    assert list(inc.outcomes) == list(plain.outcomes)
    assert_frame_equal(inc.status().drop("elapsed_s"), plain.status().drop("elapsed_s"))


def test_the_cell_adopts_the_background_load_and_sees_the_same_frames() -> None:
    src = Counting()
    inc = Prefetch(_opener(src)).claim()
    assert inc is not None and not inc.outcomes  # nothing shows before the cell's load()
    inc.load()
    assert src.calls.count("logs") == 1  # loaded once, in the background
    assert inc._prefetch is None
    _same_as_plain(inc)


def test_only_the_signals_asked_for_are_adopted_the_rest_later() -> None:
    src = Counting()
    inc = Prefetch(_opener(src)).claim()
    assert inc is not None
    inc.load(["events"])
    assert set(inc._frames) == {"events"} and {k[1] for k in inc.outcomes} == {"events"}
    assert inc.logs.height == 2  # adopted on first use, not loaded again
    assert src.calls.count("logs") == 1


def test_a_different_load_is_not_adopted() -> None:
    src = Counting()
    inc = Prefetch(_opener(src)).claim()
    assert inc is not None
    inc.services = ["a"]  # the cell narrowed the incident before loading
    inc.load()
    assert src.calls.count("logs") == 2
    assert inc.logs["service"].to_list() == ["a"]
    _same_as_plain(inc)


def test_refresh_loads_again() -> None:
    src = Counting()
    inc = Prefetch(_opener(src)).claim()
    assert inc is not None
    inc.load(refresh=True)
    assert src.calls.count("logs") == 2


def test_a_warning_in_the_background_makes_the_cell_load_and_warn_itself(
    caplog: pytest.LogCaptureFixture,
) -> None:
    src = Counting(warn=True)
    pre = Prefetch(_opener(src))
    inc = pre.claim()
    assert inc is not None
    pre._thread.join()  # the background warning is behind us
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="workbench"):
        inc.load()
    assert src.calls.count("logs") == 2  # not adopted: loaded again in the "cell"
    assert [r.getMessage() for r in caplog.records].count("counting: slow answer") == 1


def test_a_failing_source_is_reported_by_the_cells_own_load(
    caplog: pytest.LogCaptureFixture,
) -> None:
    src = Counting(fail="workbench")
    pre = Prefetch(_opener(src))
    inc = pre.claim()
    assert inc is not None
    pre._thread.join()
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="workbench"):
        inc.load()
    assert src.calls.count("logs") == 2
    assert any("counting is down" in r.getMessage() for r in caplog.records)
    assert inc.outcomes[("counting", "logs")].error is not None


def test_an_exception_in_the_background_is_raised_by_the_cells_load() -> None:
    src = Counting(fail="bug")
    inc = Prefetch(_opener(src)).claim()
    assert inc is not None
    with pytest.raises(RuntimeError, match="a bug in the source"):
        inc.load()
    assert src.calls.count("logs") == 2


def test_a_failed_open_is_not_claimed() -> None:
    def broken() -> Incident:
        raise ValueError("bad parameters")

    assert Prefetch(broken).claim() is None


def test_the_cells_load_waits_for_the_background_one() -> None:
    gate = threading.Event()
    src = Counting(gate=gate)
    inc = Prefetch(_opener(src)).claim()
    assert inc is not None
    threading.Timer(0.2, gate.set).start()
    inc.load()
    assert src.calls.count("logs") == 1 and inc.logs.height == 2


def test_logging_goes_where_it_went_while_the_prefetch_listens(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """With no handler configured, a main-thread warning still reaches stderr (the
    last-resort handler) while the prefetch's listener is attached."""
    gate = threading.Event()
    root, workbench_logger = logging.getLogger(), logging.getLogger("workbench")
    saved = root.handlers[:], workbench_logger.handlers[:], workbench_logger.propagate
    root.handlers[:] = []
    workbench_logger.handlers[:] = []
    try:
        pre = Prefetch(_opener(Counting(gate=gate)))
        logging.getLogger("workbench.test").warning("main thread says hi")
        gate.set()
        inc = pre.claim()
        assert inc is not None
        inc.load()
    finally:
        root.handlers[:], workbench_logger.handlers[:], workbench_logger.propagate = saved
    assert "main thread says hi" in capsys.readouterr().err


def test_open_incident_returns_the_prefetched_demo_once() -> None:
    args: dict[str, Any] = {"window": "", "services": [], "sources_config": ""}
    notebook.prefetch_incident("", **args)
    inc = notebook.open_incident("", **args)
    assert inc._prefetch is not None
    inc.load()
    assert inc._prefetch is None and set(inc._frames) == set(SIGNALS)
    again = notebook.open_incident("", **args)  # claimed once: a fresh one now
    assert again is not inc and again._prefetch is None
    again.load()
    for sig in SIGNALS:
        assert_frame_equal(inc.frame(sig), again.frame(sig))
    assert_frame_equal(inc.status().drop("elapsed_s"), again.status().drop("elapsed_s"))


def test_a_prefetch_for_other_parameters_is_dropped() -> None:
    notebook.prefetch_incident("", window="", services=["checkout"], sources_config="")
    inc = notebook.open_incident("", window="", services=[], sources_config="")
    assert inc._prefetch is None and not notebook._PREFETCHES


def test_prefetch_line_only_for_a_first_cell_that_opens_from_the_parameters() -> None:
    line = notebook.prefetch_line(notebook.template_path(), {"services": ["checkout"]})
    assert line is not None
    assert "prefetch_incident(" in line and "services=['checkout']" in line
    nb = notebook._read(notebook.template_path())
    cells = [c for c in nb["cells"] if c["cell_type"] == "code"]
    first = cells[cells.index(notebook._parameters_cell(nb)) + 1]
    first["source"] = notebook._source(first).replace("services=services", 'services=["checkout"]')
    assert notebook.prefetch_line(nb) is None
    assert (
        notebook.prefetch_line(nb | {"cells": [c for c in nb["cells"] if c is not first]}) is None
    )
