"""A Nezha Train-Ticket case opened through the ``files`` source, as the incident
notebook opens it (workbench.toml + window), and the notebook's analyses run on it:
new log patterns, graph difference, error origin, latency blame, ranked suspects."""

from __future__ import annotations

import polars as pl

from workbench.analysis.graph import graph_diff, service_graph
from workbench.analysis.suspects import errors_from_logs, rank_suspects
from workbench.analysis.templates import template_surges
from workbench.analysis.traces import error_origins, latency_blame
from workbench.evaluation.cases import nezha_cases
from workbench.evaluation.export import export_case
from workbench.notebook import open_incident

CASE = "2023-01-30T135220"  # network_delay on ts-route-service


def _case(samples_dir, tmp_path):
    root = tmp_path / "nezha"
    root.mkdir()
    src = samples_dir / "nezha-trainticket"
    cases = pl.read_csv(src / "cases.csv", infer_schema=False)
    cases.filter(pl.col("case_id") == CASE).write_csv(root / "cases.csv")
    for d in ("rca_data", "construct_data"):
        (root / d).symlink_to(src / d)
    (case,) = list(nezha_cases(root))
    return case


def test_nezha_case_through_the_files_source_runs_the_notebook_analyses(samples_dir, tmp_path):
    case = _case(samples_dir, tmp_path)
    toml, window = export_case(case, tmp_path / "export")
    inc = open_incident("NEZHA-1", window=window, sources_config=str(toml))
    inc.load()
    assert not inc.partial
    assert inc.window == case.window
    # the files source hands back every log line and span of the case (nothing lost)
    assert inc.logs.height == case.logs.height
    assert inc.spans.height == case.spans.height
    in_both = (pl.col("ts") >= inc.baseline.start) & (pl.col("ts") < inc.window.end)
    assert inc.metrics.height == case.metrics.filter(in_both).height > 0

    surges = template_surges(inc.logs, inc.window, inc.baseline)
    assert surges.filter(pl.col("surge")).height > 0

    diff = graph_diff(
        service_graph(inc.spans, window=inc.baseline), service_graph(inc.spans, window=inc.window)
    )
    slower = diff.filter(pl.col("change") == "slower")
    assert slower.height > 0

    # CSV traces carry no status: error lines in the logs mark the failing spans
    spans = errors_from_logs(inc.spans, inc.logs)
    origins = error_origins(spans, window=inc.window)
    assert set(origins.columns) >= {"service", "name", "traces", "share"}

    blame = latency_blame(inc.spans, window=inc.window, baseline=inc.baseline)
    assert blame.height > 0 and blame["extra_ms"].max() > 0

    sus = rank_suspects(inc)
    assert sus.ranking[0] == case.truth == "ts-route-service"
    ev = sus.evidence(sus.ranking[0])
    assert sus.table["why"][0] != "no anomaly"
    assert ev.blame.height + ev.templates.height + ev.series.height > 0


def test_the_incident_notebook_runs_on_a_nezha_case_through_the_files_source(samples_dir, tmp_path):
    import json

    from workbench import notebook

    case = _case(samples_dir, tmp_path)
    toml, window = export_case(case, tmp_path / "export")
    out = notebook.execute(
        notebook.template_path(),
        tmp_path / "out.ipynb",
        parameters={"incident_id": "NEZHA-1", "window": window, "sources_config": str(toml)},
    )
    nb = json.loads(out.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(c["execution_count"] is not None for c in code)
    assert not [o for c in code for o in c["outputs"] if o["output_type"] == "error"]

    def shown(start: str) -> str:
        (cell,) = [c for c in code if "".join(c["source"]).startswith(start)]
        return "".join("".join(o.get("data", {}).get("text/plain", "")) for o in cell["outputs"])

    assert "slower" in shown("inv.graph_diff")  # the graph difference
    assert "extra_ms" in shown("inv.blame")  # the latency blame
    assert "new" in shown("inv.surges")  # the new log patterns
    assert "top_suspect='ts-route-service'" in shown("inv.findings")
