"""Transparent ``.gz`` and ``.zst`` reading for the file sources, with a size cap.

Rotated logs and exported traces usually arrive compressed (``app.jsonl.gz``,
``traces.otlp.json.zst``). Every file reader goes through :func:`read_bytes` (whole
file) or :func:`read_head` (the first bytes, for format detection), and names are
judged by :func:`inner_name` (``logs.jsonl.gz`` -> ``logs.jsonl``). Plain files pass
through untouched.

Decompression is streamed and stops at ``max_bytes`` decompressed bytes (default
:data:`MAX_DECOMPRESSED_BYTES`, 1 GiB, read at call time): a small archive that inflates without bound (a
"zip bomb") raises :class:`~workbench.errors.LimitExceeded` naming the file and the cap
instead of filling memory. A corrupt or truncated archive raises
:class:`~workbench.errors.BadData` naming the file.

zstd comes from the ``zstandard`` package (a core dependency); Python 3.14's
``compression.zstd`` is used when that package is missing.

Example::

    >>> from workbench.sources.files import compressed
    >>> compressed.inner_name(Path("app.jsonl.gz"))
    'app.jsonl'
    >>> text = compressed.read_bytes(Path("app.jsonl.gz"), source="logs").decode()
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Generator
from pathlib import Path
from typing import IO, Any

from workbench.errors import BadData, LimitExceeded
from workbench.limits import max_file_bytes, read_capped

__all__ = [
    "MAX_DECOMPRESSED_BYTES",
    "SUFFIXES",
    "codec_of",
    "inner_name",
    "read_bytes",
    "read_head",
]

#: Decompressed bytes one compressed file may inflate to.
MAX_DECOMPRESSED_BYTES = 1 << 30
#: File name endings that mean "compressed", and the codec of each.
SUFFIXES = {".gz": "gzip", ".gzip": "gzip", ".zst": "zstd", ".zstd": "zstd"}
_MAGIC = {b"\x1f\x8b": "gzip", b"\x28\xb5\x2f\xfd": "zstd"}
_CHUNK = 1 << 20


def codec_of(path: Path) -> str | None:
    """``"gzip"``, ``"zstd"`` or None (a plain file), from the name's last suffix."""
    return SUFFIXES.get(path.suffix.lower())


def inner_name(path: Path) -> str:
    """The lower-cased file name without its compression suffix."""
    name = path.name.lower()
    suffix = path.suffix.lower()
    return name[: -len(suffix)] if suffix in SUFFIXES else name


def _zstd_reader(fh: IO[bytes]) -> IO[bytes]:
    try:
        import zstandard
    except ImportError:  # pragma: no cover - Python 3.14 without the package
        try:
            from compression import zstd  # type: ignore[import-not-found]  # stdlib from 3.14
        except ImportError as exc:
            raise BadData(
                "reading .zst files needs the zstandard package",
                hint="pip install zstandard (or use Python 3.14+)",
            ) from exc
        return zstd.ZstdFile(fh)
    return zstandard.ZstdDecompressor().stream_reader(fh, read_across_frames=True)


def _chunks(
    path: Path, codec: str, source: str | None, size: int = _CHUNK
) -> Generator[bytes, None, None]:
    with path.open("rb") as raw:
        head = raw.read(4)
        raw.seek(0)
        found = next((c for m, c in _MAGIC.items() if head.startswith(m)), None)
        if found != codec:
            raise BadData(
                f"{path.name} is named as {codec} but is not {codec}-compressed",
                path=str(path),
                source=source,
                hint="rename the file to match its content, or re-compress it",
            )
        stream: Any = gzip.GzipFile(fileobj=raw) if codec == "gzip" else _zstd_reader(raw)
        try:
            while chunk := stream.read(size):
                yield chunk
        except Exception as exc:
            # zlib/gzip raise OSError, EOFError, zlib.error or ValueError; zstandard its
            # own ZstdError (not an OSError)
            corrupt = (OSError, EOFError, zlib.error, ValueError)
            if not isinstance(exc, corrupt) and type(exc).__name__ != "ZstdError":
                raise
            raise BadData(
                f"{path.name}: corrupt or truncated {codec} data ({exc})",
                path=str(path),
                source=source,
                hint="re-copy or re-compress the file; a partial download cuts it short",
            ) from exc
        finally:
            stream.close()


def read_bytes(path: Path, *, source: str | None = None, max_bytes: int | None = None) -> bytes:
    """The file's content, decompressed when its name ends in ``.gz``/``.zst``.

    Raises :class:`LimitExceeded` when the decompressed content passes ``max_bytes``,
    :class:`BadData` when the archive is corrupt, and lets ``OSError`` through for the
    caller's "cannot read" message.
    """
    codec = codec_of(path)
    if codec is None:  # a plain file: the general file-read cap (workbench.limits)
        return read_capped(path, source=source or "files", cap=max_bytes)
    if max_bytes is None:
        max_bytes = min(MAX_DECOMPRESSED_BYTES, max_file_bytes())
    out = bytearray()
    for chunk in _chunks(path, codec, source):
        out += chunk
        if len(out) > max_bytes:
            raise LimitExceeded(
                f"{path.name} decompresses to more than {max_bytes:,} bytes "
                f"(the cap on decompressed file size)",
                source=source or f"file:{path.name}",
                limit="decompressed file size",
                detail=str(path),
                hint="decompress and split the file, or raise "
                "workbench.sources.files.compressed.MAX_DECOMPRESSED_BYTES if it is trusted",
            )
    return bytes(out)


def read_head(path: Path, n: int) -> bytes:
    """The first ``n`` decompressed bytes (for format detection); b"" when unreadable."""
    codec = codec_of(path)
    try:
        if codec is None:
            with path.open("rb") as fh:
                return fh.read(n)
        out = bytearray()
        chunks = _chunks(path, codec, None, size=n)  # a cut archive still has a head
        try:
            for chunk in chunks:
                out += chunk
                if len(out) >= n:
                    break
        finally:
            chunks.close()
        return bytes(out[:n])
    except (OSError, BadData):
        return b""
