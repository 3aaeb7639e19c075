"""Bad-input bookkeeping and JSON reading for the file parsers.

Every parser reports bad input through a :class:`Problems` collector. With
``on_error="raise"`` (the default) the first problem raises :class:`BadData` naming the
file, the line (JSON lines) or JSON path (documents) and the field. With
``on_error="skip"`` the bad record is skipped and counted; the caller turns the count and
the first line numbers into ``Result.reasons`` with ``partial=True``. Nothing is dropped
silently.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

from workbench.errors import BadData
from workbench.sources.files import compressed

OnError = Literal["raise", "skip"]


class _Skip(Exception):
    """Raised inside a parser to abandon the current record (skip mode only)."""


@dataclass
class Problems:
    """Collects bad-input problems for one file (or one decoded body)."""

    path: str | None = None
    source: str | None = None
    on_error: OnError = "raise"
    skipped: list[BadData] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    incomplete: list[str] = field(default_factory=list)  # reasons the result is partial

    def bad(
        self,
        message: str,
        *,
        line: int | None = None,
        field: str | None = None,
        hint: str | None = None,
    ) -> _Skip:
        """Record a problem: raise :class:`BadData` now, or (skip mode) return a ``_Skip``
        for the caller to raise so the current record is abandoned."""
        err = BadData(
            message, path=self.path, line=line, field=field, source=self.source, hint=hint
        )
        if self.on_error == "raise":
            raise err
        self.skipped.append(err)
        return _Skip(message)

    def reasons(self) -> list[str]:
        """Human-readable reasons for ``Result.reasons`` (empty when nothing was skipped)."""
        if not self.skipped:
            return list(self.incomplete)
        lines = [e.line for e in self.skipped if e.line is not None][:5]
        where = f" (first lines {', '.join(map(str, lines))})" if lines else ""
        first = self.skipped[0]
        fld = f" [{first.field}]" if first.field else ""
        return [
            f"skipped {len(self.skipped)} bad record(s) in {self.path or self.source}{where}; "
            f"first: {first.message}{fld}",
            *self.incomplete,
        ]


def check_on_error(on_error: str) -> OnError:
    if on_error not in ("raise", "skip"):
        from workbench.errors import ConfigError

        raise ConfigError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
    return cast(OnError, on_error)


# ---------------------------------------------------------------------------------------
# reading JSON


def read_text(path: Path, problems: Problems) -> str:
    try:
        raw = compressed.read_bytes(path, source=problems.source)  # .gz/.zst: decompressed
    except OSError as exc:
        raise BadData(
            f"cannot read {path}: {exc.strerror or exc}", path=str(path), source=problems.source
        ) from exc
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise BadData(
            f"{path.name} is not UTF-8 text (byte {exc.start})",
            path=str(path),
            line=line,
            source=problems.source,
            hint="telemetry files must be UTF-8 JSON/CSV; re-export or convert the file",
        ) from exc


def loads_document(text: str, problems: Problems, *, what: str = "JSON") -> Any:
    """Decode one JSON document; a syntax error (e.g. a truncated file) raises BadData with
    the line and column, whatever ``on_error`` says (the whole document is unusable)."""
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadData(
            f"not valid {what}: {exc.msg} at line {exc.lineno} column {exc.colno}"
            + (" (the file looks truncated)" if exc.pos >= len(text.rstrip()) else ""),
            path=problems.path,
            line=exc.lineno,
            source=problems.source,
            hint="re-export the file; a partial download or a killed exporter cuts it short",
        ) from exc
    except RecursionError as exc:
        raise BadData(
            f"{what} nested too deeply to read", path=problems.path, source=problems.source
        ) from exc
    if lone_surrogate(text, obj):
        raise BadData(
            f"{what} holds a lone surrogate escape",
            path=problems.path,
            source=problems.source,
            hint=_SURROGATE_HINT,
        )
    return obj


def read_json_document(
    path: str | Path, *, source: str | None, on_error: str, what: str
) -> tuple[Any, Problems]:
    """Read one whole-file JSON document: the decoded body and the ``Problems`` ledger the
    parser records skipped records in. An empty, unreadable, non-UTF-8 or truncated file
    raises :class:`BadData` naming the file."""
    p = Path(path)
    problems = Problems(path=str(p), source=source, on_error=check_on_error(on_error))
    text = read_text(p, problems)
    if not text.strip():
        raise BadData(f"{p.name} is empty", path=str(p), source=source)
    return loads_document(text, problems, what=what), problems


def lone_surrogate(text: str, obj: Any) -> bool:
    """Whether decoded JSON ``obj`` holds a lone UTF-16 surrogate (a ``"\\ud800"`` escape
    without its pair): valid JSON, but not text polars or UTF-8 can store. Only checked
    when ``text`` has such an escape at all."""
    if "\\ud" not in text and "\\uD" not in text:
        return False
    try:
        json.dumps(obj, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


_SURROGATE_HINT = "a lone \\ud800-\\udfff escape is not text; fix the exporter or the file"


def iter_json_lines(text: str, problems: Problems) -> Iterator[tuple[int, Any]]:
    """Yield ``(line_number, object)`` for every non-blank line; bad lines go to
    ``problems`` (raise, or skip and count)."""
    for no, line in enumerate(text.splitlines(), start=1):
        s = line.strip()
        if not s:
            continue
        try:
            obj = json.loads(s)
        except (json.JSONDecodeError, RecursionError) as exc:
            msg = getattr(exc, "msg", "nested too deeply")
            col = getattr(exc, "colno", None)
            problems.bad(
                f"line {no} is not JSON: {msg}" + (f" at column {col}" if col else ""),
                line=no,
                hint="pass on_error='skip' to load the other lines and mark the result partial",
            )
            continue
        if lone_surrogate(s, obj):
            problems.bad(f"line {no} holds a lone surrogate escape", line=no, hint=_SURROGATE_HINT)
            continue
        yield no, obj
