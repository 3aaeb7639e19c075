"""Background work with a progress bar and a Cancel button.

A load that takes more than a moment runs in a thread; the bar appears only if it is
still running after ``show_after`` seconds (short loads do not flash), advances one step
at a time, and Cancel stops it at the next step boundary (a running step is let finish,
its result thrown away). The kernel stays free for clicks meanwhile.

Example::

    >>> task = BackgroundTask(steps=["metrics", "logs"])
    >>> task.start(lambda step: [step(name) for name in ("metrics", "logs")],
    ...            on_done=print)
    >>> task                       # the bar, the label and the Cancel button
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import ipywidgets as w

__all__ = ["BackgroundTask", "Cancelled"]


class Cancelled(Exception):
    """Raised inside the work function at a step boundary after Cancel was pressed."""


class BackgroundTask(w.HBox):
    """A progress bar, a label and a Cancel button around one piece of work.

    ``status`` is ``"idle"``, ``"running"``, ``"done"``, ``"cancelled"`` or ``"failed"``;
    ``error`` holds the exception of a failed run.
    """

    def __init__(self, steps: Sequence[str], *, show_after: float = 1.0) -> None:
        self.steps = list(steps)
        self.show_after = show_after
        self.bar = w.FloatProgress(
            value=0.0,
            min=0.0,
            max=1.0,
            description="Loading",
            bar_style="info",
            description_allow_html=False,
        )
        self.label = w.Label(value="")
        self.cancel_button = w.Button(
            description="Cancel",
            icon="stop",
            tooltip="Stop loading (the step under way finishes, then nothing more is done)",
        )
        self.cancel_button.on_click(lambda _b: self.cancel())
        super().__init__([self.bar, self.label, self.cancel_button])
        self.layout.display = "none"
        self.status = "idle"
        self.error: BaseException | None = None
        self._cancel = threading.Event()
        self._thread: threading.Thread | None = None
        self._started = 0.0

    # control ------------------------------------------------------------------------
    def start(
        self,
        work: Callable[[Callable[[str], None]], Any],
        *,
        on_done: Callable[[Any], None] | None = None,
        on_cancel: Callable[[], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
        background: bool = True,
    ) -> None:
        """Run ``work(step)``; ``work`` calls ``step(name)`` before each step (which raises
        :class:`Cancelled` once Cancel was pressed). ``on_done(result)`` runs after."""
        self._cancel.clear()
        self.error = None
        self.status = "running"
        self._started = time.monotonic()
        self.bar.value = 0.0
        self.bar.bar_style = "info"
        self.cancel_button.disabled = False
        self._mark("running")

        def run() -> None:
            try:
                result = work(self._step)
                self._check()
            except Cancelled:
                self.status = "cancelled"
                self._finish("cancelled", "warning")
                self._mark("cancelled")
                if on_cancel:
                    on_cancel()
                return
            except Exception as err:  # shown in the panel, kept in .error
                self.status = "failed"
                self.error = err
                self._finish(f"failed: {err}", "danger", keep=True)
                self._mark("failed")
                if on_error:
                    on_error(err)
                return
            self.status = "done"
            self._finish("done", "success")
            self._mark("done")
            if on_done:
                on_done(result)

        if background:
            self._thread = threading.Thread(target=run, name="workbench-explorer", daemon=True)
            self._thread.start()
            timer = threading.Timer(self.show_after, self._maybe_show)
            timer.daemon = True
            timer.start()
        else:
            run()

    def cancel(self) -> None:
        """Stop at the next step boundary; the UI reflects it at once."""
        if self.status != "running":
            return
        self._cancel.set()
        self.label.value = "cancelling…"
        self.cancel_button.disabled = True

    def wait(self, timeout: float | None = None) -> str:
        """Block until the work ends (tests, scripts); returns ``status``."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self.status

    @property
    def running(self) -> bool:
        return self.status == "running"

    # internals ----------------------------------------------------------------------
    def _check(self) -> None:
        if self._cancel.is_set():
            raise Cancelled()

    def _step(self, name: str) -> None:
        self._check()
        i = self.steps.index(name) if name in self.steps else 0
        self.bar.value = i / max(len(self.steps), 1)
        self.label.value = f"{name}… ({i + 1}/{len(self.steps)})"
        if time.monotonic() - self._started >= self.show_after:
            self.layout.display = "flex"

    def _mark(self, status: str) -> None:
        """CSS class ``wb-task-<status>`` on the widget (browser tests and benches wait
        for ``.wb-task-done``)."""
        for s in ("running", "done", "cancelled", "failed"):
            self.remove_class(f"wb-task-{s}")
        self.add_class(f"wb-task-{status}")

    def _maybe_show(self) -> None:
        if self.status == "running":
            self.layout.display = "flex"

    def _finish(self, text: str, style: str, *, keep: bool = False) -> None:
        self.bar.value = 1.0 if style == "success" else self.bar.value
        self.bar.bar_style = style
        self.label.value = text
        self.cancel_button.disabled = True
        if not keep and style == "success":
            self.layout.display = "none"
        elif style != "success":
            self.layout.display = "flex"
