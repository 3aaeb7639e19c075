"""``workbench COMMAND --help`` reads as plain text in a terminal."""

from __future__ import annotations

import argparse
import re

from workbench.cli import build_parser


def _parsers(p: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    out = [p]
    for a in p._actions:
        if isinstance(a, argparse._SubParsersAction):
            for sub in a.choices.values():
                out += _parsers(sub)
    return out


def test_every_commands_help_is_plain_text() -> None:
    """``workbench demo --help`` (and new, note, render) printed their docstrings'
    reStructuredText as it is: "``workbench demo``: the embedded demo incident." and a
    lone "::" before the examples (look18)."""
    parsers = _parsers(build_parser())
    assert len(parsers) > 10
    for p in parsers:
        text = p.format_help()
        assert "``" not in text, p.prog
        assert not re.search(r"(?m)::\s*$", text), p.prog
    demo = next(p for p in parsers if p.prog.endswith(" demo")).format_help()
    assert "workbench demo: the embedded demo incident." in demo


def test_every_argument_says_what_it_is() -> None:
    """``workbench bundle verify --help`` listed a bare "path" with no words, and
    ``lab generate --step`` / ``lab history --end`` / ``render --to`` hid their
    defaults (look18)."""
    parsers = {p.prog: p for p in _parsers(build_parser())}
    for p in parsers.values():
        for a in p._actions:
            if not a.option_strings and not isinstance(a, argparse._SubParsersAction):
                assert a.help, f"{p.prog} {a.dest}"
    for prog, flag, said in (
        ("workbench lab generate", "--step", "default 30"),
        ("workbench lab history", "--end", "default 2026-11-20T00:00:00Z"),
        ("workbench render", "--to", "default html"),
    ):
        action = next(a for a in parsers[prog]._actions if flag in a.option_strings)
        assert said in (action.help or ""), prog


def test_render_names_every_packaged_template() -> None:
    """look22: ``workbench render --help`` named the templates "postmortem, incident"
    while the README renders ``capacity`` the same way (``workbench render capacity
    --execute --to html``), and so did the error for an unknown name."""
    from pathlib import Path

    import pytest

    import workbench
    from workbench.commands.render import _resolve
    from workbench.errors import ConfigError

    folder = Path(workbench.__file__).parent / "templates"
    names = sorted(p.stem for p in folder.glob("*.ipynb"))
    assert "capacity" in names
    render = next(p for p in _parsers(build_parser()) if p.prog.endswith(" render"))
    text = " ".join(render.format_help().split())
    assert "template name: postmortem, incident, capacity" in text
    for name in names:
        assert name in text.split("template name:")[1]
        assert _resolve(name)[1]  # each one named resolves to its template
    with pytest.raises(ConfigError) as err:
        _resolve("no_such_template")
    assert "capacity" in str(err.value.hint)
