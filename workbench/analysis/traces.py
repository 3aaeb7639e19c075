"""Trace analysis: where errors start and where the time goes.

* :func:`error_origins` — for failing requests, the deepest spans in error whose children
  are not in error (one anti-join, no tree walk), aggregated to service and operation.
* :func:`span_tree` — per span: depth, clock-skew-trimmed interval (children clipped to
  their parent's interval), self time (duration minus the union of its children) and
  critical-path time (walking back from the parent's end through the last-finishing
  child that ends before the current point, as Jaeger's critical-path view does).
* :func:`latency_blame` — where the extra time of slow traces goes compared with normal
  ones, per service and operation.

Traversals are vectorised over whole levels with numpy/polars; spans whose parent is
missing are roots, and spans on a parent cycle are never reached from a root, so they
are counted (``span_tree(...)["depth"]`` is null) instead of looping forever.

Example::

    >>> from workbench.analysis import traces as tr
    >>> tr.error_origins(inc.in_window(inc.spans, "start"))     # service, name, traces, share
    >>> tr.latency_blame(inc.spans, window=inc.window, baseline=inc.baseline).head()
"""

from __future__ import annotations

import numpy as np
import polars as pl

from workbench.analysis._util import memoised
from workbench.timewindow import Window

__all__ = [
    "error_origin_spans",
    "error_origins",
    "failing_spans",
    "gap_parents",
    "latency_blame",
    "origins_by",
    "span_tree",
    "with_gap_parents",
]

_KEY = ["trace_id", "span_id"]


def _in(df: pl.DataFrame, window: Window | None, column: str = "start") -> pl.DataFrame:
    if window is None:
        return df
    return df.filter((pl.col(column) >= window.start) & (pl.col(column) < window.end))


@memoised  # few spans fail: the verdict's placebo windows then filter those only
def failing_spans(spans: pl.DataFrame) -> pl.DataFrame:
    """The spans in error (memoised within an investigation: the ranking and each of
    the verdict's placebo windows ask whether any span fails, and filter those).

    >>> failing_spans(inc.spans).height   # doctest: +SKIP
    """
    return spans.filter(pl.col("status") == "error")


@memoised
def gap_parents(spans: pl.DataFrame) -> pl.DataFrame:
    """``trace_id, span_id, gap_parent``: for each span whose parent is missing from its
    trace (the caller left no span: a service without traces, a span lost), the call it
    sits under: the innermost client span of the same trace that has no child span and
    was under way when the orphan started (a call that timed out ends before the work it
    started does).

    A call into a service that sends no spans leaves a client span without a child; what
    that service calls in turn still sends its spans, naming the missing span as their
    parent. Those spans are part of the call's time (and of its failure), as a visible
    child would be. Orphans that no such call holds (another gap, clock skew) stay roots.

    >>> gap_parents(inc.spans)   # orphan -> the childless call it belongs under
    """
    schema = {"trace_id": pl.String, "span_id": pl.String, "gap_parent": pl.String}
    if spans.height == 0 or "kind" not in spans.columns:
        return pl.DataFrame(schema=schema)
    s = spans.select("trace_id", "span_id", "parent_span_id", "kind", "start", "end")
    ids = s.select("trace_id", parent_span_id="span_id").unique()
    orphans = (
        s.filter(pl.col("parent_span_id").is_not_null())
        .join(ids, on=["trace_id", "parent_span_id"], how="anti")
        .select("trace_id", "span_id", _os="start")
    )
    if orphans.height == 0:
        return pl.DataFrame(schema=schema)
    parents = s.select("trace_id", span_id="parent_span_id").drop_nulls().unique()
    calls = (
        s.filter(pl.col("kind") == "client")
        .join(orphans.select("trace_id").unique(), on="trace_id", how="semi")
        .join(parents, on=["trace_id", "span_id"], how="anti")
        .select("trace_id", gap_parent="span_id", _cs="start", _ce="end")
    )
    return (
        orphans.join(calls, on="trace_id", how="inner")
        .filter(
            (pl.col("gap_parent") != pl.col("span_id"))
            & (pl.col("_cs") <= pl.col("_os"))
            & (pl.col("_ce") >= pl.col("_os"))
        )
        .sort("_cs", descending=True)
        .unique(["trace_id", "span_id"], keep="first")
        .select(list(schema))
        .cast(schema)  # type: ignore[arg-type]
    )


def with_gap_parents(spans: pl.DataFrame) -> pl.DataFrame:
    """``spans`` with each orphan's ``parent_span_id`` set to its :func:`gap_parents` call
    (other spans unchanged)."""
    gp = gap_parents(spans)
    if gp.height == 0:
        return spans
    return (
        spans.join(gp, on=_KEY, how="left", maintain_order="left")
        .with_columns(parent_span_id=pl.coalesce("gap_parent", "parent_span_id"))
        .drop("gap_parent")
    )


def error_origin_spans(
    spans: pl.DataFrame, *, window: Window | None = None, gaps: pl.DataFrame | None = None
) -> pl.DataFrame:
    """The spans where errors originate: in error, with no child in error (a span under
    a call into a service that sent no spans counts as that call's child:
    :func:`gap_parents`; ``gaps``: those of the same spans computed already).

    >>> error_origin_spans(inc.spans, window=inc.window).select("service", "name", "start")
    """
    err = _in(failing_spans(spans), window)
    err_parents = err.select("trace_id", pl.col("parent_span_id").alias("span_id"))
    gp = gap_parents(spans) if gaps is None else gaps
    if gp.height:
        err_parents = pl.concat(
            [
                err_parents,
                err.select(_KEY)
                .join(gp, on=_KEY, how="inner")
                .select("trace_id", span_id="gap_parent"),
            ]
        )
    return err.join(err_parents.drop_nulls().unique(), on=_KEY, how="anti")


def error_origins(
    spans: pl.DataFrame,
    *,
    window: Window | None = None,
    by: tuple[str, ...] = ("service", "name"),
    gaps: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Where errors start, aggregated: ``by`` columns, ``origin_spans``, ``traces`` (failing
    traces with an origin there) and ``share`` of all failing traces, largest first.

    >>> error_origins(inc.spans, window=inc.window, by=("service",))
    """
    return origins_by(error_origin_spans(spans, window=window, gaps=gaps), by)


def origins_by(origins: pl.DataFrame, by: tuple[str, ...] = ("service", "name")) -> pl.DataFrame:
    """:func:`error_origins` from spans :func:`error_origin_spans` already picked (to
    aggregate the same origins ``by`` several keys without finding them again).

    >>> origins_by(error_origin_spans(inc.spans, window=inc.window), ("service",))
    """
    failing = max(origins["trace_id"].n_unique(), 1)
    return (
        origins.group_by(list(by))
        .agg(origin_spans=pl.len(), traces=pl.col("trace_id").n_unique())
        .with_columns(share=pl.col("traces") / failing)
        .sort(["traces", *by], descending=[True] + [False] * len(by))
    )


def _csr(parent: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Children of each node as (offsets, child indices), for parent >= 0."""
    has = parent >= 0
    kids = np.nonzero(has)[0]
    order = np.argsort(parent[kids], kind="stable")
    kids = kids[order]
    counts = np.bincount(parent[kids], minlength=n)
    offsets = np.concatenate([[0], np.cumsum(counts)])
    return offsets, kids


def _expand(frontier: np.ndarray, offsets: np.ndarray, kids: np.ndarray) -> np.ndarray:
    starts = offsets[frontier]
    lens = offsets[frontier + 1] - starts
    total = int(lens.sum())
    if total == 0:
        return np.empty(0, dtype=np.int64)
    rep = np.repeat(starts - np.concatenate([[0], np.cumsum(lens)[:-1]]), lens)
    return kids[np.arange(total) + rep]


def span_tree(spans: pl.DataFrame) -> pl.DataFrame:
    """Spans plus tree columns: ``depth`` (null on a cycle), ``is_root`` (no parent in the
    data), ``trimmed_start``/``trimmed_end`` (clipped into the parent's trimmed interval),
    ``self_ms`` (trimmed duration minus the union of the children), ``on_critical_path``
    and ``cp_ms`` (this span's own time on its trace's critical path; the ``cp_ms`` of a
    trace sum to its root's duration).

    Duplicate ``(trace_id, span_id)`` rows keep the first.

    >>> span_tree(inc.spans).filter(pl.col("on_critical_path")).group_by("service").agg(pl.col("cp_ms").sum())
    """
    # 64-bit keys for (trace, span) make the de-duplication and the parent join cheap
    # (a collision needs ~4e9 spans to become likely)
    key = (pl.col("trace_id").hash(11) ^ pl.col("span_id").hash(13)).alias("_key")
    # an orphan under a call into a service that sent no spans hangs under that call
    # (:func:`gap_parents`); the frame keeps its own ``parent_span_id``
    pkey = (pl.col("trace_id").hash(11) ^ pl.col("_parent").hash(13)).alias("_pkey")
    gp = gap_parents(spans)
    keyed = (
        spans.join(gp, on=_KEY, how="left", maintain_order="left").rename({"gap_parent": "_parent"})
        if gp.height
        else spans.with_columns(_parent=pl.lit(None, pl.String))
    )
    keyed = keyed.with_columns(key, _parent=pl.coalesce("_parent", "parent_span_id"))
    s = keyed.filter(keyed["_key"].is_first_distinct()).drop("_key")
    n = s.height
    if n == 0:
        return s.drop("_parent").with_columns(
            depth=pl.lit(None, pl.Int32),
            is_root=pl.lit(None, pl.Boolean),
            trimmed_start=pl.col("start"),
            trimmed_end=pl.col("end"),
            self_ms=pl.lit(None, pl.Float64),
            on_critical_path=pl.lit(None, pl.Boolean),
            cp_ms=pl.lit(None, pl.Float64),
        )
    ids = s.select(key, pl.when(pl.col("_parent").is_not_null()).then(pkey).alias("_pkey"))
    s = s.drop("_parent")
    idx = pl.DataFrame({"_pkey": ids["_key"], "_p": pl.int_range(n, eager=True)})
    parent = (
        ids.select("_pkey")
        .join(idx, on="_pkey", how="left", maintain_order="left")["_p"]
        .fill_null(-1)
        .cast(pl.Int64)
        .to_numpy()
        .copy()
    )
    parent[parent == np.arange(n)] = -1  # a span that names itself as parent is a root
    start = s["start"].dt.epoch("us").to_numpy().astype(np.int64)
    end = s["end"].dt.epoch("us").to_numpy().astype(np.int64)
    end = np.maximum(end, start)
    is_root = parent < 0

    # breadth-first from the roots: depth and trimmed intervals, level by level
    offsets, kids = _csr(parent, n)
    depth = np.full(n, -1, dtype=np.int64)
    ts, te = start.copy(), end.copy()
    frontier = np.nonzero(is_root)[0]
    depth[frontier] = 0
    level = 0
    order_parts = [frontier]
    while frontier.size:
        level += 1
        child = _expand(frontier, offsets, kids)
        child = child[depth[child] < 0]
        if child.size == 0:
            break
        depth[child] = level
        p = parent[child]
        ts[child] = np.clip(start[child], ts[p], te[p])
        te[child] = np.clip(end[child], ts[child], te[p])
        order_parts.append(child)
        frontier = child
    reached = depth >= 0

    # self time: trimmed duration minus the union of the reached children's intervals
    # (children sorted by parent and start; an island starts where a child begins after
    # every earlier sibling ended)
    covered = np.zeros(n, dtype=np.int64)
    ch = np.nonzero(reached & (parent >= 0))[0]
    if ch.size:
        ch = ch[np.lexsort((ts[ch], parent[ch]))]
        p = parent[ch]
        first = np.ones(ch.size, dtype=bool)
        first[1:] = p[1:] != p[:-1]
        group = np.cumsum(first) - 1
        base = np.min(ts[ch])
        span = int(np.max(te[ch]) - base) + 1
        # per-parent running max of the end, without a Python loop: offset each parent
        # group so a running max cannot leak from one group into the next
        shifted = (te[ch] - base) + group.astype(np.int64) * span
        run_max = np.maximum.accumulate(shifted) - group.astype(np.int64) * span
        prev_end = np.empty(ch.size, dtype=np.int64)
        prev_end[0] = -1
        prev_end[1:] = run_max[:-1]
        new_island = first | ((ts[ch] - base) > prev_end)
        starts = np.nonzero(new_island)[0]
        isl_lo = ts[ch][starts]
        isl_hi = np.maximum.reduceat(te[ch], starts)
        covered = np.bincount(p[starts], weights=isl_hi - isl_lo, minlength=n).astype(np.int64)
    self_us = np.where(reached, (te - ts) - covered, 0)

    # critical path: per parent, repeatedly take the last-finishing child that ends at or
    # before the current point, then move the point to that child's start
    cur = te.copy()
    selected = np.zeros(n, dtype=bool)
    cand = np.nonzero(reached & (parent >= 0) & (te > ts))[0]
    cand = cand[np.lexsort((-ts[cand], -te[cand], parent[cand]))]  # by parent, end desc
    while cand.size:
        cand = cand[te[cand] <= cur[parent[cand]]]
        if cand.size == 0:
            break
        p = parent[cand]
        first = np.ones(cand.size, dtype=bool)
        first[1:] = p[1:] != p[:-1]
        pick = cand[first]
        selected[pick] = True
        cur[parent[pick]] = ts[pick]
        cand = cand[~first]
    on_path = np.zeros(n, dtype=bool)
    for part in order_parts:
        if part.size:
            root_part = parent[part] < 0
            on_path[part] = np.where(
                root_part, True, selected[part] & on_path[np.maximum(parent[part], 0)]
            )
    sel_dur = np.where(selected & on_path, te - ts, 0)
    cp_child = np.bincount(parent[parent >= 0], weights=sel_dur[parent >= 0], minlength=n)
    cp_us = np.where(on_path, (te - ts) - cp_child, 0.0)

    return s.with_columns(
        depth=pl.Series(depth, dtype=pl.Int32).set(pl.Series(~reached), None),
        is_root=pl.Series(is_root),
        trimmed_start=pl.Series(ts).cast(pl.Datetime("us")).dt.replace_time_zone("UTC"),
        trimmed_end=pl.Series(te).cast(pl.Datetime("us")).dt.replace_time_zone("UTC"),
        self_ms=pl.Series(np.where(reached, self_us / 1000.0, np.nan)).fill_nan(None),
        on_critical_path=pl.Series(on_path),
        cp_ms=pl.Series(cp_us / 1000.0),
    )


def latency_blame(
    spans: pl.DataFrame,
    *,
    window: Window | None = None,
    baseline: Window | None = None,
    slow_quantile: float = 0.9,
    by: tuple[str, ...] = ("service", "name"),
) -> pl.DataFrame:
    """Where the extra time of slow traces goes, compared with normal ones.

    With ``window`` and ``baseline``: *slow* traces start in the window and take longer
    than the baseline's ``slow_quantile`` for the same root operation. Traces chosen for
    being slow are slower in every operation on their path, and summed over many
    operations that choice outweighs a real delay on one of them; so each root
    operation's slow traces are compared with its baseline traces chosen the same way
    (its slowest tenth by default; all of them when fewer than two are; the whole
    baseline for a root operation it never saw), weighed as the slow traces are. When no
    window trace is that slow (or every one is), every window trace is compared with
    every baseline trace, root operation by root operation. Without windows: traces at or
    under the median are normal and those at or above ``slow_quantile`` (and above the
    median) slow.

    Returns per ``by``: ``normal_ms`` and ``slow_ms`` (mean critical-path time per trace;
    ``normal_ms`` is that of the reference above, weighed by root operation),
    ``extra_ms`` (their difference), ``share`` of the total positive extra time, and the
    same for self time (``self_extra_ms``); largest ``extra_ms`` first. ``z`` is how far
    ``extra_ms`` is beyond sampling noise (Welch's t of the two means over the per-trace
    times, a trace without the operation counting 0): with many services and few traces
    each, which traces happen to be slow moves some time between groups by chance, and
    summed over a thousand operations that chance is most of the positive extra time.

    >>> latency_blame(inc.spans, window=inc.window, baseline=inc.baseline).head(5)
    """
    tree = span_tree(spans).filter(pl.col("depth").is_not_null())
    empty = pl.DataFrame(
        schema={
            **{b: pl.String for b in by},
            "normal_ms": pl.Float64,
            "slow_ms": pl.Float64,
            "extra_ms": pl.Float64,
            "share": pl.Float64,
            "self_extra_ms": pl.Float64,
            "slow_traces": pl.UInt32,
            "normal_traces": pl.UInt32,
            "z": pl.Float64,
        }
    )
    if tree.height == 0:
        return empty
    roots = (
        tree.filter(pl.col("is_root"))
        .with_columns(
            _dur=(pl.col("trimmed_end") - pl.col("trimmed_start")).dt.total_microseconds()
        )
        .sort("_dur", descending=True)
        .unique("trace_id", keep="first")
        .select("trace_id", pl.col("start").alias("_t0"), "_dur", pl.col("name").alias("_root"))
    )
    if window is not None and baseline is not None:
        slow, normal = _slow_and_like(roots, window, baseline, slow_quantile)
    else:
        med = roots["_dur"].median()
        q = roots["_dur"].quantile(slow_quantile)
        normal = roots.filter(pl.col("_dur") <= med).with_columns(_s=pl.lit(""))
        slow = roots.filter((pl.col("_dur") >= q) & (pl.col("_dur") > med)).with_columns(
            _s=pl.lit(""), _ref=pl.lit("")
        )
    if slow.height == 0 or normal.height == 0:
        return empty
    ntr = {"normal": normal["trace_id"].n_unique(), "slow": slow.height}
    # each slow root operation (stratum) against its reference, weighed by its slow traces
    strata = (
        slow.group_by("_s", "_ref")
        .agg(_w=pl.len() / slow.height)
        .join(normal.select(pl.col("_s").alias("_ref")), on="_ref", how="semi")
    )
    # the slow side as one group (its mean is the strata's weighted mean; its spread is
    # over every slow trace, an operation few of them pass through counting 0 in the
    # rest); the reference, each stratum's mean weighed as the slow traces are
    slow_side = _group_means(tree, slow.with_columns(_s=pl.lit("")), by).select(
        *by, slow_ms="mean", slow_self="own", _v2s="se2"
    )
    ref = (
        strata.select("_s", "_ref", "_w")
        .join(_group_means(tree, normal, by).rename({"_s": "_ref"}), on="_ref")
        .group_by(list(by))
        .agg(
            normal_ms=(pl.col("_w") * pl.col("mean")).sum(),
            normal_self=(pl.col("_w") * pl.col("own")).sum(),
            _v2n=(pl.col("_w") ** 2 * pl.col("se2")).sum(),
        )
    )
    wide = (
        ref.join(slow_side, on=list(by), how="full", coalesce=True)
        .fill_null(0.0)
        .with_columns(
            extra_ms=pl.col("slow_ms") - pl.col("normal_ms"),
            self_extra_ms=pl.col("slow_self") - pl.col("normal_self"),
        )
        .with_columns(z=_welch_z(pl.col("extra_ms"), pl.col("_v2n") + pl.col("_v2s")))
    )
    pos = wide["extra_ms"].clip(lower_bound=0).sum() or 1.0
    return (
        wide.with_columns(
            share=pl.col("extra_ms").clip(lower_bound=0) / pos,
            slow_traces=pl.lit(ntr["slow"], pl.UInt32),
            normal_traces=pl.lit(ntr["normal"], pl.UInt32),
        )
        .select(list(empty.columns))
        .sort(["extra_ms", *by], descending=[True] + [False] * len(by))
    )


def _slow_and_like(
    roots: pl.DataFrame, window: Window, baseline: Window, slow_quantile: float
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(the window's slow traces, the baseline traces they are compared with), each with
    its root operation ``_s``; the slow ones also with ``_ref``, the stratum of their
    reference. Traces chosen for being slow are slower in every operation on their path,
    so a root operation's slow traces are compared with its baseline traces chosen the
    same way (above the same quantile), when there are at least two; with fewer, with all
    its baseline traces; a root operation the baseline never saw, with the whole
    baseline. No slow trace (or only slow ones): all window traces against all baseline
    traces, root operation by root operation."""
    in_b = (pl.col("_t0") >= baseline.start) & (pl.col("_t0") < baseline.end)
    in_w = (pl.col("_t0") >= window.start) & (pl.col("_t0") < window.end)
    cut = roots.filter(in_b).group_by("_root").agg(_q=pl.col("_dur").quantile(slow_quantile))
    r = roots.join(cut, on="_root", how="left").with_columns(_s=pl.col("_root"))
    win = r.filter(in_w)
    slow = win.filter(pl.col("_q").is_null() | (pl.col("_dur") > pl.col("_q")))
    chosen = 0 < slow.height < win.height
    if not chosen:
        slow = win
    base = r.filter(in_b)
    tail = base.filter(pl.col("_dur") > pl.col("_q"))
    tails = tail.group_by("_s").agg(_k=pl.len()).filter(pl.col("_k") >= 2)["_s"]
    like = pl.concat(
        [
            tail.filter(pl.col("_s").is_in(tails.implode())) if chosen else tail.clear(),
            base.filter(~pl.col("_s").is_in(tails.implode()) | (not chosen)),
        ]
    )
    pooled = "\x00all"  # the whole baseline: the reference of a root it never saw
    seen = set(base["_s"].unique().to_list())
    slow = slow.with_columns(
        _ref=pl.when(pl.col("_s").is_in(list(seen))).then(pl.col("_s")).otherwise(pl.lit(pooled))
    )
    if slow["_ref"].eq(pooled).any():
        like = pl.concat([like, base.with_columns(_s=pl.lit(pooled))])
    return slow, like


def _group_means(tree: pl.DataFrame, traces: pl.DataFrame, by: tuple[str, ...]) -> pl.DataFrame:
    """Per ``by`` and stratum ``_s`` of ``traces``: the mean critical-path time per trace
    (``mean``; a trace without the operation counts 0), the mean self time (``own``) and
    the squared standard error of that mean (``se2``)."""
    n = traces.group_by("_s").agg(_n=pl.len())
    mean, se2 = _mean_se2("_n", "cp", "cp2")
    return (
        tree.join(traces.select("trace_id", "_s"), on="trace_id", how="inner")
        .group_by([*by, "_s", "trace_id"])
        .agg(cp=pl.col("cp_ms").sum(), selfms=pl.col("self_ms").sum())
        .group_by([*by, "_s"])
        .agg(cp=pl.col("cp").sum(), cp2=(pl.col("cp") ** 2).sum(), own=pl.col("selfms").sum())
        .join(n, on="_s")
        .with_columns(mean=mean, se2=se2, own=pl.col("own") / pl.col("_n"))
        .select(*by, "_s", "mean", "own", "se2")
    )


def _mean_se2(n: str, s: str, q: str) -> tuple[pl.Expr, pl.Expr]:
    """(mean, squared standard error of the mean) from the columns of a count ``n``, a
    sum ``s`` and a sum of squares ``q`` (sample variance; none below 0)."""
    m = pl.col(s) / pl.col(n)
    var = ((pl.col(q) - pl.col(n) * m**2) / (pl.col(n) - 1).clip(lower_bound=1)).clip(0.0)
    return m, var / pl.col(n)


#: milliseconds below a span timestamp's resolution (1 ns): a difference of mean
#: durations this small is the rounding of sums added in another order, not a change
_BELOW_RESOLUTION_MS = 1e-9


def _welch_z(diff: pl.Expr, se2: pl.Expr) -> pl.Expr:
    """``diff / sqrt(se2)`` (``diff`` in ms); a difference without any spread (every
    trace alike) is certain: +-inf, 0 when there is no difference. Without spread, a
    difference below a timestamp's resolution is none: the weighted means are sums that
    polars may add in another order from run to run, and their last bit must not turn
    an operation that did not change into an infinitely certain one (seen as z = inf in
    one run, 0 in the next)."""
    eps = _BELOW_RESOLUTION_MS
    sign = (
        pl.when(diff > eps).then(float("inf")).when(diff < -eps).then(float("-inf")).otherwise(0.0)
    )
    return pl.when(se2 > 0).then(diff / se2.sqrt()).otherwise(sign)
