"""Hostile label values cannot change a PromQL query.

Three checks, with hypothesis:

1. the quoted value round-trips through a PromQL string-literal parser written here
   (Go's ``strconv.Unquote`` rules, which PromQL's lexer uses);
2. the escaped regex matches exactly its own text (Python ``re``; RE2 agrees on escaped
   literals);
3. against the real Prometheus and VictoriaMetrics: ``label_replace`` writes the quoted
   value into a label and the server hands back exactly that value, and a matcher built
   with :func:`any_of` matches it and nothing else.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench.errors import ConfigError
from workbench.sources.prometheus import promql
from workbench.sources.prometheus.source import PrometheusSource

_SIMPLE = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v",
           "\\": "\\", '"': '"', "'": "'"}  # fmt: skip


def unquote_promql(literal: str) -> str:
    """Parse a PromQL double-quoted string literal; raise ValueError if it is not one."""
    if len(literal) < 2 or literal[0] != '"' or literal[-1] != '"':
        raise ValueError("not a double-quoted literal")
    body, out, i = literal[1:-1], [], 0
    while i < len(body):
        ch = body[i]
        if ch == '"' or ch == "\n":
            raise ValueError(f"unescaped {ch!r} at {i}: the literal would end early")
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        if i + 1 >= len(body):
            raise ValueError("dangling backslash")
        e = body[i + 1]
        if e in _SIMPLE:
            out.append(_SIMPLE[e])
            i += 2
        elif e in "xuU":
            n = {"x": 2, "u": 4, "U": 8}[e]
            digits = body[i + 2 : i + 2 + n]
            if len(digits) != n or not re.fullmatch(r"[0-9a-fA-F]+", digits):
                raise ValueError(f"bad \\{e} escape")
            out.append(chr(int(digits, 16)))
            i += 2 + n
        elif e in "01234567":
            digits = body[i + 1 : i + 4]
            if not re.fullmatch(r"[0-7]{3}", digits):
                raise ValueError("bad octal escape")
            out.append(chr(int(digits, 8)))
            i += 4
        else:
            raise ValueError(f"unknown escape \\{e}")
    return "".join(out)


HOSTILE = st.one_of(
    st.text(),
    st.text(alphabet=st.sampled_from(list('"\\\n\r\t}{=~!,|.*+?()[]^$ \x00\x07\x1b\x7fé🙂'))),
    st.sampled_from(['a"} or vector(1) #', '\\"', 'x",job=~".+', "\n", "a\\", "}{"]),
)
NO_SURROGATES = st.text(st.characters(exclude_categories=["Cs"]))
HOSTILE_UTF8 = st.one_of(
    NO_SURROGATES,
    st.text(alphabet=st.sampled_from(list('"\\\n\r\t}{=~!,|.*+?()[]^$ \x00\x07\x1b\x7fé🙂'))),
    st.sampled_from(['a"} or vector(1) #', '\\"', 'x",job=~".+', "\n", "a\\", "}{"]),
)


@settings(max_examples=1500)
@given(HOSTILE)
def test_quoted_value_round_trips_through_a_promql_string_parser(hostile, value: str) -> None:
    hostile.count("promql-builder")
    try:
        quoted = promql.quote(value)
    except ConfigError:
        assert any(0xD800 <= ord(c) <= 0xDFFF for c in value)  # lone surrogates only
        return
    assert unquote_promql(quoted) == value
    sel = promql.selector("up", promql.eq("service", value))
    assert sel == f"up{{service={quoted}}}" and "\n" not in sel


@settings(max_examples=1500)
@given(HOSTILE_UTF8, HOSTILE_UTF8)
def test_regex_literal_matches_exactly_its_text(hostile, value: str, other: str) -> None:
    hostile.count("promql-builder")
    pattern = promql.regex_literal(value)
    assert re.fullmatch(pattern, value, flags=re.S)
    assert bool(re.fullmatch(pattern, other, flags=re.S)) == (other == value)
    # and inside the =~ matcher the whole regex is still one string literal
    m = promql.any_of("service", [value, "other"])
    assert unquote_promql(m.split("=~", 1)[1]) == f"{pattern}|other"


def test_label_names_and_metric_names_are_validated() -> None:
    for bad in ["", "1a", "a-b", 'a"', "a b", "a}"]:
        with pytest.raises(ConfigError):
            promql.eq(bad, "x")
    with pytest.raises(ConfigError):
        promql.selector('up"}')
    with pytest.raises(ConfigError):
        promql.any_of("service", [])


@pytest.mark.service
def test_hostile_values_survive_the_real_server_lexer(prom_backend) -> None:
    flavor, server = prom_backend
    src = PrometheusSource(server.url, flavor=flavor, retries=0)
    ok = 0

    @settings(
        max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    @given(HOSTILE_UTF8.filter(lambda v: v != "" and "\x00" not in v), HOSTILE_UTF8)
    def check(value: str, other: str) -> None:
        nonlocal ok
        # label_replace's replacement is a template ("$1" = group 1): "$$" is a literal "$"
        lit = promql.quote(value.replace("$", "$$"))
        rx = promql.quote(promql.regex_literal(value))
        expr = f'label_replace(label_replace(vector(1), "x", {lit}, "", ""), "m", "yes", "x", {rx})'
        row = src.query(expr, "2026-10-01T00:00:00Z").frame
        assert row.height == 1
        labels = {d["key"]: d["value"] for d in row["labels"][0]}
        assert labels["x"] == value
        assert labels.get("m") == "yes"
        if other != value:
            neg = (
                f'label_replace(label_replace(vector(1), "x", '
                f'{promql.quote(other.replace("$", "$$"))}, "", ""),'
                f' "m", "yes", "x", {rx})'
            )
            labels2 = {d["key"]: d["value"] for d in src.query(neg, "2026-10-01T00:00:00Z")
                       .frame["labels"][0]}  # fmt: skip
            assert labels2.get("m", "") == ""  # VictoriaMetrics keeps empty labels
        ok += 1

    check()
    assert ok >= 100
