"""Write a labelled case as a directory the ``files`` source reads, with a workbench.toml.

So a Nezha (or PetShop, or lab) case opens in the incident notebook like any incident:
``metrics.parquet``, ``logs.parquet``, ``spans.parquet`` in the frame contract plus a
``workbench.toml`` naming one ``files`` source, and the window to pass as the notebook's
``window`` parameter.

Example::

    >>> from workbench.evaluation.cases import nezha_cases
    >>> from workbench.evaluation.export import export_case
    >>> case = next(nezha_cases("../shared/data/nezha-trainticket"))
    >>> toml, window = export_case(case, "/tmp/nezha-case")
    >>> # workbench new NEZHA-1 --config /tmp/nezha-case/workbench.toml --window <window>
"""

from __future__ import annotations

from pathlib import Path

from workbench.evaluation.cases import Case

__all__ = ["export_case"]


def _iso(ts) -> str:
    return ts.isoformat().replace("+00:00", "Z")


def export_case(case: Case, directory: str | Path) -> tuple[Path, str]:
    """Write ``case`` under ``directory``; returns (path of workbench.toml, window text
    ``START..END`` for the notebook's ``window`` parameter)."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    for name, df in (("metrics", case.metrics), ("logs", case.logs), ("spans", case.spans)):
        if df.height:
            df.write_parquet(d / f"{name}.parquet")
    toml = d / "workbench.toml"
    toml.write_text('[sources.files]\ntype = "files"\npath = "."\n')
    return toml, f"{_iso(case.window.start)}..{_iso(case.window.end)}"
