"""Log templates: Drain-style mining over masked, de-duplicated messages, and their surges.

1. **Mask** variable fields with vectorised polars regexes (URLs, UUIDs, IPs, hex, paths,
   durations, ids, numbers) so ``"took 12ms for user 7"`` and ``"took 9ms for user 8"``
   become the same string.
2. **De-duplicate**, exactly and at every stage, so the string work shrinks as it goes:
   rows -> distinct lines (64-bit hashes, each row checked against its group's first
   line) -> lines with every digit zeroed (one byte translation) -> masked lines (the
   mask passes re-de-duplicate when a pass made many strings equal). Per row there is
   only a hash, a join on it and two gathers; a million lines become a few thousand
   distinct masked strings with counts, and only those reach the tree.
3. **Drain** (He et al., ICWS 2017): a fixed-depth tree routes each message by its token
   count and first tokens to a few candidate groups; it joins the most similar group when
   the share of equal tokens (over the positions not variable in both) reaches
   ``similarity`` and no upper-case keyword differs, and the differing positions of that
   group's template become ``<*>``. One general configuration (:data:`DEPTH`,
   :data:`SIMILARITY`), no per-data-set tuning.

Then per-template counts over time and the templates that are **new** in the incident
window or whose rate **rose** against the baseline, judged with a Poisson likelihood-ratio
score on smoothed counts (a template seen once is not a surge).

Example::

    >>> from workbench.analysis import templates as tp
    >>> mined = tp.mine_templates(inc.logs)            # logs + template_id, template
    >>> tp.template_table(mined).head()                # one row per template
    >>> tp.template_surges(mined, inc.window, inc.baseline).filter(pl.col("surge"))
    >>> tp.template_examples(mined, 3)                 # raw lines behind template 3
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from workbench.analysis._util import memoised
from workbench.analysis.stats import covered_seconds
from workbench.analysis.stats import poisson_z as _poisson_z
from workbench.frames import LEVELS
from workbench.timewindow import Window

__all__ = [
    "DEPTH",
    "MASKS",
    "SIMILARITY",
    "WILDCARD",
    "Drain",
    "covered_seconds",
    "mask_expr",
    "mine_templates",
    "template_counts",
    "template_examples",
    "template_surges",
    "template_table",
]

WILDCARD = "<*>"

# The one global setting (no per-data-set tuning). Chosen on the loghub-2k systems and
# checked leave-one-system-out: for each system, the best (depth, similarity) on the other
# eleven, measured on the one left out (`workbench eval logs --loso`). Depth 4 routes on
# two leading tokens (a user name third, "Invalid user bob from", stays out of the route).
DEPTH = 4
SIMILARITY = 0.8

# units a bound may carry: time and size units, bytes, percent
_UNITS = r"ns|us|µs|ms|s|secs?|seconds?|mins?|minutes?|h|hours?|[KMGTPE]i?B|bytes?|%"

# (name, pattern) applied in order; every match becomes <*>. Rust regex syntax (no
# look-around). General patterns only: nothing here knows one data set.
MASKS: tuple[tuple[str, str], ...] = (
    ("url", r"[A-Za-z][A-Za-z0-9+.\-]*://\S+"),
    (
        "datetime",
        r"\b(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*,? +(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct"
        r"|Nov|Dec)[a-z]* +\d{1,2},?(?: +\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?)?(?: +\d{4})?\b"
        r"|\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?)?"
        r"|\b\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?\b",
    ),
    (
        "uuid, ip",
        r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"
        r"|/?\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b",
    ),
    ("id", r"\b[A-Za-z]\w*_-?\d[\w\-]*"),
    ("hex", r"\b0[xX][0-9a-fA-F]+\b|\b[0-9a-fA-F]{8,}\b"),
    (
        "host",
        r"\b[\w\-]*\d[\w\-]*(?:\.[A-Za-z][\w\-]*)+\.[A-Za-z]{2,}\b"
        r"|\b[A-Za-z][\w\-]*(?:\.[\w\-]+)*\.[\w\-]*\d[\w\-]*(?:\.[\w\-]+)*\.[A-Za-z]{2,}\b",
    ),
    ("path", r"(?:[\w.\-~]*/[\w.\-~@:=]+)+/?"),
    # a bound ("<1 sec", ">= 5 ms", "~3 s") is one value, its unit included; a size
    # ("12 KB", "1.5GiB") is one value
    (
        "quantity",
        r"[<>~≤≥]=?\s?\d+(?:[.,]\d+)*(?:\s?(?:" + _UNITS + r"))?\b"
        r"|\b\d+(?:[.,]\d+)*\s?(?:[KMGTPE]i?B|[kKMGT]b|B)\b",
    ),
    (
        "number, duration",
        r"\B[-+]\d+(?:[.,]\d+)*\b|\b\d+(?:[.,]\d+)*(?:ns|us|µs|ms|s|sec|secs|min|h)?\b",
    ),
)

# adjacent wildcards ("<*><*>", "<*>.<*>") are one variable
_COLLAPSE = r"<\*>(?:[.:,_\-]?<\*>)+"

# (pattern, replacement) after the masks, in order: a key's value is a variable whatever
# it looks like ("tty=NODEVssh"), and a parenthesised restatement of a variable (or an
# empty one, or one token) belongs to it: "1190 bytes (1.16 KB)" and "0 bytes" are both
# "<*> bytes", "10.0.0.1 (host.example.net)" and "10.0.0.2 ()" are both "<*>"
_REWRITES: tuple[tuple[str, str], ...] = (
    (r"\b([A-Za-z][\w.\-]*)=[^\s,;&()\[\]]+", "${1}=" + WILDCARD),
    # a boolean or null literal given as a value ("isOverlap:false") is a variable; in
    # prose ("panic: nil map", "value is null") it is part of the message
    (r"([:=])(?:true|false|True|False|TRUE|FALSE|null|NULL|None|nil)\b", "${1}" + WILDCARD),
    (_COLLAPSE, WILDCARD),
    (r"<\*>((?: [A-Za-z]+)?) \([^\s()]*\)", WILDCARD + "${1}"),
)

# every step of the masking, in order
_STEPS: tuple[tuple[str, str], ...] = (*((p, WILDCARD) for _, p in MASKS), *_REWRITES)


def mask_expr(column: str | pl.Expr = "message") -> pl.Expr:
    """A polars expression masking the variable fields of a message column with ``<*>``.

    >>> df.with_columns(masked=mask_expr("message"))
    """
    e = pl.col(column) if isinstance(column, str) else column
    e = e.fill_null("")
    for pattern, repl in _STEPS:
        e = e.str.replace_all(pattern, repl)
    return e.str.strip_chars()


def _mask_distinct(values: pl.Series) -> tuple[pl.Series, pl.Series]:
    """:func:`mask_expr` over distinct strings (no nulls), de-duplicating between passes:
    ``(masked, codes)``, ``masked`` distinct in first-occurrence order and ``codes``
    (UInt32) each input's index into it.

    Every pass is a function of its input string alone, so strings equal after a pass
    stay equal after the rest and are masked once from there: a pass that masks away
    what told lines apart (ids, hex) leaves the later passes a fraction of the strings.
    """
    codes = pl.int_range(values.len(), dtype=pl.UInt32, eager=True)
    steps = _STEPS
    for i, (pattern, repl) in enumerate(steps):
        values = values.str.replace_all(pattern, repl)
        # re-de-duplicate only when it pays: many strings left, and a quarter of a sample
        # of them gone (the sample only decides when; the de-duplication is exact)
        if i < len(steps) - 1 and values.len() >= _REDEDUPE_MIN:
            sample = values.head(_REDEDUPE_MIN)
            if sample.n_unique() <= 0.75 * sample.len():
                _, step_codes, values = _factorize(values)
                codes = step_codes.gather(codes)
    return values.str.strip_chars(), codes


# below this many strings a pass costs less than a de-duplication
_REDEDUPE_MIN = 2000


def _bare(tok: str) -> bool:
    """A variable and nothing but punctuation: ``<*>``, ``<*>,``, ``(<*>)``."""
    return tok.strip(_PUNCT) == WILDCARD


_PUNCT = ".,:;!?'\"()[]{}#"


def _keyword(tok: str) -> bool:
    """An upper-case word ("HTTPS", "SOCKS5", "GET", "SPP."): a protocol, method, level or
    acronym, a constant of its event even next to a variable."""
    t = tok.strip(".,:;!?'\"")
    return len(t) >= 2 and t.isalnum() and t.isupper()


@dataclass(slots=True)
class _Group:
    tokens: list[str]
    id: int
    count: int = 0


class Drain:
    """A small Drain tree over token lists (He et al. 2017), fed de-duplicated messages.

    ``depth`` counts the root and length layers like the paper (depth 4 = two token
    layers); ``similarity`` is the share of equal tokens needed to join a group, counted
    over the positions that are not variable in both (a ``<*>`` facing ``<*>`` or
    ``LOCAL(<*>),`` is no evidence either way); two upper-case keywords that differ
    ("HTTPS" / "SOCKS5", "GET" / "POST") keep messages apart whatever the rest says.
    ``max_children`` bounds each inner node (overflow goes to ``<*>``).

    >>> d = Drain()
    >>> d.add("user <*> logged in".split()), d.add("user bob logged in".split())
    (0, 0)
    >>> d.template(0)
    'user <*> logged in'
    """

    def __init__(
        self,
        *,
        depth: int = DEPTH,
        similarity: float = SIMILARITY,
        max_children: int = 100,
    ):
        self.token_layers = max(depth - 2, 1)
        self.similarity = similarity
        self.max_children = max_children
        self.root: dict[int, dict] = {}
        self.groups: list[_Group] = []

    @staticmethod
    def _route_token(tok: str) -> str:
        if tok.isalpha():  # the common case: a plain word (no digit, no wildcard)
            return tok
        return WILDCARD if any(c.isdigit() for c in tok) or WILDCARD in tok else tok

    def _leaf(self, tokens: list[str]) -> list[_Group]:
        node = self.root.setdefault(len(tokens), {})
        for tok in tokens[: self.token_layers]:
            key = self._route_token(tok)
            if key not in node:
                if len(node) >= self.max_children:
                    key = WILDCARD
                node = node.setdefault(key, {})
            else:
                node = node[key]
        return node.setdefault("\0groups", [])

    def _best(
        self, groups: list[_Group], tokens: list[str], threshold: float | None = None
    ) -> _Group | None:
        best, best_sim, best_wild = None, -1.0, -1
        n = len(tokens)
        for g in groups:
            same = 0
            wild = 0
            both = 0  # positions (partly) variable in both: they tell nothing
            clash = False
            for a, b in zip(g.tokens, tokens, strict=True):
                if a == WILDCARD:
                    wild += 1
                if WILDCARD in a and WILDCARD in b and (_bare(a) or _bare(b)):
                    both += 1  # "<*>," vs "LOCAL(<*>),": variable in both, no evidence
                elif a == b:
                    same += 1
                elif _keyword(a) and _keyword(b):
                    clash = True  # "HTTPS" vs "SOCKS5", "GET" vs "POST": other events
                    break
            if clash:
                continue
            sim = same / (n - both) if n > both else 1.0
            if sim > best_sim or (sim == best_sim and wild > best_wild):
                best, best_sim, best_wild = g, sim, wild
        need = self.similarity if threshold is None else threshold
        if best is not None and (best_sim >= need or n == 0):
            return best
        return None

    def add(self, tokens: list[str], count: int = 1) -> int:
        """Add one message's tokens (``count`` times); return its group id."""
        groups = self._leaf(tokens)
        g = self._best(groups, tokens)
        if g is None:
            g = _Group(list(tokens), len(self.groups))
            self.groups.append(g)
            groups.append(g)
        else:
            g.tokens = [a if a == b else WILDCARD for a, b in zip(g.tokens, tokens, strict=True)]
        g.count += count
        return g.id

    def template(self, group_id: int) -> str:
        return " ".join(self.groups[group_id].tokens)


def _factorize(
    values: pl.Series, hashes: pl.Series | None = None
) -> tuple[pl.Series, pl.Series, pl.Series]:
    """Distinct values of a string column, exactly: ``(first, codes, distinct)``.

    ``first`` holds the row of each distinct value's first occurrence (ascending),
    ``codes`` (UInt32) each row's index into ``first``, and ``distinct`` the values at
    ``first``. Rows are grouped by a 64-bit hash,
    then every row is compared with its group's first value; on a hash collision the exact
    (slower) string grouping is used. ``hashes`` replaces the hash (tests force collisions).
    """
    h = (values.hash(0x5EED) if hashes is None else hashes).alias("_h")
    is_first = h.is_first_distinct()
    first = is_first.arg_true()
    if first.len() == values.len():  # all hashes differ, so all values differ
        return first, pl.int_range(values.len(), dtype=pl.UInt32, eager=True), values
    keys = pl.DataFrame({"_h": h.filter(is_first)}).with_row_index("_code")
    codes = pl.DataFrame({"_h": h}).join(keys, on="_h", how="left", maintain_order="left")["_code"]
    distinct = values.gather(first)
    if (distinct.gather(codes) == values).all():
        return first, codes, distinct
    exact = (
        pl.DataFrame({"_v": values})
        .with_row_index("_row")
        .group_by("_v", maintain_order=True)
        .agg(pl.col("_row").first())
        .with_row_index("_code")
    )
    codes = pl.DataFrame({"_v": values}).join(
        exact.select("_v", "_code"), on="_v", how="left", maintain_order="left"
    )["_code"]
    return exact["_row"], codes, exact["_v"]


# byte table turning every ASCII digit into "0" (UTF-8 multi-byte sequences hold no ASCII
# bytes, so translating bytes is the same as translating characters)
_ZERO_DIGITS = bytes(range(48)) + b"0" * 10 + bytes(range(58, 256))


def _zero_digits(values: pl.Series) -> pl.Series:
    """``values`` with every ASCII digit replaced by ``"0"``: one byte translation of the
    Arrow data buffer (several times faster than a regex replace over every digit)."""
    import pyarrow as pa

    arr = values.to_arrow(compat_level=pl.CompatLevel.oldest())
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if arr.type not in (pa.large_string(), pa.string()):
        return values.str.replace_all("[0-9]", "0")
    validity, offsets, data = arr.buffers()
    if data is None or data.size == 0:
        return values
    data = pa.py_buffer(data.to_pybytes().translate(_ZERO_DIGITS))
    out = pa.Array.from_buffers(arr.type, len(arr), [validity, offsets, data], offset=arr.offset)
    return pl.Series(values.name, out, dtype=pl.String)


@memoised
def mine_templates(
    logs: pl.DataFrame,
    *,
    column: str = "message",
    similarity: float = SIMILARITY,
    depth: int = DEPTH,
    max_children: int = 100,
) -> pl.DataFrame:
    """Assign every log line a template: returns ``logs`` plus ``template_id`` (UInt32) and
    ``template`` (the Drain template with ``<*>`` for variables).

    Only the first line of a multi-line message is mined (stack traces stay in the raw
    message). Works on any frame with a string ``column``.

    >>> mined = mine_templates(inc.logs)
    >>> mined.group_by("template").len().sort("len", descending=True)
    """
    if logs.height == 0:
        return logs.with_columns(
            template_id=pl.lit(None, pl.UInt32), template=pl.lit(None, pl.String)
        )
    import numpy as np

    # Three exact de-duplications, each on the output of the one before, so the string
    # work runs on ever fewer strings and per row there is only a hash and two gathers:
    # rows -> distinct lines (D) -> digits zeroed (Z) -> masked (M). Each level keeps
    # first-occurrence order, so M is ordered by the row where each masked form appears.
    # The column is made one contiguous chunk first: gathers and joins on a frame read
    # piecewise (thousands of chunks from read_ndjson or concat) are several times slower.
    lines = logs.select(pl.col(column).fill_null("").cast(pl.String)).to_series()
    if lines.n_chunks() > 1:
        lines = lines.rechunk()
    first_d, row_d, text = _factorize(lines)
    if text.str.contains("\n", literal=True).any():
        text = text.str.split("\n").list.first()
    # every digit becomes "0" (no mask looks at digit values, only at where digits are),
    # so "took 12ms" and "took 907ms" are masked once
    zeroed = _zero_digits(text)
    first_z, d_z, zeroed = _factorize(zeroed)
    masked, z_m = _mask_distinct(zeroed)
    first_m, m_m, masked = _factorize(masked)  # stripping can make a last few equal
    z_m = m_m.gather(z_m)
    d_m = z_m.gather(d_z)
    n_d = np.bincount(row_d.to_numpy(), minlength=len(first_d))
    n_m = np.bincount(d_m.to_numpy(), weights=n_d, minlength=len(first_m)).astype(np.int64)
    # first distinct line of each masked form (M is in first-occurrence order over Z)
    d_first = first_z.gather(z_m.is_first_distinct().arg_true())

    drain = Drain(depth=depth, similarity=similarity, max_children=max_children)
    add = drain.add
    ids = [add(m.split(), n) for m, n in zip(masked, n_m.tolist(), strict=True)]
    tid_m = pl.Series("template_id", ids, dtype=pl.UInt32)
    # template text: Drain's wildcards, constant tokens from a real example (real digits):
    # the first line of each template's first masked form
    is_ex = tid_m.is_first_distinct()
    real = text.gather(d_first.filter(is_ex)).to_frame("_t").select(mask_expr("_t"))
    texts: dict[int, str] = {}
    for gid, text_ in zip(tid_m.filter(is_ex), real.to_series(), strict=True):
        toks = drain.groups[gid].tokens
        ex = text_.split()
        if len(ex) != len(toks):  # cannot happen (same digit positions); be safe
            ex = toks
        texts[gid] = " ".join(t if t == WILDCARD else e for t, e in zip(toks, ex, strict=True))
    templates = pl.Series(
        "template",
        [texts.get(i, drain.template(i)) for i in range(len(drain.groups))],
        dtype=pl.String,
    )
    template_id = tid_m.gather(d_m).gather(row_d)
    return logs.with_columns(template_id, templates.gather(template_id))


def _ensure_mined(logs: pl.DataFrame) -> pl.DataFrame:
    return logs if "template_id" in logs.columns else mine_templates(logs)


def template_table(mined: pl.DataFrame) -> pl.DataFrame:
    """One row per template: ``template_id, template, count, services, levels,
    first_seen, last_seen, example`` (most frequent first)."""
    mined = _ensure_mined(mined)
    aggs = [
        pl.col("template").first(),
        pl.len().alias("count"),
        pl.col("message").first().alias("example"),
    ]
    if "service" in mined.columns:
        aggs.append(pl.col("service").drop_nulls().unique().sort().alias("services"))
    if "level" in mined.columns:
        aggs.append(pl.col("level").unique().sort().alias("levels"))
    if "ts" in mined.columns:
        aggs += [pl.col("ts").min().alias("first_seen"), pl.col("ts").max().alias("last_seen")]
    return (
        mined.group_by("template_id")
        .agg(aggs)
        .sort(["count", "template_id"], descending=[True, False])
    )


def template_counts(
    mined: pl.DataFrame, *, every: str = "1m", by_service: bool = True
) -> pl.DataFrame:
    """Counts per template (and service) per time bucket: ``ts, [service,] template_id, count``."""
    mined = _ensure_mined(mined)
    keys = (
        ["service", "template_id"] if by_service and "service" in mined.columns else ["template_id"]
    )
    return (
        mined.with_columns(pl.col("ts").dt.truncate(every))
        .group_by(["ts", *keys])
        .agg(pl.len().alias("count"))
        .sort(["ts", *keys])
    )


def template_surges(
    logs: pl.DataFrame,
    window: Window,
    baseline: Window,
    *,
    min_z: float = 3.0,
    min_ratio: float = 2.0,
    prior: float = 0.5,
    by_service: bool = True,
    scores_only: bool = False,
) -> pl.DataFrame:
    """Templates new in ``window`` or whose rate rose sharply against ``baseline``.

    Per (service, template): ``n_baseline, n_incident``, the smoothed rate ``ratio``
    ``((n_incident + prior) / T_incident) / ((n_baseline + prior) / T_baseline)``, and ``z``,
    the signed root of the Poisson likelihood-ratio statistic of ``n_incident`` against
    the count expected from the smoothed baseline rate. ``surge`` when ``z >= min_z`` and
    ``ratio >= min_ratio``; ``new`` when it is a surge never seen in the baseline.
    Sorted by ``z``. Accepts raw logs (mined on the fly) or :func:`mine_templates` output.
    ``scores_only``: only the keys, ``level``, ``ratio``, ``z`` and ``surge``, unsorted (the
    same values; what the log-surge signal's strength reads in the verdict's placebo
    windows).

    >>> template_surges(inc.logs, inc.window, inc.baseline).filter(pl.col("new"))
    """
    mined = _ensure_mined(logs)
    keys = (
        ("service", "template_id")
        if by_service and "service" in mined.columns
        else ("template_id",)
    )
    ti = covered_seconds(mined["ts"], window)
    tb = _covered_ts(mined, baseline)
    # the window's rows and the baseline's counted apart: the verdict's placebo windows
    # share one baseline, whose half is then counted once (memoised); the union of both
    # is what a single pass over the rows in either would give, ``template`` included
    # (the first row's, by row number, of either half)
    win = _window_counts(mined, window, keys, scores_only=scores_only)
    base = _baseline_counts(mined, baseline, keys)
    out = win.join(base, on=list(keys), how="full", coalesce=True, nulls_equal=True)
    expected = (pl.col("n_baseline") + prior) * (ti / max(tb, 1e-9))
    ratio = ((pl.col("n_incident") + prior) / ti) / ((pl.col("n_baseline") + prior) / tb)
    z = _poisson_z(pl.col("n_incident"), expected)
    surge = (z >= min_z) & (ratio >= min_ratio)
    if scores_only:
        counts = [pl.col("n_baseline").fill_null(0), pl.col("n_incident").fill_null(0)]
        extra = ["level"] if "level" in win.columns else []
        return out.with_columns(counts).select(*keys, *extra, ratio=ratio, z=z, surge=surge)
    first_is_base = pl.col("_iw").is_null() | (pl.col("_ib") < pl.col("_iw"))
    extra = [c for c in ("level", "first_in_window") if c in win.columns]
    out = out.select(
        *keys,
        pl.when(first_is_base).then(pl.col("_tb")).otherwise(pl.col("template")).alias("template"),
        pl.col("n_baseline").fill_null(0),
        pl.col("n_incident").fill_null(0),
        "example",
        *extra,
    )
    out = out.with_columns(ratio=ratio, z=z, surge=surge, new=surge & (pl.col("n_baseline") == 0))
    if "first_in_window" in out.columns:
        rate = (pl.col("n_baseline") + prior) / max(tb, 1e-9)
        out = _with_rise(out.with_columns(_rate=rate), mined, window, keys).drop("_rate")
    return out.sort(["z", *keys], descending=[True] + [False] * len(keys))


def _with_rise(
    out: pl.DataFrame, mined: pl.DataFrame, window: Window, keys: tuple[str, ...]
) -> pl.DataFrame:
    """``rose_at``: for each surge, when its rate rose above the baseline's (``_rate``,
    lines per second): the line ``t`` that best explains the window as the baseline rate
    before ``t`` and a higher constant rate from ``t`` on, i.e. that maximises the
    Poisson likelihood ratio ``n ln(n / e) - (n - e)`` of the ``n`` lines from ``t`` to
    the end of the logs against the ``e`` the baseline rate expects there. A template new
    in the window rose at its first line; one already common in the baseline where its
    lines began to outrun the baseline rate, not at its first line in the window (the
    demo's api-gateway "upstream checkout returned": first line 11:00:50, rose 11:05).
    Null for rows that are not surges."""
    rates = out.filter(pl.col("surge")).select(*keys, "_rate")
    if rates.height == 0:
        return out.with_columns(rose_at=pl.lit(None, mined.schema["ts"]))
    inside = (pl.col("ts") >= window.start) & (pl.col("ts") < window.end)
    lines = (
        _numbered(mined)
        .filter(inside)
        .select(*keys, "ts")
        .join(rates, on=list(keys), how="inner", nulls_equal=True)
        .sort([*keys, "ts"])
    )
    last = mined["ts"].filter(mined["ts"] < window.end).max()  # the logs' end, or now
    left = (pl.lit(last) - pl.col("ts")).dt.total_microseconds() / 1e6
    n = (pl.len() - pl.int_range(pl.len())).over(list(keys))  # lines from this one on
    e = (pl.col("_rate") * left).clip(lower_bound=1e-9)
    llr = n * (n / e).log() - (n - e)
    rose = (
        lines.with_columns(_llr=llr)
        .group_by(list(keys))
        .agg(pl.col("ts").get(pl.col("_llr").arg_max()).alias("rose_at"))
    )
    return out.join(rose, on=list(keys), how="left", nulls_equal=True)


#: log levels from least to most severe (``frames.LEVELS``' order; "unknown" least)
_SEVERITY = {lv: i for i, lv in enumerate(("unknown", *LEVELS[:-1]))}
_LEVEL_OF = {i: lv for lv, i in _SEVERITY.items()}


@memoised
def _numbered(mined: pl.DataFrame) -> pl.DataFrame:
    """The columns :func:`template_surges` reads, with each row's number (``_i``)."""
    cols = ("ts", "service", "template_id", "template", "message", "level")
    return mined.select([c for c in cols if c in mined.columns]).with_row_index("_i")


def _window_counts(
    mined: pl.DataFrame, window: Window, keys: tuple[str, ...], *, scores_only: bool = False
) -> pl.DataFrame:
    """Per key, over the rows in ``window``: the first row's number and template, the
    count, the first message, the most common level and the first timestamp (with
    ``scores_only``, the count and the level)."""
    rows = _numbered(mined)
    aggs = [pl.len().cast(pl.Int64).alias("n_incident")]
    if not scores_only:
        aggs = [
            pl.col("template").first(),
            pl.col("_i").first().alias("_iw"),
            *aggs,
            pl.col("message").first().alias("example"),
        ]
    if "level" in rows.columns:
        # the most common level; of levels equally common, the most severe (``mode``
        # returns ties in no fixed order, and a warn and an info weigh differently)
        severity = pl.col("level").replace_strict(_SEVERITY, default=0, return_dtype=pl.Int8)
        aggs.append(severity.mode().max().alias("_sev"))
    if not scores_only:
        aggs.append(pl.col("ts").min().alias("first_in_window"))
    inside = (pl.col("ts") >= window.start) & (pl.col("ts") < window.end)
    out = rows.filter(inside).group_by(list(keys)).agg(aggs)
    if "_sev" not in out.columns:
        return out
    level = pl.col("_sev").replace_strict(_LEVEL_OF, return_dtype=rows.schema["level"])
    return out.with_columns(level=level).drop("_sev")


@memoised  # the verdict's placebo windows share one baseline
def _baseline_counts(mined: pl.DataFrame, baseline: Window, keys: tuple[str, ...]) -> pl.DataFrame:
    """Per key, over the rows in ``baseline``: the first row's number and template, and
    the count."""
    inside = (pl.col("ts") >= baseline.start) & (pl.col("ts") < baseline.end)
    return (
        _numbered(mined)
        .filter(inside)
        .group_by(list(keys))
        .agg(
            pl.col("template").first().alias("_tb"),
            pl.col("_i").first().alias("_ib"),
            pl.len().cast(pl.Int64).alias("n_baseline"),
        )
    )


@memoised
def _covered_ts(mined: pl.DataFrame, w: Window) -> float:
    return covered_seconds(mined.get_column("ts"), w)


def template_examples(mined: pl.DataFrame, template_id: int, *, n: int = 5) -> pl.DataFrame:
    """Up to ``n`` raw log rows behind one template (earliest first)."""
    rows = mined.filter(pl.col("template_id") == template_id)
    if "ts" in rows.columns:
        rows = rows.sort("ts")
    return rows.head(n)
