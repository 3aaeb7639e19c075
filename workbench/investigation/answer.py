"""``Answer``: one computed view of an investigation, with what it was computed on.

Every view of an :class:`~workbench.investigation.Investigation` (``inv.red``,
``inv.suspects``, ...) is an ``Answer``: the result (``value``; ``frame`` when it is a
frame) plus the ``window`` and ``baseline`` it compares, the ``services`` it is narrowed
to and the ``definition`` of what it holds, so a number never travels without its
window. Attribute access falls through to the value (``inv.suspects.ranking``,
``inv.red.filter(...)``); in a notebook it shows a one-line caption above the value.

Example::

    >>> ans = inv.red_summary
    >>> ans.window, ans.definition
    >>> ans.frame.head()                 # the polars frame
    >>> ans.caption()                    # 'RED summary · window 11:00–12:00 UTC against ...'
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field, replace
from typing import Any

import polars as pl

from workbench.display import span_label
from workbench.timewindow import Window

__all__ = ["Answer", "span_label"]


@dataclass(frozen=True, eq=False)
class Answer:
    """One view of an investigation: ``value`` and what it was computed on.

    ``name`` (``"red"``, ``"suspects"``, ...), ``window`` (the incident window it looks
    at), ``baseline`` (what it compares with, None if nothing), ``services`` (the focus
    it is narrowed to; empty: all), ``definition`` (one sentence: what the numbers are),
    ``seconds`` (time it took to compute).
    """

    name: str
    value: Any
    window: Window
    baseline: Window | None
    definition: str
    services: tuple[str, ...] = ()
    seconds: float = 0.0
    #: Grafana Explore links (:class:`workbench.grafana_links.ExploreLinks`) or None: rows
    #: of a table get a ``grafana`` column of links (:mod:`workbench.grafana_view`)
    links: Any = field(default=None, repr=False, compare=False)

    @property
    def frame(self) -> pl.DataFrame:
        """The value as a polars frame (the value itself, or its ``table``/``frame``)."""
        v = self.value
        if isinstance(v, pl.DataFrame):
            return v
        for attr in ("table", "frame", "nodes"):
            got = getattr(v, attr, None)
            if isinstance(got, pl.DataFrame):
                return got
        raise TypeError(f"the {self.name} answer holds a {type(v).__name__}, not a frame")

    def caption(self) -> str:
        """``name · window … against baseline … · services …`` in plain text."""
        parts = [self.name, f"window {span_label(self.window)}"]
        if self.baseline is not None:
            parts.append(f"against baseline {span_label(self.baseline)}")
        if self.services:
            parts.append("services " + ", ".join(self.services))
        return " · ".join(parts)

    def __getattr__(self, item: str) -> Any:
        # only called for names the dataclass lacks: fall through to the value; a frame
        # method returning a frame (head, filter, select, sort...) keeps the labels, so
        # ``inv.red_summary.head(8)`` still says which window it shows
        if item.startswith("__") or item == "value":
            raise AttributeError(item)
        got = getattr(self.value, item)
        if not (isinstance(self.value, pl.DataFrame) and callable(got)):
            return got

        def keep_labels(*args: Any, **kwargs: Any) -> Any:
            out = got(*args, **kwargs)
            return self.derive(out) if isinstance(out, pl.DataFrame) else out

        return keep_labels

    def derive(self, value: Any) -> Answer:
        """The same labels around another value (a slice of this one)."""
        return replace(self, value=value)

    def __len__(self) -> int:
        return len(self.value)

    def __iter__(self) -> Any:
        return iter(self.value)

    def _repr_html_(self) -> str | None:
        v = self.value
        if isinstance(v, pl.DataFrame):  # a table for people; the frame is .frame
            from workbench.display import html_table
            from workbench.grafana_view import link_cells

            shown, cells = link_cells(v, self.name, self.links)
            inner = html_table(shown, max_rows=20, more_hint=".frame has them all", cell_html=cells)
        elif hasattr(v, "_repr_html_"):
            inner = v._repr_html_()
        elif hasattr(v, "_repr_markdown_"):
            return None  # shown as Markdown (the findings)
        else:
            inner = f"<pre>{html.escape(repr(v))}</pre>"
        return (
            f"<div class='wb-answer'><div style='font-size:90%;color:#555'>"
            f"<b>{html.escape(self.caption())}</b><br><i>{html.escape(self.definition)}</i>"
            f"</div>{inner}</div>"
        )

    def _repr_markdown_(self) -> str | None:
        v = self.value
        md = getattr(v, "_repr_markdown_", None)
        if md is None:
            return None
        return f"*{self.caption()}*\n\n{md()}"

    def __repr__(self) -> str:
        return f"Answer({self.caption()}: {self.value!r})"
