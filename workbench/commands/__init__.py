"""Sub-commands of the ``workbench`` command; each module has ``register(subparsers)``."""

from __future__ import annotations

import re

__all__ = ["help_text"]


def help_text(doc: str | None) -> str:
    """A command module's docstring as ``--help`` prints it: reStructuredText's
    ``double backquotes`` and ``::`` literal-block markers (which the terminal showed
    as they are) turned into plain text.

    >>> help_text("``workbench note TEXT``: a note.\\n\\n::\\n\\n    workbench note x\\n")
    'workbench note TEXT: a note.\\n\\n    workbench note x\\n'
    >>> help_text("Creates it, ready to open::")
    'Creates it, ready to open:'
    """
    text = re.sub(r"``(.+?)``", r"\1", doc or "")
    text = re.sub(r"(?m)^[ \t]*::[ \t]*\n(?:[ \t]*\n)?", "", text)  # a "::" line of its own
    return re.sub(r"(?m)(\S)::[ \t]*$", r"\1:", text)  # "... like this::" -> "like this:"
