"""The annotation log: an append-only, hash-chained record of what people noted and decided.

Each entry stores the SHA-256 of the previous entry's hash plus its own canonical JSON, so
editing, removing or reordering any entry breaks the chain at that entry, and truncating
the end changes the head hash recorded in the bundle manifest. Publish the head hash (in
the incident ticket, say) and anyone can later prove the log was not rewritten.

Example::

    >>> log = AnnotationLog()
    >>> log.append("rolled back checkout v2.3", author="alice")
    >>> log.verify()          # [] when intact, else a list of problems
    []
    >>> log.head              # the hash to publish
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from workbench.errors import BadData
from workbench.timewindow import parse_time

__all__ = ["GENESIS", "Annotation", "AnnotationLog"]

GENESIS = "0" * 64
KINDS = ("note", "decision", "evidence", "action")


@dataclass(frozen=True)
class Annotation:
    """One entry: what was noted, when (``at``: the moment it is about), by whom, and
    optionally what it points at (``ref``: a suspect, a chart, a query)."""

    seq: int
    at: str
    recorded: str
    kind: str
    text: str
    author: str | None
    ref: str | None
    prev: str
    hash: str

    def body(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("hash")
        return d


def _digest(prev: str, body: dict[str, Any]) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256((prev + canonical).encode()).hexdigest()


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")


class AnnotationLog:
    """Append-only list of :class:`Annotation` entries, each chained to the previous one."""

    def __init__(self, entries: list[Annotation] | None = None) -> None:
        self._entries: list[Annotation] = list(entries or [])

    def append(
        self,
        text: str,
        *,
        at: str | datetime | None = None,
        kind: str = "note",
        author: str | None = None,
        ref: str | None = None,
        recorded: datetime | None = None,
    ) -> Annotation:
        """Add an entry and return it. ``at`` defaults to now."""
        if kind not in KINDS:
            raise BadData(f"annotation kind {kind!r} is not one of {KINDS}", field="kind")
        if not text or not text.strip():
            raise BadData("an annotation needs some text", field="text")
        now = recorded or datetime.now(UTC)
        body: dict[str, Any] = {
            "seq": len(self._entries),
            "at": _iso(parse_time(at) if at is not None else now),
            "recorded": _iso(now),
            "kind": kind,
            "text": text,
            "author": author,
            "ref": ref,
            "prev": self.head,
        }
        entry = Annotation(**body, hash=_digest(self.head, body))
        self._entries.append(entry)
        return entry

    @property
    def head(self) -> str:
        """Hash of the last entry (``GENESIS`` when empty): publish it to anchor the log."""
        return self._entries[-1].hash if self._entries else GENESIS

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[Annotation]:
        return iter(self._entries)

    def verify(
        self, *, expected_head: str | None = None, expected_count: int | None = None
    ) -> list[str]:
        """Check every entry's hash and link; return the problems found (empty if intact)."""
        problems: list[str] = []
        prev = GENESIS
        for i, e in enumerate(self._entries):
            where = f"annotation #{i + 1}"
            if e.seq != i:
                problems.append(
                    f"{where}: sequence number {e.seq}, expected {i} (reordered or removed)"
                )
            if e.prev != prev:
                problems.append(
                    f"{where}: does not follow the previous entry (removed or reordered)"
                )
            if _digest(e.prev, e.body()) != e.hash:
                problems.append(f"{where}: content changed after it was recorded ({e.text[:40]!r})")
            prev = e.hash
        if expected_count is not None and expected_count != len(self._entries):
            problems.append(
                f"annotation log has {len(self._entries)} entries, the manifest recorded "
                f"{expected_count}"
            )
        if expected_head is not None and expected_head != self.head:
            problems.append("annotation log head hash differs from the manifest's")
        return problems

    def to_frame(self) -> pl.DataFrame:
        """The entries as a frame (for a timeline or a postmortem)."""
        schema = {f: pl.String for f in ("at", "recorded", "kind", "text", "author", "ref", "hash")}
        rows = [{k: getattr(e, k) for k in schema} for e in self._entries]
        df = pl.DataFrame(rows, schema=schema)
        return df.with_columns(
            pl.col("at").str.to_datetime(time_zone="UTC", time_unit="us"),
            pl.col("recorded").str.to_datetime(time_zone="UTC", time_unit="us"),
        )

    # persistence -------------------------------------------------------------------------
    def write(self, path: Path) -> None:
        path.write_text(
            "".join(json.dumps(asdict(e), sort_keys=True) + "\n" for e in self._entries)
        )

    @classmethod
    def read(cls, path: Path) -> AnnotationLog:
        entries: list[Annotation] = []
        if not path.exists():
            return cls()
        for n, line in enumerate(path.read_text().splitlines(), start=1):
            if not line.strip():
                continue
            try:
                entries.append(Annotation(**json.loads(line)))
            except (json.JSONDecodeError, TypeError) as exc:
                raise BadData(
                    f"annotation log entry is not valid: {exc}", path=str(path), line=n
                ) from None
        return cls(entries)
