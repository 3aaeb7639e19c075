"""Chart SVGs drawn by vl-convert, in this process or in a process of their own.

vl-convert keeps the GIL while it draws: its engine runs inside the Python call. Drawn
in a thread of ``workbench demo``'s own process, the demo's RED panels (0.6 s, 1.2 s for
the first chart of a process: the engine starts then) kept nbclient's thread in that
process from reading the kernel's replies, and the next cell started only when the
drawing ended: the first run of the demo, which has no SVG in its cache, was 1.5 s
slower than the second. :class:`SvgProcess` draws in a child process instead
(``python -m workbench.chart_svg``, which imports neither altair nor polars): it starts
vl-convert's engine on a tiny chart as soon as it is launched (beside the kernel's own
start) when the SVG cache will not serve (off, or empty: a first run), then draws each
spec it is sent through the same code and the same cache as :func:`draw_svg`. The
parent only waits on a pipe, which releases the GIL.

The static form of a spec (:func:`static_spec`), the SVG cache (:func:`cached_svg`)
and the Vega-Lite version (:func:`vl_version`) live here, without altair, for that
process; :mod:`workbench.charts.render` re-exports them.

Protocol, one request at a time: ``KIND<TAB>SPEC\\n`` in (``KIND`` ``vl`` or ``vega``,
``SPEC`` the spec as one line of JSON); ``ok N\\n`` then N bytes of UTF-8 SVG, or
``error N\\n`` then N bytes of message, out.

Example::

    >>> svg = draw_svg(chart.to_dict())             # here, as an export does
    >>> with SvgProcess() as p:                       # elsewhere, the GIL stays free
    ...     svg = p.draw(json.dumps(chart.to_dict()))
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.metadata
import json
import logging
import os
import re
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from workbench.errors import BadData

__all__ = [
    "FONT",
    "INTERACTIVE_NOTE",
    "STATIC_PADDING",
    "SvgProcess",
    "SvgProcessGone",
    "cache_dir",
    "cached_svg",
    "draw_svg",
    "lib_versions",
    "main",
    "static_spec",
    "vl_version",
]

log = logging.getLogger(__name__)

#: the child's niceness: it draws on the time the kernel and the command leave over
#: (on two cores there is a core to spare for most of a notebook run) rather than slow
#: the kernel's cells. Measured on the demo's first run (2 alternations, load 12-14):
#: 5 ended 0.2-1.0 s sooner than 0 (the cells ran 1.2 s longer beside a niceness-0 child)
CHILD_NICENESS = 5

# a chart with an axis of each kind and a text mark: starts vl-convert's engine and
# loads the fonts, so the first real chart does not pay for it (0.5 CPU-s)
_TINY = {
    "data": {"values": [{"t": "2026-01-01T00:00:00Z", "v": 1, "s": "a"}]},
    "mark": {"type": "text"},
    "encoding": {
        "x": {"field": "t", "type": "temporal"},
        "y": {"field": "s", "type": "nominal"},
        "text": {"field": "v", "type": "quantitative"},
    },
}


#: The fonts charts are drawn in. A static SVG is laid out by vl-convert, which measures
#: each label with the first of these it finds, and shown by a browser that draws it with
#: the first of these *it* finds: DejaVu Sans on Linux (the browser's default sans-serif
#: here is also DejaVu Sans), Verdana elsewhere (the same design, the same widths), then
#: whatever is left. Leaving it at plain "sans-serif" let vl-convert measure a narrow
#: font and the browser draw a wide one, so labels ran past the SVG's edge and were cut.
FONT = "DejaVu Sans, Verdana, Bitstream Vera Sans, sans-serif"
#: ``usermeta`` key naming the subtitle line that only holds where the chart is live
#: ("hover for evidence"): static exports drop it (:func:`static_spec`)
INTERACTIVE_NOTE = "workbench_interactive_note"

#: room around a static chart (px), beyond what vl-convert measured: a browser's font
#: may still be a little wider than the one measured
STATIC_PADDING = 10


def static_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """A copy of a Vega-Lite ``spec`` fit for a static image: drawn in
    :data:`FONT` unless it names a font, padded by
    :data:`STATIC_PADDING`, and without the subtitle line that only holds for a live
    chart (:func:`~workbench.charts._style.interactive_subtitle`).

    >>> static_spec(chart.to_dict())["config"]["font"]
    'DejaVu Sans, Verdana, Bitstream Vera Sans, sans-serif'
    """
    out = dict(spec)
    config = dict(out.get("config") or {})
    config.setdefault("font", FONT)
    out["config"] = config
    if not isinstance(out.get("padding"), int | float | dict):
        out["padding"] = STATIC_PADDING
    note = (out.get("usermeta") or {}).get(INTERACTIVE_NOTE)
    title = out.get("title")
    if note and isinstance(title, dict) and title.get("subtitle") is not None:
        sub = title["subtitle"]
        lines = [sub] if isinstance(sub, str) else list(sub)
        kept = [line for line in lines if line != note]
        title = {**title, "subtitle": kept}
        if not kept:
            del title["subtitle"]
        out["title"] = title
    return out


def lib_versions() -> tuple[str, str]:
    """The installed altair and vl-convert versions (keys of the caches; read from the
    packages' metadata, nothing imported).

    >>> lib_versions()
    ('6.3.0', '1.9.0.post1')
    """
    return importlib.metadata.version("altair"), importlib.metadata.version("vl-convert-python")


def cached_svg(spec: dict[str, Any], render: Callable[[], str], *, kind: str = "vl") -> str:
    """``render()``'s SVG for ``spec``, kept in ``cache_dir()/svg`` under a digest of the
    spec, ``kind`` and the altair + vl-convert versions: the SVG is a pure function of
    those, so an unchanged chart (the demo's, a re-run notebook's) is not drawn again.
    Set ``WORKBENCH_SVG_CACHE=0`` to always render.

    >>> cached_svg({"mark": "point"}, lambda: "<svg/>")
    '<svg/>'
    """
    if os.environ.get("WORKBENCH_SVG_CACHE", "1") == "0":
        return render()

    key = json.dumps(
        [kind, *lib_versions(), vl_version(), spec],
        sort_keys=True,
        default=str,
    )
    path = cache_dir() / "svg" / f"{hashlib.sha256(key.encode()).hexdigest()}.svg"
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        pass
    svg = render()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(svg, encoding="utf-8")
        tmp.replace(path)  # atomic: a concurrent run reads the whole file or none
    except OSError as exc:  # a read-only home: render again next time
        log.debug("cannot cache an SVG in %s: %s", path, exc)
    return svg


def cache_dir() -> Path:
    """Where rendering caches live: ``$WORKBENCH_CACHE_DIR``, else
    ``$XDG_CACHE_HOME/workbench``, else ``~/.cache/workbench``.

    >>> cache_dir().name
    'workbench'
    """
    if os.environ.get("WORKBENCH_CACHE_DIR"):
        return Path(os.environ["WORKBENCH_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "workbench"


@functools.cache
def vl_version() -> str:
    """The Vega-Lite version vl-convert should use for altair's specs (``"6.4"``).

    >>> vl_version()
    '6.4'
    """
    import vl_convert as vlc

    have = vlc.get_vegalite_versions()
    want = ".".join(_altair_schema_version().lstrip("v").split(".")[:2])
    if want in have:
        return want
    major = want.split(".")[0]
    same_major = [v for v in have if v.split(".")[0] == major]
    return (same_major or have)[-1]


def _altair_schema_version() -> str:
    """altair's ``SCHEMA_VERSION`` (``"v6.4.1"``), without importing altair (half a
    second, half of an SVG process's start): read from altair's installed source
    (:func:`_schema_version_in_source`). Only when that cannot be read is altair imported,
    and its answer kept in :func:`cache_dir` under altair's version for the next process."""
    loaded = sys.modules.get("altair")
    if loaded is not None:
        return str(loaded.SCHEMA_VERSION)
    found = _schema_version_in_source()
    if found is not None:
        return found
    path = cache_dir() / f"altair-{lib_versions()[0]}-schema-version.txt"
    try:
        known = path.read_text(encoding="utf-8").strip()
        if _SCHEMA_VERSION.fullmatch(known):
            return known
    except OSError:
        pass
    import altair

    version = str(altair.SCHEMA_VERSION)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(version, encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:  # a read-only home: import altair again next time
        log.debug("cannot keep altair's schema version in %s: %s", path, exc)
    return version


_SCHEMA_VERSION = re.compile(r"v\d+(\.\d+)*")
#: ``altair/vegalite/__init__.py`` exports one Vega-Lite API: ``from .v6 import *``
_VEGALITE_API = re.compile(r"^from \.(v\d+) import \*\s*$", re.MULTILINE)
#: ``altair/vegalite/v6/schema/__init__.py`` (generated by altair) states its version
_SCHEMA_VERSION_LINE = re.compile(
    r"""^SCHEMA_VERSION\s*=\s*["'](v\d+(?:\.\d+)*)["']\s*$""", re.MULTILINE
)


def _schema_version_in_source(root: Path | None = None) -> str | None:
    """The ``SCHEMA_VERSION`` that altair's source (the package at ``root``, default the
    installed one, found without importing it) states: ``vegalite/__init__.py`` names the
    API altair exports (``from .v6 import *``), whose ``schema/__init__.py`` assigns the
    version. None when the source does not read that way (another layout: the caller
    imports altair instead).

    >>> _schema_version_in_source()
    'v6.4.1'
    """
    if root is None:
        import importlib.util

        try:
            spec = importlib.util.find_spec("altair")  # a top-level name: nothing imported
        except (ImportError, ValueError):
            return None
        if spec is None or not spec.submodule_search_locations:
            return None
        root = Path(next(iter(spec.submodule_search_locations)))
    try:
        exported = _VEGALITE_API.findall((root / "vegalite" / "__init__.py").read_text("utf-8"))
        if len(exported) != 1:
            return None
        schema = root / "vegalite" / exported[0] / "schema" / "__init__.py"
        stated = _SCHEMA_VERSION_LINE.findall(schema.read_text("utf-8"))
    except (OSError, UnicodeDecodeError):
        return None
    return stated[0] if len(stated) == 1 else None


def draw_svg(spec: dict[str, Any], *, vega: bool = False) -> str:
    """The SVG of a Vega-Lite ``spec`` (``vega=True``: a Vega spec), drawn by vl-convert
    in this process through :func:`static_spec` and the SVG cache (:func:`cached_svg`). Raises :class:`BadData` naming the
    error when vl-convert cannot draw it.

    >>> draw_svg({"mark": "point", "data": {"values": [{"a": 1}]}})[:4]
    '<svg'
    """
    import vl_convert as vlc

    try:
        if vega:
            return cached_svg(spec, lambda: vlc.vega_to_svg(spec), kind="vega")
        static = static_spec(spec)
        return cached_svg(static, lambda: vlc.vegalite_to_svg(static, vl_version=vl_version()))
    except Exception as exc:  # vl-convert raises plain ValueError/RuntimeError
        raise BadData(f"cannot render a chart output to SVG: {exc}") from exc


class SvgProcessGone(RuntimeError):
    """The drawing process exited or could not be started (its stderr says why): draw in
    this process instead."""


class SvgProcess:
    """A child process that draws chart SVGs (:func:`draw_svg`) for this one, one at a
    time, in the order asked; thread-safe. Launched by :meth:`start` (or the first
    :meth:`draw`); it warms its engine up at once.

    >>> p = SvgProcess(); p.start()                  # early: it warms up meanwhile
    >>> p.draw(json.dumps(spec))                     # waits, GIL released
    '<svg ...'
    >>> p.close()
    """

    def __init__(self) -> None:
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self._gone = False
        #: how many SVGs the child process drew (or found cached) for this one
        self.drawn = 0

    def __enter__(self) -> SvgProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def pid(self) -> int | None:
        """The child's process id, once launched (None before, and after :meth:`close`)."""
        proc = self._proc
        return proc.pid if proc is not None else None

    def start(self) -> None:
        """Launch the child process, if not done yet (returns at once)."""
        with self._lock:
            self._launch()

    def _launch(self) -> subprocess.Popen[bytes]:
        if self._gone:
            raise SvgProcessGone("the SVG process exited earlier")
        if self._proc is None:
            import workbench

            # the child imports this very package, wherever it was imported from
            root = str(Path(workbench.__file__).resolve().parent.parent)
            path = os.environ.get("PYTHONPATH")
            env = {**os.environ, "PYTHONPATH": root + (os.pathsep + path if path else "")}
            try:
                self._proc = subprocess.Popen(
                    [sys.executable, "-m", "workbench.chart_svg"],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    env=env,
                )
            except OSError as exc:
                self._gone = True
                raise SvgProcessGone(f"cannot start the SVG process: {exc}") from exc
        return self._proc

    def draw(self, spec_json: str, *, vega: bool = False) -> str:
        """The SVG of the spec ``spec_json`` (one line of JSON, as ``json.dumps`` writes
        it), drawn by the child. Raises :class:`BadData` if vl-convert cannot draw it,
        :class:`SvgProcessGone` if the child is gone (then draw with :func:`draw_svg`)."""
        if "\n" in spec_json:
            raise ValueError("spec_json must be one line of JSON (json.dumps without indent)")
        with self._lock:
            proc = self._launch()
            assert proc.stdin is not None and proc.stdout is not None
            try:
                proc.stdin.write(f"{'vega' if vega else 'vl'}\t{spec_json}\n".encode())
                proc.stdin.flush()
                status, _, size = proc.stdout.readline().decode("ascii").partition(" ")
                body = proc.stdout.read(int(size)).decode("utf-8") if size.strip() else ""
            except (OSError, ValueError) as exc:
                status, body = "", str(exc)
            if status not in ("ok", "error"):
                self._gone = True
                raise SvgProcessGone(f"the SVG process exited ({proc.poll()}) {body}".strip())
            if status == "error":
                raise BadData(body)
            self.drawn += 1
            return body

    def close(self, timeout_s: float = 2.0) -> None:
        """Ask the child to exit (its input ends) and reap it (so that its CPU time is
        counted as this process's children's); killed if it has not exited after
        ``timeout_s``. The child exits at once, without tearing its engine down."""
        with self._lock:
            proc, self._proc, self._gone = self._proc, None, True
        if proc is None:
            return
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _serve(requests: IO[bytes], replies: IO[bytes]) -> None:
    """The child's loop: draw each request until the input ends."""
    for line in requests:
        kind, _, text = line.decode("utf-8").rstrip("\n").partition("\t")
        try:
            body, status = draw_svg(json.loads(text), vega=kind == "vega"), "ok"
        except Exception as exc:  # every failure goes back to the parent, named
            body, status = str(exc) or type(exc).__name__, "error"
        data = body.encode("utf-8")
        replies.write(f"{status} {len(data)}\n".encode("ascii") + data)
        replies.flush()


def _will_draw() -> bool:
    """Whether this run is likely to draw (not only read cached SVGs): the SVG cache is
    off, or empty (a new user's first run)."""
    if os.environ.get("WORKBENCH_SVG_CACHE", "1") == "0":
        return True
    try:
        with os.scandir(cache_dir() / "svg") as entries:
            return next(entries, None) is None
    except OSError:
        return True


def main() -> None:
    """The child process: warm up (when it is likely to draw), then serve requests on
    stdin until it ends."""
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # a stray print goes to stderr, never into the replies
    nice = getattr(os, "nice", None)  # not on Windows
    if nice is not None:
        with contextlib.suppress(OSError):
            nice(CHILD_NICENESS)
    if _will_draw():  # else the engine starts with the first chart not in the cache
        try:
            import vl_convert as vlc

            vlc.vegalite_to_svg(static_spec(_TINY), vl_version=vl_version())
        except Exception as exc:  # a real request reports it
            log.debug("SVG process warm-up failed: %s", exc)
    with contextlib.suppress(BrokenPipeError):  # the parent is gone
        _serve(sys.stdin.buffer, replies)
    # nothing left to write (each SVG cached is renamed into place whole): skip the
    # interpreter's and the engine's teardown, a few tenths of a second
    os._exit(0)


if __name__ == "__main__":
    main()
