"""Chart SVGs drawn by vl-convert, in this process or in a process of their own.

vl-convert keeps the GIL while it draws: its engine runs inside the Python call. Drawn
in a thread of ``workbench demo``'s own process, the demo's RED panels (0.6 s, 1.2 s for
the first chart of a process: the engine starts then) kept nbclient's thread in that
process from reading the kernel's replies, and the next cell started only when the
drawing ended: the first run of the demo, which has no SVG in its cache, was 1.5 s
slower than the second. :class:`SvgProcess` draws in a child process instead
(``python -m workbench.chart_svg``): it imports vl-convert and starts its engine on a
tiny chart as soon as it is launched (beside the kernel's own start), then draws each
spec it is sent through the same code and the same cache as :func:`draw_svg`. The
parent only waits on a pipe, which releases the GIL.

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
import json
import logging
import os
import subprocess
import sys
import threading
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from workbench.errors import BadData

__all__ = ["SvgProcess", "SvgProcessGone", "draw_svg", "main"]

log = logging.getLogger(__name__)

#: the child's niceness: it draws on the time the kernel and the command leave over
#: (on two cores there is a core to spare for most of a notebook run), and never
#: slows the kernel's cells, which are what a user waits for
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


def draw_svg(spec: dict[str, Any], *, vega: bool = False) -> str:
    """The SVG of a Vega-Lite ``spec`` (``vega=True``: a Vega spec), drawn by vl-convert
    in this process through :func:`workbench.charts.render.static_spec` and the SVG cache
    (:func:`workbench.charts.render.cached_svg`). Raises :class:`BadData` naming the
    error when vl-convert cannot draw it.

    >>> draw_svg({"mark": "point", "data": {"values": [{"a": 1}]}})[:4]
    '<svg'
    """
    import vl_convert as vlc

    from workbench.charts.render import cached_svg, static_spec, vl_version

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


def main() -> None:
    """The child process: warm up, then serve requests on stdin until it ends."""
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # a stray print goes to stderr, never into the replies
    with contextlib.suppress(OSError):
        os.nice(CHILD_NICENESS)
    try:
        import vl_convert as vlc

        from workbench.charts.render import static_spec, vl_version

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
