"""The incident notebook template: where it lives, its parameters, running it headless.

The template ships inside the package (``workbench/templates/incident.ipynb``); the
repository's ``notebooks/incident.ipynb`` holds the same cells (a test keeps the two in
step). Its ``parameters`` cell (papermill tag) has four values and never a secret::

    incident_id = ""        # "": the id of the incident the sources describe
    window = ""             # "START..END" in UTC; "": the demo incident's own window
    services = []           # narrow to these services; []: all
    sources_config = ""     # path to a workbench.toml; "": the embedded demo incident

Example::

    >>> from workbench import notebook
    >>> nb = notebook.new_incident_notebook("INC-123", window=w, services=["checkout"],
    ...                                     out_dir=".")          # INC-123.ipynb
    >>> notebook.execute(notebook.template_path(), "out/incident.ipynb")
    >>> inc = notebook.open_incident("", window="", services=[], sources_config="")
"""

from __future__ import annotations

import ast
import functools
import json
import logging
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.errors import ConfigError, WorkbenchError
from workbench.timewindow import Window

if TYPE_CHECKING:  # imported where used: `workbench demo` starts its kernel without polars
    from workbench.incident import Incident

__all__ = [
    "PARAMETERS",
    "STATIC_RUN_ENV",
    "NotebookError",
    "baseline_window",
    "execute",
    "fill_parameters",
    "import_lines",
    "kernel_name",
    "new_incident_notebook",
    "open_incident",
    "read_parameters",
    "static_run",
    "template_path",
    "untitled",
]

log = logging.getLogger(__name__)

#: The template's parameters, in order, with their defaults.
PARAMETERS: dict[str, Any] = {
    "incident_id": "",
    "window": "",
    "baseline": "",
    "services": [],
    "sources_config": "",
}

_COMMENTS = {
    "incident_id": '"": the id of the incident the sources describe',
    "window": '"START..END" in UTC; "": the demo incident\'s own window',
    "baseline": '"START..END" or a length before the window ("8h"); "": as long as the window',
    "services": "narrow to these services; []: all",
    "sources_config": 'path to a workbench.toml; "": the embedded demo incident',
}


class NotebookError(WorkbenchError):
    """A notebook failed to execute: names the cell and the error it raised."""


# the template -----------------------------------------------------------------------------
def template_path(name: str = "incident") -> Path:
    """Path of a notebook template shipped with the package (``incident``)."""
    p = Path(str(resources.files("workbench") / "templates" / f"{name}.ipynb"))
    if not p.exists():
        raise ConfigError(f"no notebook template {name!r} at {p}")
    return p


def _read(path: str | Path) -> dict[str, Any]:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"cannot read notebook {path}: {exc}") from exc


def _parameters_cell(nb: Mapping[str, Any]) -> dict[str, Any]:
    for cell in nb["cells"]:
        if cell["cell_type"] == "code" and "parameters" in cell.get("metadata", {}).get("tags", []):
            return cell
    raise ConfigError("the notebook has no cell tagged 'parameters'")


def _source(cell: Mapping[str, Any]) -> str:
    src = cell["source"]
    return src if isinstance(src, str) else "".join(src)


def read_parameters(nb: Mapping[str, Any] | str | Path) -> dict[str, Any]:
    """The values assigned in a notebook's ``parameters`` cell (literals only)."""
    book = _read(nb) if isinstance(nb, str | Path) else nb
    tree = ast.parse(_source(_parameters_cell(book)))
    out: dict[str, Any] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        else:
            continue
        if isinstance(target, ast.Name):
            out[target.id] = ast.literal_eval(value)
    return out


def _parameters_source(values: Mapping[str, Any]) -> str:
    lines = ["# Parameters: papermill fills these; `workbench new` writes them. Never secrets:"]
    lines.append('# credentials stay in workbench.toml as {env = "NAME"} references.')
    for key, default in PARAMETERS.items():
        v = values.get(key, default)
        ann = ": list[str]" if key == "services" else ""
        lit = json.dumps(v, ensure_ascii=False)  # str / list[str]: valid Python too
        lines.append(f"{key}{ann} = {lit}  # {_COMMENTS[key]}")
    return "\n".join(lines)


def fill_parameters(nb: dict[str, Any], **values: Any) -> dict[str, Any]:
    """Rewrite the ``parameters`` cell of ``nb`` (a notebook dict) in place with ``values``.

    Unlike papermill's injected cell this keeps one readable cell the user can edit.
    """
    unknown = set(values) - set(PARAMETERS)
    if unknown:
        raise ConfigError(
            f"unknown notebook parameter(s) {sorted(unknown)}; have {list(PARAMETERS)}"
        )
    cell = _parameters_cell(nb)
    current = {**PARAMETERS, **read_parameters(nb), **values}
    if not isinstance(current["services"], list) or not all(
        isinstance(s, str) for s in current["services"]
    ):
        raise ConfigError("services must be a list of service names")
    cell["source"] = _parameters_source(current)
    cell["outputs"] = []
    cell["execution_count"] = None
    return nb


def new_incident_notebook(
    incident_id: str,
    *,
    window: Window | str = "",
    baseline: str = "",
    services: Sequence[str] = (),
    sources_config: str | Path = "",
    out_dir: str | Path = ".",
    overwrite: bool = False,
) -> Path:
    """Create ``OUT_DIR/<incident_id>.ipynb`` from the template, parameters filled, ready
    to open in JupyterLab (not executed).

    >>> new_incident_notebook("INC-123", window=Window.last("45m"), services=["checkout"])
    PosixPath('INC-123.ipynb')
    """
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in incident_id).strip(".")
    if not safe:
        raise ConfigError(f"cannot name a notebook after incident id {incident_id!r}")
    out = Path(out_dir) / f"{safe}.ipynb"
    if out.exists() and not overwrite:
        raise ConfigError(f"{out} already exists", hint="pick another id, or --force")
    nb = _read(template_path())
    fill_parameters(
        nb,
        incident_id=incident_id,
        window=str(window),
        baseline=baseline,
        services=list(services),
        sources_config=str(sources_config),
    )
    nb.setdefault("metadata", {})["title"] = incident_id
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return out


# inside the notebook ----------------------------------------------------------------------
def open_incident(
    incident_id: str = "",
    *,
    window: str = "",
    baseline: str = "",
    services: Sequence[str] = (),
    sources_config: str | Path = "",
) -> Incident:
    """The incident the notebook parameters describe (not loaded yet).

    ``sources_config=""`` opens the embedded demo incident; otherwise the sources are
    read from that ``workbench.toml`` (plus ``WORKBENCH_*`` environment variables, see
    :func:`workbench.config.load_config`) and ``window`` is required. ``baseline`` is
    the fault-free stretch the window is compared with: ``"START..END"``, or a length
    (``"8h"``) that ends where the window starts; ``""``: as long as the window, just
    before it (the demo: its own). A longer baseline gives the verdict more separate
    baseline windows to measure chance on (its reason says how long would settle a
    "weak"); it loads that much more data. Grafana (for Explore links) comes from its
    ``[grafana]`` table, else from ``WORKBENCH_GRAFANA_URL`` (:mod:`workbench.grafana_config`).

    >>> inc = open_incident("INC-9", window="2026-11-20T11:00:00Z..2026-11-20T12:00:00Z",
    ...                     baseline="8h", services=["checkout"],
    ...                     sources_config="workbench.toml")
    >>> str(inc.baseline)
    '2026-11-20T03:00:00Z..2026-11-20T11:00:00Z'
    """
    from workbench.incident import Incident

    if not sources_config:
        inc = Incident.demo()
        if window:
            held = inc.data_start
            inc = Incident(
                incident_id or inc.id, Window.parse(window), sources=inc.sources, title=inc.title
            )
            inc.data_start = held
    else:
        if not window:
            raise ConfigError(
                "window is empty", hint='set window = "START..END" in the parameters cell'
            )
        from workbench.config import load_config

        sources = list(load_config(sources_config).values())
        if not sources:
            raise ConfigError(f"{sources_config} defines no sources")
        w = Window.parse(window)
        ident, title = (incident_id, incident_id) if incident_id else untitled(w, services, sources)
        inc = Incident(ident, w, sources=sources, title=title)
    from workbench.grafana_config import load_grafana

    inc.grafana = load_grafana(sources_config or None)  # [grafana], else WORKBENCH_GRAFANA_*
    if incident_id:
        inc.id = incident_id
        if inc.title == inc.id or not inc.title:
            inc.title = incident_id
    if services:
        inc.services = list(services)
    if baseline:
        inc.baseline = baseline_window(baseline, inc.window)
    return inc


def untitled(
    window: Window, services: Sequence[str] = (), sources: Sequence[Any] = ()
) -> tuple[str, str]:
    """``(id, title)`` of an incident the parameters cell does not name: the id and title
    of the incident a files source describes (a lab or demo directory's
    ``scenario.json``), else an id from the window's start and a title from the window
    and the ``services`` parameter. The headline, findings, postmortem and bundle all
    read them (not "incident" for every unnamed one).

    >>> untitled(Window.parse("2026-11-20T11:00:00Z..2026-11-20T12:00:00Z"), ["checkout"])
    ('incident-2026-11-20T1100Z', 'Incident 2026-11-20 11:00–12:00 UTC: checkout')
    """
    from workbench.display import span_label

    described = []
    for src in sources:
        meta_file = Path(str(getattr(src, "path", "") or "")) / "scenario.json"
        if getattr(src, "path", None) and meta_file.is_file():
            meta = json.loads(meta_file.read_text())
            if meta.get("incident_id"):
                described.append((str(meta["incident_id"]), str(meta.get("title") or "")))
    if len(set(described)) == 1:  # one incident the sources describe
        ident, title = described[0]
        return ident, title or ident
    ident = f"incident-{window.start:%Y-%m-%dT%H%M}Z"
    shown = ", ".join(services[:3]) + (f" +{len(services) - 3} more" if len(services) > 3 else "")
    named = f": {shown}" if services else ""
    return ident, f"Incident {span_label(window)}{named}"


def baseline_window(text: str, window: Window) -> Window:
    """The baseline a notebook parameter names: ``"START..END"``, or a length (``"8h"``,
    ``"90m"``) ending where ``window`` starts. It must end by the window's start.

    >>> baseline_window("8h", Window.parse("2026-11-20T11:00:00Z..2026-11-20T12:00:00Z"))
    Window(2026-11-20T03:00:00Z..2026-11-20T11:00:00Z)
    """
    hint = 'give "START..END" (UTC) or a length before the window such as "8h"'
    try:
        base = Window.parse(text) if ".." in text else window.baseline(text)
    except (ConfigError, ValueError) as e:
        raise ConfigError(f"baseline {text!r}: {e}", hint=hint) from e
    if base.end > window.start:
        raise ConfigError(
            f"baseline {base} ends after the window starts ({window.start:%Y-%m-%dT%H:%M:%SZ}): "
            "it would compare the incident with itself",
            hint=hint,
        )
    return base


# running headless -------------------------------------------------------------------------
def _spec_manager() -> Any:
    """A kernelspec manager that looks in Jupyter's kernel folders first and in IPython's
    legacy one only if a name is not found there: the default manager lists IPython's
    folder up front, and finding it imports IPython (0.1 s before a headless run can
    launch its kernel). :func:`kernel_name` and the kernel manager use the same one, so
    the kernel started is the one checked."""
    from jupyter_client.kernelspec import KernelSpec, KernelSpecManager, NoSuchKernel
    from jupyter_core.paths import jupyter_path

    class JupyterFoldersFirst(KernelSpecManager):
        def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
            try:
                return super().get_kernel_spec(kernel_name)
            except NoSuchKernel:
                return KernelSpecManager().get_kernel_spec(kernel_name)

    return JupyterFoldersFirst(kernel_dirs=jupyter_path("kernels"))


def kernel_name() -> str:
    """A kernel that runs this interpreter: ``python3`` when it resolves to it, else a
    ``incident-workbench`` kernelspec installed into this environment (``sys.prefix``)."""
    from jupyter_client.kernelspec import NoSuchKernel

    specs = _spec_manager()
    aliases = {"python", "python3", f"python{sys.version_info[0]}.{sys.version_info[1]}"}
    for name in ("python3", "incident-workbench"):
        try:
            spec = specs.get_kernel_spec(name)
        except NoSuchKernel:
            continue
        exe = spec.argv[0] if spec.argv else ""
        if exe in aliases or Path(exe) == Path(sys.executable):
            return name
    from ipykernel.kernelspec import install

    install(prefix=sys.prefix, kernel_name="incident-workbench", display_name="incident-workbench")
    log.info("installed kernelspec incident-workbench into %s", sys.prefix)
    return "incident-workbench"


def ready_client() -> type:
    """jupyter_client's asynchronous kernel client, ready as soon as the kernel has
    answered ``kernel_info`` and IOPub has carried that request's *idle* status.

    jupyter_client's own ``wait_for_ready`` then waits until IOPub has been silent for
    0.2 s, to drain start-up messages: a fixed 0.2 s on every headless run, the kernel
    idle. Nothing needs draining here: nbclient reads only the messages whose parent is
    the request it sent (a cell's execution), and the idle status of the ``kernel_info``
    request shows that IOPub is connected, which is what jupyter_client's wait checks
    too. If that status does not come within 0.2 s (IOPub not connected yet),
    ``kernel_info`` is asked again, as jupyter_client does. Public client API only
    (``kernel_info``, the channels' ``get_msg``, ``is_alive``, the session's
    ``adapt_version``); the client class is the kernel manager's ``client_factory``.

    >>> km = ipc_kernel_manager()(kernel_name="python3")
    >>> km.client_factory is ready_client()
    True
    """
    return _ready_client_class()


@functools.cache
def _ready_client_class() -> type:
    import time
    from queue import Empty

    from jupyter_client import protocol_version_info
    from jupyter_client.asynchronous import AsyncKernelClient

    class ReadyClient(AsyncKernelClient):
        async def wait_for_ready(self, timeout: float | None = None) -> None:
            deadline = time.monotonic() + (float("inf") if timeout is None else timeout)
            while True:
                asked = self.kernel_info()
                try:
                    reply = await self.shell_channel.get_msg(timeout=1)
                except Empty:
                    reply = None
                if reply is not None and reply["msg_type"] == "kernel_info_reply":
                    parent = reply["parent_header"].get("msg_id") or asked
                    if await self._idle_seen(parent):
                        # speak the kernel's protocol version, as jupyter_client does
                        theirs = str(reply["content"].get("protocol_version", "5"))
                        major = int(theirs.split(".")[0])
                        if major != protocol_version_info[0]:
                            self.session.adapt_version = major
                        return
                if not await self.is_alive():
                    raise RuntimeError("Kernel died before replying to kernel_info")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"Kernel didn't respond in {timeout:.0f} seconds")

        async def _idle_seen(self, msg_id: str) -> bool:
            """Whether IOPub carries request ``msg_id``'s idle status (each message
            within 0.2 s of the previous one)."""
            while True:
                try:
                    msg = await self.iopub_channel.get_msg(timeout=0.2)
                except Empty:
                    return False
                if (
                    msg["msg_type"] == "status"
                    and msg["parent_header"].get("msg_id") == msg_id
                    and msg["content"].get("execution_state") == "idle"
                ):
                    return True

    return ReadyClient


def ipc_kernel_manager() -> type:
    """A kernel manager whose kernel listens on IPC sockets in a private temporary folder
    (mode 0700) instead of TCP on localhost: nothing travels in plain text over the network
    stack, so the kernel has nothing to warn about on a headless run. Its clients are
    :func:`ready_client`'s."""
    import shutil
    import tempfile

    from jupyter_client.manager import AsyncKernelManager

    class IpcKernelManager(AsyncKernelManager):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.client_factory = ready_client()
            self._ipc_dir = tempfile.mkdtemp(prefix="wb-kernel-")
            self.transport = "ipc"
            self.ip = str(Path(self._ipc_dir) / "kernel")

        async def _async_cleanup_resources(self, restart: bool = False) -> None:
            await super()._async_cleanup_resources(restart=restart)
            if not restart:
                shutil.rmtree(self._ipc_dir, ignore_errors=True)

        cleanup_resources = _async_cleanup_resources

        async def _async_wait(self, pollinterval: float = 0.1) -> None:
            # jupyter_client polls a killed kernel every 0.1 s until it is gone: the
            # headless run waits for that after its last cell; 10 ms is plenty
            await super()._async_wait(pollinterval=min(pollinterval, 0.01))

    return IpcKernelManager


def import_lines(nb: Mapping[str, Any] | str | Path) -> list[str]:
    """The top-level ``import`` statements of a notebook's code cells, in order (cells
    that are not plain Python, such as magics, are skipped).

    >>> import_lines({"cells": [{"cell_type": "code", "source": "import polars as pl\\nx = 1"}]})
    ['import polars as pl']
    """
    book = _read(nb) if isinstance(nb, str | Path) else nb
    lines: list[str] = []
    for cell in book.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        src = _source(cell)
        try:
            tree = ast.parse(src)
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, ast.Import) or (
                isinstance(node, ast.ImportFrom) and not node.level and node.module != "__future__"
            ):
                seg = ast.get_source_segment(src, node)
                if seg and seg not in lines:
                    lines.append(seg)
    return lines


#: set to ``1`` in the environment of a headless run's kernel whose outputs are made
#: static afterwards (:func:`execute` with ``static=True``)
STATIC_RUN_ENV = "WORKBENCH_STATIC_RUN"


def static_run() -> bool:
    """Whether this process is the kernel of a headless run whose outputs are made static
    afterwards (charts become SVG, widgets a note: ``workbench demo --execute``): what
    only a live view would show need not be prepared ahead.

    >>> static_run()                    # in JupyterLab, or a plain script
    False
    """
    return os.environ.get(STATIC_RUN_ENV) == "1"


def _early_kernel(
    name: str, *, preload: Sequence[str], cwd: str | None, static: bool = False
) -> tuple[Any, type]:
    """Start a kernel now, running ``preload`` (import statements) while it starts, and
    return a kernel manager class for papermill/nbclient that adopts it: they find it
    started, wait until it is ready and shut it down as if they had started it.
    ``static``: the kernel runs with :data:`STATIC_RUN_ENV` set (see :func:`static_run`)."""
    import asyncio

    from jupyter_core.utils import run_sync

    class Early(ipc_kernel_manager()):  # type: ignore[misc]
        """Killed at once when the run is over, reaped later (:meth:`reap`): the kernel,
        gigabytes by then, takes a few tenths of a second to die and free its memory,
        while the run writes its outputs."""

        killed = False

        def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
            cmd: list[str] = super().format_kernel_cmd(extra_arguments)
            # ipykernel as the kernelspec starts it, without the debugger (see
            # workbench.headless_kernel): nobody attaches one to a headless run
            if cmd[1:3] == ["-m", "ipykernel_launcher"]:
                cmd[1:3] = ["-m", "workbench.headless_kernel"]
            return cmd

        async def _async_shutdown_kernel(self, now: bool = False, restart: bool = False) -> None:
            if not (now and not restart and self.has_kernel and self.owns_kernel):
                await super()._async_shutdown_kernel(now=now, restart=restart)
                return
            self.shutting_down = True
            self.stop_restarter()
            assert self.provisioner is not None  # has_kernel
            await self.provisioner.kill()  # SIGKILL, as shutdown_kernel(now=True) sends
            self.killed = True

        shutdown_kernel = _async_shutdown_kernel  # jupyter_client binds its own by name

        async def reap(self) -> None:
            """Wait for the killed kernel to exit (polled every 10 ms)."""
            while await self._async_is_alive():
                await asyncio.sleep(0.01)
            if self.provisioner is not None:
                await self.provisioner.wait()

    base = Early
    km = base(kernel_name=name, kernel_spec_manager=_spec_manager())
    extra = [f"--IPKernelApp.exec_lines={json.dumps(list(preload))}"] if preload else []
    env = {**os.environ, STATIC_RUN_ENV: "1"} if static else None
    if env is None and STATIC_RUN_ENV in os.environ:  # not inherited by a live run
        env = {k: v for k, v in os.environ.items() if k != STATIC_RUN_ENV}
    run_sync(km.start_kernel)(extra_arguments=extra, cwd=cwd, **({"env": env} if env else {}))

    class Adopted(base):  # type: ignore[misc, valid-type]
        """Hands out the kernel manager started above (not an instance of this class,
        so it is not initialised again)."""

        def __new__(cls, *args: Any, **kwargs: Any) -> Any:
            return km

    return km, Adopted


#: papermill engine name under which :func:`execute` registers its per-cell hook
ENGINE = "workbench"


def _import_papermill() -> None:
    """Import papermill without pyarrow: papermill's file I/O module imports
    ``pyarrow.fs`` (and so pyarrow and numpy: 0.12 CPU-s, in this process beside the
    kernel's start) only for its HDFS handler, reading ``hdfs://`` notebooks, which
    :func:`execute` never gives it (its notebooks are local files). ``pyarrow.fs`` reads
    as missing while papermill imports (papermill then says so if an HDFS path is ever
    used) and imports normally afterwards. Nothing is blocked when pyarrow is imported
    already; a papermill that fails to import without it is imported with it."""
    if "papermill.iorw" in sys.modules or "pyarrow" in sys.modules:
        return
    sys.modules["pyarrow.fs"] = None  # type: ignore[assignment]  # import raises ImportError
    try:
        import papermill.iorw  # noqa: F401
    except ImportError:  # a papermill that needs pyarrow.fs after all: with it, then
        for name in [m for m in sys.modules if m == "papermill" or m.startswith("papermill.")]:
            del sys.modules[name]
    finally:
        if "pyarrow.fs" in sys.modules and sys.modules["pyarrow.fs"] is None:
            del sys.modules["pyarrow.fs"]


def _register_engine() -> None:
    """Register papermill's nbclient engine again under :data:`ENGINE`, with one
    addition: a client's ``on_cell_executed`` hook may take ``widget_state`` (the
    widgets' state so far, as the executed notebook will store it)."""
    from papermill.clientwrap import PapermillNotebookClient
    from papermill.engines import NBClientEngine, papermill_engines
    from papermill.log import logger
    from papermill.utils import merge_kwargs, remove_args

    class Engine(NBClientEngine):
        @classmethod
        def execute_managed_notebook(  # papermill's, plus the hook's widget_state
            cls,
            nb_man: Any,
            kernel_name: str,
            log_output: bool = False,
            stdout_file: Any = None,
            stderr_file: Any = None,
            start_timeout: float = 60,
            execution_timeout: float | None = None,
            on_cell_done: Any = None,
            **kwargs: Any,
        ) -> Any:
            kwargs = remove_args(["input_path"], **kwargs)
            safe_kwargs = remove_args(["timeout", "startup_timeout"], **kwargs)
            final_kwargs = merge_kwargs(
                safe_kwargs,
                timeout=execution_timeout if execution_timeout else kwargs.get("timeout"),
                startup_timeout=start_timeout,
                kernel_name=kernel_name,
                log=logger,
                log_output=log_output,
                stdout_file=stdout_file,
                stderr_file=stderr_file,
            )
            client = PapermillNotebookClient(nb_man, **final_kwargs)
            if on_cell_done is not None:

                def hook(cell: Any, **_: Any) -> None:
                    on_cell_done(cell, client.widget_state)

                client.on_cell_executed = hook
            return client.execute()

    papermill_engines.register(ENGINE, Engine)


def execute(
    notebook: str | Path,
    out: str | Path,
    *,
    parameters: Mapping[str, Any] | None = None,
    cwd: str | Path | None = None,
    timeout_s: float = 600,
    preload: bool = True,
    on_cell_done: Callable[[Mapping[str, Any], Mapping[str, Any]], None] | None = None,
    on_executed: Callable[[dict[str, Any]], None] | None = None,
    on_started: Callable[[], None] | None = None,
    static: bool = False,
) -> Path:
    """Run ``notebook`` headless with papermill into ``out``; raise :class:`NotebookError`
    naming the failing cell if one raises (the partly executed notebook is still written).

    The kernel is started first and, with ``preload=True``, runs the notebook's own
    top-level import statements while it starts (:func:`import_lines`), in parallel with
    papermill's start-up in this process: the cells then find them imported. Outputs are
    the same; a failing import still fails in its cell, where it is written.

    ``on_cell_done(cell, widget_state)`` is called after each cell ran, in this process
    (e.g. to draw a chart's SVG while the kernel goes on); it must not modify them.

    ``on_executed(nb)``, if given, is called with the executed notebook when every cell
    ran, *instead of* writing it to ``out`` (``workbench demo`` writes its static copy
    there: serialising the live widgets' state, megabytes, only to overwrite it costs a
    quarter second); if it raises, the executed notebook is written to ``out``, then the
    error propagates.

    ``on_started()``, if given, is called once the kernel process is launched, before
    papermill starts: work that can run beside the kernel (``workbench demo`` starts its
    SVG drawing process there) starts then rather than delaying the kernel's launch.

    ``static=True``: the caller makes the outputs static (``workbench demo``: charts as
    SVG, widgets as a note); the kernel is told (:func:`static_run`), and widgets skip
    what only a live view shows (the explorer renders no tab ahead). The outputs made
    static are the same either way.
    """
    from jupyter_core.utils import run_sync

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    name = kernel_name()
    lines = import_lines(notebook) if preload else []
    km, adopted = _early_kernel(name, preload=lines, cwd=str(cwd) if cwd else None, static=static)
    try:
        if on_started is not None:
            on_started()
        _import_papermill()
        from papermill.exceptions import PapermillExecutionError
        from papermill.iorw import write_ipynb

        _register_engine()
        try:
            nb = _papermill(
                notebook,
                out,
                parameters=dict(parameters or {}),
                kernel_name=name,
                cwd=str(cwd) if cwd else None,
                execution_timeout=timeout_s,
                kernel_manager_class=adopted,
                # outputs and widget state are collected by then: no need to wait for the
                # kernel to wind down
                shutdown_kernel="immediate",
                on_cell_done=on_cell_done,
            )
        except PapermillExecutionError as exc:
            raise NotebookError(
                f"cell {exc.exec_count} raised {exc.ename}: {exc.evalue}",
                hint=f"open {out} to see the traceback",
            ) from exc
        if on_executed is None:
            write_ipynb(nb, str(out))
        else:
            try:
                on_executed(nb)
            except BaseException:
                write_ipynb(nb, str(out))  # nothing lost: the notebook as executed
                raise
    finally:
        if km.killed:  # by nbclient once the cells ran: gone by now, or about to be
            run_sync(km.reap)()
        elif km.has_kernel:  # papermill failed before it adopted the kernel
            run_sync(km.shutdown_kernel)(now=True)
            run_sync(km.reap)()
            run_sync(km.cleanup_resources)()
    return out


def _papermill(
    notebook: str | Path,
    out: Path,
    *,
    parameters: dict[str, Any],
    kernel_name: str,
    cwd: str | None,
    **engine_kwargs: Any,
) -> Any:
    """``papermill.execute_notebook`` with the :data:`ENGINE` engine, without its final
    write of ``out`` (the caller writes, or not); a failing cell still writes ``out``
    (with papermill's error markers) and raises ``PapermillExecutionError``."""
    from papermill.engines import papermill_engines
    from papermill.execute import (
        prepare_notebook_metadata,
        raise_for_execution_errors,
        remove_error_markers,
    )
    from papermill.iorw import load_notebook_node, local_file_io_cwd
    from papermill.parameterize import parameterize_notebook
    from papermill.utils import chdir

    try:
        known = set(read_parameters(notebook)) if parameters else set()
    except ConfigError:  # no parameters cell: papermill injects them at the top
        known = set()
    unknown = sorted(set(parameters) - known)
    if unknown:  # as papermill says it; they are still injected
        log.warning("parameter(s) %s not in the notebook's parameters cell", unknown)
    with local_file_io_cwd():
        nb = load_notebook_node(str(notebook))
        if parameters:
            nb = parameterize_notebook(
                nb, parameters, False, kernel_name=kernel_name, language=None, engine_name=ENGINE
            )
        nb = remove_error_markers(prepare_notebook_metadata(nb, str(notebook), str(out), False))
        with chdir(cwd):
            nb = papermill_engines.execute_notebook_with_engine(
                ENGINE,
                nb,
                input_path=str(notebook),
                # papermill otherwise rewrites (and re-validates) the whole notebook
                # before and after every cell: ~60 writes, seconds
                output_path=None,
                kernel_name=kernel_name,
                progress_bar=False,
                log_output=False,
                start_timeout=60,
                stdout_file=None,
                stderr_file=None,
                **engine_kwargs,
            )
        raise_for_execution_errors(nb, str(out))
    return nb


def _cells_digest(nb: Mapping[str, Any]) -> str:
    import hashlib

    def text(source: Any) -> str:
        return "".join(source) if isinstance(source, list) else str(source or "")

    cells = [[c.get("cell_type"), text(c.get("source"))] for c in nb.get("cells", [])]
    return hashlib.sha256(json.dumps(cells, ensure_ascii=False).encode()).hexdigest()


def stamp_draft(path: str | Path) -> None:
    """Record in the notebook's metadata a digest of its cells as the workbench wrote
    them, so a later run can tell whether a person has edited it since."""
    p = Path(path)
    nb = json.loads(p.read_text(encoding="utf-8"))
    nb.setdefault("metadata", {}).setdefault("workbench", {})["draft_sha256"] = _cells_digest(nb)
    p.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def draft_state(path: str | Path) -> str:
    """``"absent"``, ``"unedited"`` (as the workbench wrote it), ``"edited"`` (changed
    since), or ``"foreign"`` (not written by the workbench, or unreadable)."""
    p = Path(path)
    if not p.exists():
        return "absent"
    try:
        nb = json.loads(p.read_text(encoding="utf-8"))
        stamp = nb.get("metadata", {}).get("workbench", {}).get("draft_sha256")
    except (OSError, ValueError, AttributeError):
        return "foreign"
    if not stamp:
        return "foreign"
    return "unedited" if stamp == _cells_digest(nb) else "edited"
