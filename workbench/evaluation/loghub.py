"""Log-parsing accuracy on the loghub layout (``<System>/<System>_2k.log_structured*.csv``).

* **GA**, grouping accuracy (Zhu et al., ICSE-SEIP 2019): the share of lines whose
  predicted group holds exactly the same lines as their ground-truth group.
* **PA**, parsing accuracy (Khan et al., ICSE 2022; loghub-2.0 evaluator): the share of
  lines whose predicted template string equals the ground-truth template (after
  collapsing whitespace).

The input of each system is the ``Content`` column of its structured file (the message
after the header fields), parsed by :func:`workbench.analysis.templates.mine_templates`
with its one default configuration. The corrected labels (Khan et al.) are used when
present.

Example::

    >>> from workbench.evaluation.loghub import evaluate_loghub
    >>> table = evaluate_loghub("../shared/data/loghub-2k")
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from workbench.analysis.templates import mine_templates
from workbench.errors import BadData, ConfigError

__all__ = [
    "SETTINGS",
    "evaluate_loghub",
    "evaluate_system",
    "grouping_accuracy",
    "leave_one_out",
    "parsing_accuracy",
    "systems",
]

# the (depth, similarity) grid the global setting is chosen from
SETTINGS: tuple[tuple[int, float], ...] = tuple(
    (d, s) for d in (3, 4, 5) for s in (0.5, 0.6, 0.7, 0.8, 0.9)
)


def grouping_accuracy(truth: pl.Series, predicted: pl.Series) -> float:
    """Share of items whose predicted group equals their true group as a set of items."""
    if truth.len() != predicted.len():
        raise ValueError("truth and predicted must have the same length")
    if truth.len() == 0:
        return float("nan")
    df = pl.DataFrame({"t": truth.cast(pl.String), "p": predicted.cast(pl.String)})
    pair = df.group_by("t", "p").len("n_tp")
    nt = df.group_by("t").len("n_t")
    np_ = df.group_by("p").len("n_p")
    ok = (
        pair.join(nt, on="t")
        .join(np_, on="p")
        .filter((pl.col("n_tp") == pl.col("n_t")) & (pl.col("n_tp") == pl.col("n_p")))
    )
    return float(ok["n_tp"].sum()) / truth.len()


def _norm(s: pl.Series) -> pl.Series:
    return s.cast(pl.String).fill_null("").str.replace_all(r"\s+", " ").str.strip_chars()


def parsing_accuracy(truth: pl.Series, predicted: pl.Series) -> float:
    """Share of items whose predicted template string equals the true template."""
    if truth.len() == 0:
        return float("nan")
    return float((_norm(truth) == _norm(predicted)).sum()) / truth.len()


def systems(root: str | Path) -> list[tuple[str, Path]]:
    """(system, structured csv) for every system folder under ``root``, corrected labels
    preferred; ``root`` may also be one system's folder."""
    root = Path(root)
    if not root.is_dir():
        raise ConfigError(f"{root} is not a directory", hint="point at the loghub-2k folder")
    found = []
    for d in sorted([root, *[p for p in root.iterdir() if p.is_dir()]]):
        files = sorted(d.glob("*_structured_corrected.csv")) or sorted(d.glob("*_structured.csv"))
        if files:
            found.append((d.name, files[0]))
    if not found:
        raise ConfigError(
            f"no <System>_2k.log_structured[_corrected].csv under {root}",
            hint="expected the loghub layout: <System>/<System>_2k.log_structured.csv",
        )
    return found


def _read(path: Path) -> pl.DataFrame:
    try:
        gt = pl.read_csv(path, infer_schema=False)
    except pl.exceptions.PolarsError as exc:
        raise BadData(f"cannot read {path}: {exc}", source=str(path)) from exc
    for col in ("Content", "EventTemplate"):
        if col not in gt.columns:
            raise BadData(f"{path} has no {col} column", field=col, source=str(path))
    return gt


def _mine(gt: pl.DataFrame, **setting: Any) -> pl.DataFrame:
    return mine_templates(gt.select(message=pl.col("Content").fill_null("")), **setting)


def evaluate_system(structured_csv: str | Path) -> dict[str, object]:
    """GA and PA of the template miner (its one default setting) on one system's file."""
    path = Path(structured_csv)
    gt = _read(path)
    mined = _mine(gt)
    return {
        "lines": gt.height,
        "true_templates": gt["EventTemplate"].n_unique(),
        "found_templates": mined["template_id"].n_unique(),
        "GA": grouping_accuracy(gt["EventTemplate"], mined["template_id"]),
        "PA": parsing_accuracy(gt["EventTemplate"], mined["template"]),
    }


def evaluate_loghub(root: str | Path) -> pl.DataFrame:
    """One row per system: ``system, lines, true_templates, found_templates, GA, PA``."""
    rows = [{"system": name, **evaluate_system(f)} for name, f in systems(root)]
    return pl.DataFrame(rows)


def leave_one_out(
    root: str | Path, settings: tuple[tuple[int, float], ...] = SETTINGS
) -> pl.DataFrame:
    """Leave-one-system-out GA: for every system, the ``(depth, similarity)`` of
    ``settings`` with the best mean GA on the *other* systems, measured on the one left
    out. One row per system: ``system, depth, similarity, GA`` (the held-out GA) and
    ``GA_best`` (the best any setting reaches on that system: tuning per system).

    >>> t = leave_one_out("../shared/data/loghub-2k")
    >>> t["GA"].mean()                       # the figure for a system never seen
    """
    data = [(name, _read(f)) for name, f in systems(root)]
    ga = {
        (d, s): {
            name: grouping_accuracy(
                gt["EventTemplate"], _mine(gt, depth=d, similarity=s)["template_id"]
            )
            for name, gt in data
        }
        for d, s in settings
    }
    rows = []
    for name, _ in data:

        def others(k: tuple[int, float], held: str = name) -> tuple[float, float, int]:
            score = sum(v for m, v in ga[k].items() if m != held)
            # ties: the higher similarity (fewer merges), then the lower depth
            return score, k[1], -k[0]

        best = max(settings, key=others)
        rows.append(
            {
                "system": name,
                "depth": best[0],
                "similarity": best[1],
                "GA": ga[best][name],
                "GA_best": max(ga[k][name] for k in settings),
            }
        )
    return pl.DataFrame(rows)
