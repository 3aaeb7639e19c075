"""Per-call latency files of the Nezha layout: ``source_50.csv``, ``destination_50.csv``.

Online Boutique's ``metric/`` folder holds, beside one file per pod, two tables of the
median latency of every call between two services, one column per call named
``<caller>_<callee>`` (``checkoutservice_paymentservice``), one row a minute: measured
where the call leaves (``source``: the caller's side, what the caller waits) and where it
arrives (``destination``: the callee's side). They are the Nezha collector's copy of
what a service mesh reports per call (Istio's ``istio_request_duration_milliseconds`` by
``reporter="source"`` / ``"destination"``).

Each column becomes one series ``CallLatencyP50(s)`` **of the callee**, labelled with the
``caller`` and the ``reporter``: the time a caller waits on a call is the callee's
symptom, as a client span's time is put on the service it calls
(:func:`workbench.analysis.suspects.blame_services`) and a pod's own client latency is
left out of its evidence (:func:`workbench.analysis.signals.callee_symptom`). A network
delay on a service shows here, and only here, when its pods' own metrics, logs and
traces have nothing yet: the caller's side of every call into it slows down.

Columns whose name is not two known services joined by ``_`` are named in the case's
notes, not read; empty values (a minute without such calls) are counted with the other
NaN values.

Example::

    >>> edge_file("source_50.csv")
    ('source', '50')
    >>> split_call("checkoutservice_paymentservice", {"checkoutservice", "paymentservice"})
    ('checkoutservice', 'paymentservice')
"""

from __future__ import annotations

import re

import polars as pl

from workbench import frames

__all__ = ["EDGE_FILE", "edge_file", "edge_rows", "split_call"]

#: ``<reporter>_<quantile>.csv``: a table of per-call latency quantiles
EDGE_FILE = re.compile(r"^(source|destination)_(\d{2,3})\.csv$")


def edge_file(name: str) -> tuple[str, str] | None:
    """``(reporter, quantile)`` when ``name`` is a per-call latency table, else None."""
    m = EDGE_FILE.match(name)
    return (m.group(1), m.group(2)) if m else None


def split_call(column: str, services: set[str]) -> tuple[str, str] | None:
    """``(caller, callee)`` when ``column`` is exactly one pair of known services joined
    by ``_`` (service names may hold ``_`` themselves), else None."""
    pairs = [
        (column[:i], column[i + 1 :])
        for i, ch in enumerate(column)
        if ch == "_" and column[:i] in services and column[i + 1 :] in services
    ]
    return pairs[0] if len(pairs) == 1 else None


def edge_rows(
    d: pl.DataFrame,
    name: str,
    value_cols: list[str],
    services: set[str],
    notes: list[str],
    nan: dict[str, int],
) -> pl.DataFrame | None:
    """Long rows ``TimeStamp, service, metric, value, labels`` of one per-call table
    ``d`` (its ``TimeStamp`` already read): one series per call, the callee's."""
    kind = edge_file(name)
    if kind is None:
        return None
    reporter, q = kind
    calls = {c: split_call(c, services) for c in value_cols}
    odd = sorted(c for c, p in calls.items() if p is None)
    if odd:
        notes.append(
            f"metric/{name}: {len(odd)} column(s) not a caller_callee pair of known services "
            f"({', '.join(odd[:3])}{'...' if len(odd) > 3 else ''}): not read"
        )
    known = {c: p for c, p in calls.items() if p is not None}
    if not known or d.height == 0:
        return None
    long = d.select("TimeStamp", *known).unpivot(
        index="TimeStamp", on=list(known), variable_name="_call", value_name="value"
    )
    num = pl.col("value").cast(pl.Float64, strict=False)
    bad = long.filter(num.is_null() | ~num.is_finite()).height
    if bad:
        nan[name] = bad
    pairs = pl.DataFrame(
        {
            "_call": list(known),
            "caller": [p[0] for p in known.values()],
            "service": [p[1] for p in known.values()],
        }
    )
    labels = pl.concat_list(
        pl.struct(key=pl.lit("caller"), value=pl.col("caller")),
        pl.struct(key=pl.lit("reporter"), value=pl.lit(reporter)),
    ).cast(frames.KV)
    return (
        long.with_columns(value=num)
        .filter(pl.col("value").is_finite())
        .join(pairs, on="_call")
        .select(
            "TimeStamp",
            "service",
            metric=pl.lit(f"CallLatencyP{q}(s)"),
            value="value",
            labels=labels,
        )
    )
