"""A service's own share of an additive total's excess: what is left once the services it
calls have taken theirs (the service-level "self time" of tracing).

An additive total (seconds spent serving requests, failed requests; see
:mod:`workbench.analysis.totals`) is *inclusive*: a caller waiting on a slow callee
spends the callee's extra seconds too, and a request that fails because its callee
failed is a failure of both. So a caller and its callee show about the same excess, and
which of the two has the larger one is a matter of noise. With a call graph the excess
is split as traces split time: a service's own (exclusive) excess is its excess minus
the excess of the services it calls directly, never below zero.

Rule (a general principle, no constant): ``own = max(0, excess - sum(excess of direct
callees))``, per total. A callee with several callers is subtracted from each of them
(its excess cannot be divided among them without per-call data): a caller's own excess
may then be understated, never overstated.

The ranking uses the split in two ways: the ``totals`` evidence of a service is its own
excess, and how much of a caller's symptom its callees explain is *measured* by
:func:`explained_share` (the share of its excess they account for, in the least
explained total) wherever the callees have no local evidence of their own (see
:func:`workbench.analysis.suspects.rank_suspects`).

Example::

    >>> from workbench.analysis.exclusive import own_excess, explained_share
    >>> own = own_excess(ex, edges)  # ex: excess_totals rows plus ``total``; edges: caller, callee
    >>> explained_share(own)         # service, explained (0..1)
"""

from __future__ import annotations

import polars as pl

__all__ = ["explained_share", "own_excess"]


def own_excess(excess: pl.DataFrame, edges: pl.DataFrame) -> pl.DataFrame:
    """``excess`` (rows of :func:`workbench.analysis.excess.excess_totals` with a ``total``
    column) with each service's ``excess`` reduced by the excess of its direct callees
    (``edges``: ``caller, callee``) of the same total, clipped at 0; ``share`` recomputed
    per total and the rows sorted as before. Without edges the rows are returned as they
    are; ``inclusive`` keeps the excess before the split, ``by`` names the direct callee
    with the largest excess (null when none has one).

    >>> own_excess(ex, pl.DataFrame({"caller": ["api"], "callee": ["db"]}))
    """
    if excess.height == 0 or edges.height == 0:
        return excess.with_columns(inclusive=pl.col("excess"), by=pl.lit(None, pl.String))
    calls = (
        edges.select("caller", "callee")
        .drop_nulls()
        .filter(pl.col("caller") != pl.col("callee"))
        .unique()
    )
    taken = (
        calls.join(
            excess.select("total", callee="service", _callee_excess="excess"),
            on="callee",
        )
        .group_by("total", "caller")
        .agg(
            _taken=pl.col("_callee_excess").sum(),
            # the callee that takes the most (whom the service is a victim of)
            by=pl.col("callee").sort_by("_callee_excess").last(),
        )
        .rename({"caller": "service"})
    )
    out = (
        excess.join(taken, on=["total", "service"], how="left")
        .with_columns(
            inclusive=pl.col("excess"),
            excess=(pl.col("excess") - pl.col("_taken").fill_null(0.0)).clip(lower_bound=0.0),
        )
        .with_columns(_top=pl.col("excess").max().over("total"))
        .with_columns(
            share=pl.when(pl.col("_top") > 0).then(pl.col("excess") / pl.col("_top")).otherwise(0.0)
        )
        .drop("_taken", "_top")
    )
    return out.sort(["total", "excess", "service"], descending=[False, True, False])


def explained_share(own: pl.DataFrame) -> pl.DataFrame:
    """``service, explained, by``: for each service with an excess of some total before the
    split (``inclusive > 0`` in :func:`own_excess` output), the share of it that its
    callees account for, ``1 - own / inclusive``, in the total they explain least (a
    service whose failures are its own is not a victim because its seconds are its
    callees'). ``by`` is the direct callee taking the most of it (null when the share is
    0). Services with no excess are not listed.

    >>> explained_share(own_excess(ex, edges)).rows()
    [('api', 1.0, 'db'), ('db', 0.0, None)]
    """
    schema = {"service": pl.String, "explained": pl.Float64, "by": pl.String}
    if own.height == 0 or "inclusive" not in own.columns:
        return pl.DataFrame(schema=schema)
    share = (1.0 - pl.col("excess") / pl.col("inclusive")).clip(0.0, 1.0)
    return (
        own.filter(pl.col("inclusive") > 0)
        .with_columns(_share=share)
        .sort("_share")
        .group_by("service")
        .agg(explained=pl.col("_share").first(), by=pl.col("by").first())
        .with_columns(by=pl.when(pl.col("explained") > 0).then(pl.col("by")))
        .select(list(schema))
        .sort("service")
    )
