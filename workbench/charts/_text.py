"""Vega expressions that write a number as :mod:`workbench.display` does, for charts
whose rows are too many to format in Python (a RED panel's tooltip): ``2.91 req/s``,
``18.0%``, ``0.035%``, ``496 ms``, the same text the tables show for the same value.

Example::

    >>> alt.Chart(df).transform_calculate(text=percent_expr("datum.v", scaled=True))
"""

from __future__ import annotations

from workbench.display import RATE_UNIT

__all__ = ["ms_expr", "number_expr", "percent_expr", "rate_expr"]


def number_expr(v: str) -> str:
    """``display._number``: whole numbers with separators, else 1, 2 decimals or 2
    significant digits by size; ``—`` for no value."""
    return (
        f"!isValid({v}) || isNaN({v}) ? '—' : {v} === floor({v}) ? format({v}, ',d') : "
        f"abs({v}) >= 1000 ? format({v}, ',.0f') : abs({v}) >= 10 ? format({v}, '.1f') : "
        f"abs({v}) >= 0.01 ? format({v}, '.2f') : format({v}, '.2~g')"
    )


def rate_expr(v: str) -> str:
    """:func:`workbench.display.format_rate`: ``2.91 req/s``."""
    return f"!isValid({v}) || isNaN({v}) ? '—' : ({number_expr(v)}) + ' {RATE_UNIT}'"


def percent_expr(v: str, *, scaled: bool = False) -> str:
    """:func:`workbench.display.format_percent`: ``18.0%``, ``0.0081%`` under 0.1%,
    ``0%``, no decimals from 100% up; ``scaled``: ``v`` is already x100."""
    p = v if scaled else f"({v} * 100)"
    return (
        f"!isValid({v}) || isNaN({v}) ? '—' : {p} === 0 ? '0%' : "
        f"abs({p}) < 0.1 ? format({p}, '.2~g') + '%' : "
        f"abs({p}) < 100 ? format({p}, '.1f') + '%' : format({p}, ',.0f') + '%'"
    )


def ms_expr(v: str) -> str:
    """:func:`workbench.display.format_duration` of milliseconds under a minute:
    ``840 ms``, ``3.5 ms``, ``2.4 s`` (longer: minutes with one decimal)."""
    return (
        f"!isValid({v}) || isNaN({v}) ? '—' : {v} === 0 ? '0 ms' : "
        f"abs({v}) < 1000 ? format({v}, '.3~g') + ' ms' : "
        f"abs({v}) < 60000 ? format({v} / 1000, '.3~g') + ' s' : "
        f"format({v} / 60000, '.1f') + ' min'"
    )
