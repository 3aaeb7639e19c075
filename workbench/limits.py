"""Bounds on what the workbench reads: decoded sizes, YAML aliases, parser depth.

Shared by every source and configuration reader so a hostile or broken input ends in a
typed error naming where it came from, with memory bounded:

* :func:`read_capped` reads a file, refusing one larger than the cap with
  :class:`~workbench.errors.LimitExceeded` (``WORKBENCH_MAX_FILE_BYTES``, default 2 GiB).
  :func:`check_size` is the same check for a reader that streams (``.gz``/``.zst``
  files count their *decoded* bytes with it).
* :data:`DEFAULT_MAX_RESPONSE_BYTES` caps one HTTP response after decoding
  (``WORKBENCH_MAX_RESPONSE_BYTES``, default 512 MiB; see ``sources/http.py``).
* :func:`load_yaml` parses YAML with aliases refused (an alias "bomb" of 600 bytes can
  expand to gigabytes); anchors without aliases are harmless and allowed.
* :func:`parse_guard` turns ``RecursionError``/``MemoryError`` of any parser into
  :class:`~workbench.errors.BadData` for that source.

Example::

    >>> from workbench.limits import read_capped, load_yaml
    >>> data = read_capped("chaos.yaml", source="files", cap=1 << 20)
    >>> docs = load_yaml(data.decode(), where="chaos.yaml", all_documents=True)
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from workbench.errors import BadData, ConfigError, LimitExceeded

__all__ = [
    "DEFAULT_MAX_FILE_BYTES",
    "DEFAULT_MAX_RESPONSE_BYTES",
    "check_size",
    "load_yaml",
    "max_file_bytes",
    "max_response_bytes",
    "parse_guard",
    "read_capped",
]

DEFAULT_MAX_RESPONSE_BYTES = 512 << 20
DEFAULT_MAX_FILE_BYTES = 2 << 30


def _env_bytes(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        value = int(float(raw))
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number of bytes") from None
    if value < 1:
        raise ConfigError(f"{name} must be at least 1 byte")
    return value


def max_response_bytes() -> int:
    """The decoded-size cap of one HTTP response (``WORKBENCH_MAX_RESPONSE_BYTES``)."""
    return _env_bytes("WORKBENCH_MAX_RESPONSE_BYTES", DEFAULT_MAX_RESPONSE_BYTES)


def max_file_bytes() -> int:
    """The size cap of one file read (``WORKBENCH_MAX_FILE_BYTES``)."""
    return _env_bytes("WORKBENCH_MAX_FILE_BYTES", DEFAULT_MAX_FILE_BYTES)


def _fmt(n: int) -> str:
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n / size:g} {unit}"
    return f"{n} bytes"


def check_size(
    size: int, *, source: str, path: str | Path, cap: int | None = None, decoded: bool = False
) -> None:
    """Raise :class:`LimitExceeded` if ``size`` bytes of ``path`` pass ``cap``
    (default :func:`max_file_bytes`). Streaming readers call it as bytes arrive."""
    cap = max_file_bytes() if cap is None else cap
    if size > cap:
        what = "decoded " if decoded else ""
        raise LimitExceeded(
            f"{source}: {path} holds more than {_fmt(cap)} of {what}data; stopped reading",
            source=source,
            limit=f"max_file_bytes={cap}",
            hint="split the file, narrow what it holds, or raise WORKBENCH_MAX_FILE_BYTES",
        )


def read_capped(path: str | Path, *, source: str, cap: int | None = None) -> bytes:
    """The bytes of ``path``; :class:`LimitExceeded` (naming ``source``, the path and the
    cap) if it is larger than ``cap``, without reading more than ``cap + 1`` bytes."""
    cap = max_file_bytes() if cap is None else cap
    p = Path(path)
    with p.open("rb") as fh:
        with contextlib.suppress(OSError):
            check_size(os.fstat(fh.fileno()).st_size, source=source, path=p, cap=cap)
        data = fh.read(cap + 1)
    check_size(len(data), source=source, path=p, cap=cap)
    return data


def _no_alias_loader() -> type:
    import yaml

    class NoAliasLoader(yaml.SafeLoader):
        """SafeLoader that refuses aliases (``*name``): no expansion bombs."""

        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.AliasEvent):
                event = self.peek_event()
                raise yaml.composer.ComposerError(
                    None,
                    None,
                    f"YAML aliases (*{event.anchor}) are not accepted",
                    event.start_mark,
                )
            return super().compose_node(parent, index)

    return NoAliasLoader


_LOADER: type | None = None


def load_yaml(
    text: str,
    *,
    where: str,
    all_documents: bool = False,
    error: type[BadData] | type[ConfigError] = BadData,
    source: str | None = None,
) -> Any:
    """Parse ``text`` as YAML (safe types only, aliases refused); a YAML error, an alias
    or a parser running out of stack becomes ``error`` (``BadData`` or ``ConfigError``)
    naming ``where`` and the line.

    >>> load_yaml("a: 1", where="x.yaml")
    {'a': 1}
    """
    import yaml

    global _LOADER
    if _LOADER is None:
        _LOADER = _no_alias_loader()

    def fail(msg: str, line: int | None, hint: str) -> Exception:
        if error is BadData:
            return BadData(f"{where}: {msg}", path=where, line=line, source=source, hint=hint)
        at = f" (line {line})" if line else ""
        return ConfigError(f"{where}: {msg}{at}", hint=hint)

    try:
        if all_documents:
            return list(yaml.load_all(text, Loader=_LOADER))
        return yaml.load(text, Loader=_LOADER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = str(getattr(exc, "problem", None) or exc)
        hint = (
            "write the repeated value out instead of an alias"
            if "alias" in problem
            else "fix the YAML syntax at that line"
        )
        raise fail(f"not valid YAML: {problem}", line, hint) from None
    except (RecursionError, MemoryError) as exc:
        raise fail(
            f"YAML too deeply nested or too large to parse ({type(exc).__name__})",
            None,
            "flatten or split the file",
        ) from None


@contextlib.contextmanager
def parse_guard(
    source: str, *, what: str = "the answer", path: str | None = None
) -> Iterator[None]:
    """Turn a parser's ``RecursionError`` or ``MemoryError`` into :class:`BadData` naming
    ``source``: nested too deep, or too large to decode.

    >>> with parse_guard("prom", what="the query_range answer"):
    ...     body = json.loads(data)
    """
    try:
        yield
    except RecursionError:
        raise BadData(
            f"{source}: {what} is nested too deeply to parse",
            source=source,
            path=path,
            hint="the server or file sent a pathological structure; check what it holds",
        ) from None
    except MemoryError:
        raise BadData(
            f"{source}: {what} is too large to parse in memory",
            source=source,
            path=path,
            hint="narrow the query or the window, or split the file",
        ) from None
