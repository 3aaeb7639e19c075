"""Small parsers for the query languages the sources build (LogQL selectors, Go string
literals, QuoteMeta'd alternations), used by property tests to check that hostile values
cannot change a built query's meaning."""

from __future__ import annotations

import re

_META = set("\\.+*?()|[]{}^$")


def go_unquote(s: str, i: int) -> tuple[str, int]:
    """Parse a Go double-quoted literal at s[i]; return (value, index after it)."""
    assert s[i] == '"'
    out, i = [], i + 1
    simple = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "a": "\a", "b": "\b",
              "f": "\f", "v": "\v"}  # fmt: skip
    while True:
        c = s[i]
        assert c != "\n", "raw newline inside a string literal"
        if c == '"':
            return "".join(out), i + 1
        if c == "\\":
            e = s[i + 1]
            if e in simple:
                out.append(simple[e])
                i += 2
            elif e == "x":
                out.append(chr(int(s[i + 2 : i + 4], 16)))
                i += 4
            elif e == "u":
                out.append(chr(int(s[i + 2 : i + 6], 16)))
                i += 6
            else:
                raise AssertionError(f"bad escape \\{e}")
        else:
            out.append(c)
            i += 1


def parse_selector(q: str) -> tuple[list[tuple[str, str, str]], str]:
    """A small LogQL stream-selector parser: ([(label, op, value)], rest of the query)."""
    assert q[0] == "{"
    i, matchers = 1, []
    while True:
        m = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*").match(q, i)
        assert m, f"no matcher at {q[i:]!r}"
        value, i = go_unquote(q, m.end())
        matchers.append((m.group(1), m.group(2), value))
        m2 = re.compile(r"\s*([,}])").match(q, i)
        assert m2
        i = m2.end()
        if m2.group(1) == "}":
            return matchers, q[i:]


def split_alternatives(regex: str) -> list[str]:
    """Undo QuoteMeta + '|'.join: fails if any metacharacter is unescaped."""
    parts, cur, i = [], [], 0
    while i < len(regex):
        c = regex[i]
        if c == "\\":
            assert regex[i + 1] in _META
            cur.append(regex[i + 1])
            i += 2
        elif c == "|":
            parts.append("".join(cur))
            cur, i = [], i + 1
        else:
            assert c not in _META, f"unescaped {c!r} in {regex!r}"
            cur.append(c)
            i += 1
    return [*parts, "".join(cur)]
