"""Reading the PetShop layout (the alert step, nothing derived by the loader) and the
product's ranking of it, on a tiny hand-made scenario."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from workbench.analysis.totals import additive_totals
from workbench.evaluation.cases import petshop_cases
from workbench.timewindow import Window

T_ISSUE = 1_681_857_000  # issue rows (5-minute steps)
T_NORMAL = 1_692_608_400  # normal period, months later as in the real data set
NODES = ("front", "backend", "lb", "idle")


def _write(path: Path, start: int, cols: dict[tuple[str, str, str], list[float | None]]) -> None:
    n = len(next(iter(cols.values())))
    keys = list(cols)
    lines = [
        ",".join(["microservice", *(k[0] for k in keys)]),
        ",".join(["metric", *(k[1] for k in keys)]),
        ",".join(["statistic", *(k[2] for k in keys)]),
        "unix_timestamp" + "," * len(keys),
    ]
    for i in range(n):
        vals = ["" if cols[k][i] is None else repr(cols[k][i]) for k in keys]
        lines.append(",".join([f"{start + 300 * i}.0", *vals]))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


def _node(lat: list, req: list, avail: list) -> dict:
    return {"latency": lat, "requests": req, "availability": avail}


def _columns(nodes: dict[str, dict]) -> dict:
    stat = {"latency": "Average", "requests": "Sum", "availability": "Average"}
    return {(n, m, stat[m]): v for n, d in nodes.items() for m, v in d.items()}


@pytest.fixture
def scenario(tmp_path: Path) -> Path:
    sc = tmp_path / "petshop" / "tiny"
    graph = [",".join(["", *NODES])]
    calls = {("front", "backend"), ("front", "lb")}
    for a in NODES:
        graph.append(",".join([a, *("1" if (a, b) in calls else "0" for b in NODES)]))
    (sc).mkdir(parents=True)
    (sc / "graph.csv").write_text("\n".join(graph) + "\n")
    k = 40
    wob = [1.0, 1.02, 0.98, 1.01, 0.99] * (k // 5)
    normal = {
        "front": _node([0.1 * w for w in wob], [500.0] * k, [100.0] * k),
        "backend": _node([0.01 * w for w in wob], [1000.0] * k, [100.0] * k),
        "lb": _node([0.02 * w for w in wob], [50.0] * k, [100.0] * k),
        "idle": _node([None] * k, [0.0] * k, [None] * k),
    }
    _write(sc / "noissue" / "metrics.csv", T_NORMAL, _columns(normal))
    issue = {  # the backend slows down from the third step on
        "front": _node([0.1, 0.1, 0.103, 0.104, 0.1], [500.0] * 5, [100.0] * 5),
        "backend": _node([0.01, 0.01, 0.015, 0.016, 0.01], [1000.0] * 5, [100.0] * 5),
        "lb": _node([0.02, 0.02, 0.08, 0.09, 0.02], [50.0] * 5, [100.0] * 5),
        "idle": _node([None] * 5, [0.0] * 5, [None] * 5),
    }
    d = sc / "test" / "issue_0"
    _write(d / "metrics.csv", T_ISSUE, _columns(issue))
    target = {
        "target": {"node": "front", "metric": "latency", "agg": "Average"},
        "root_cause": {"node": "backend", "metric": None},
    }
    target["target"]["timestamp"] = T_ISSUE + 600 - 120  # 2 minutes before the third step
    (d / "target.json").write_text(json.dumps(target))
    return tmp_path / "petshop"


def _at(i: int) -> datetime:
    return datetime.fromtimestamp(T_ISSUE + 300 * i, tz=UTC)


def test_the_alert_gives_the_window_and_nothing_is_derived_by_the_loader(scenario: Path):
    (case,) = petshop_cases(scenario)
    assert case.window == Window(_at(2), _at(2) + timedelta(minutes=5))
    assert case.alert == _at(2)
    # only the data set's own series: the totals are the product's job, not the loader's
    assert set(case.metrics["metric"]) == {
        "latency_Average",
        "requests_Sum",
        "availability_Average",
    }
    # empty cells (an idle node has no latency) are no measurement, not lost data
    assert not case.partial
    # the product derives the same totals from them, as it would in the notebook
    tot = additive_totals(case.metrics).filter(pl.col("ts") == _at(2))
    got = {(r["service"], r["metric"]): r["value"] for r in tot.iter_rows(named=True)}
    assert got[("backend", "busy_seconds")] == pytest.approx(0.015 * 1000)
    assert got[("lb", "failed_requests")] == 0.0
    assert ("idle", "busy_seconds") not in got  # no latency reported: no total derived


def test_the_backend_carries_the_extra_seconds_and_the_front_is_a_victim(scenario: Path):
    """As the notebook ranks it (no alert metric given): the backend holds the largest
    excess of busy seconds; lb's more unusual mean latency still competes with it (the
    alert's metric, which would settle it, is not an input yet), the caller does not."""
    from workbench.evaluation.rca import investigate

    (case,) = petshop_cases(scenario)
    sus = investigate(case)
    t = {r["service"]: r for r in sus.table.iter_rows(named=True)}
    assert t["backend"]["totals"] > t["lb"]["totals"]
    assert sus.worst_rank("backend") <= 2 and set(sus.ranking[:2]) == {"backend", "lb"}
    assert sus.rank_of("front") is None or sus.rank_of("front") > 2


def test_the_service_map_reaches_the_investigation_as_a_user_gives_theirs(scenario: Path):
    """The data set's service map (``graph.csv``) is given to the Investigation as
    ``edges``, as a notebook user passes theirs: the ranking reads it (the front's
    symptoms are weighed against what it calls)."""
    from workbench.evaluation.rca import case_investigation

    (case,) = petshop_cases(scenario)
    inv = case_investigation(case)
    assert inv.options["edges"] is case.edges
    assert sus_edges(inv) == {("front", "backend"), ("front", "lb")}


def sus_edges(inv) -> set[tuple[str, str]]:
    edges = inv.suspects.value.inputs["edges"]
    return set(edges.select("caller", "callee").iter_rows())


def test_xray_remote_nodes_are_marked_remote_in_the_map(tmp_path: Path):
    """X-Ray's node type ``remote`` (the ``_<type>`` ending of a PetShop node name: a
    downstream of indeterminate type, seen only in its callers' calls) becomes the map's
    ``callee_remote``; a managed resource with its own type (a DynamoDB table) does not."""
    from workbench.analysis.suspects import remote_endpoints
    from workbench.evaluation.cases import _petshop_edges

    nodes = ["PetSite", "servi-petsi.elb.amazonaws.com_remote", "petInfo_AWS::DynamoDB::Table"]
    rows = [",".join(["", *nodes]), ",".join([nodes[0], "0", "1", "1"])]
    rows += [",".join([n, "0", "0", "0"]) for n in nodes[1:]]
    (tmp_path / "graph.csv").write_text("\n".join(rows) + "\n")
    e = _petshop_edges(tmp_path / "graph.csv")
    got = dict(zip(e["callee"], e["callee_remote"], strict=True))
    assert got == {nodes[1]: True, nodes[2]: False}
    assert remote_endpoints(e) == {nodes[1]}
