"""Canary credentials, scanned for everywhere the suite leaves text (issue 8 point 5).

At start-up the plugin puts canary credentials in the environment (``WB_CANARY_TOKEN``,
``WB_CANARY_PASSWORD``, values ``canary-<kind>-<hex>``); tests use them as bearer tokens
and passwords through ``Secret.env(...)`` or ``{env = "..."}`` references. Every canary of
that family counts, so the other tests' own canaries (``canary-prom-7a1``,
``canary-pm-<hex>``...) are watched too, and so is the private PostgreSQL's password.

Watched for the whole session:

Each canary is also looked for in every encoding a credential takes on the wire or in an
echo (``workbench.secrets.encoded_forms``): percent-encoded, and base64 at each byte
alignment, so ``Authorization: Basic base64("user:" + canary)`` is caught, and so is the
base64 of the family's prefixes (``canary-tok-``, ``canary-pw-``), so a clipped encoded
token is caught too.

* every log record (a handler on the root logger; the ``workbench`` loggers at DEBUG),
* every typed error's message and details when it is raised (``WorkbenchError``),
* each test's captured stdout/stderr/log and failure text,
* at the end, every file under the pytest temporary directory (notebooks and their
  outputs, rendered postmortems, bundles, configuration...) and every path registered
  with ``canaries.register(path)``.

A canary anywhere fails the session (exit status 1) with the places it was found. Files
that are *inputs* holding a canary on purpose are declared with ``canaries.allow(path)``.

Example::

    def test_token_not_echoed(canaries, recorded_http):
        src = LokiSource(recorded_http.url, auth=Auth(bearer=Secret.env(canaries.TOKEN_ENV)))
        ...
        canaries.check(repr(src), "repr of the Loki source")
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import secrets
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

TOKEN_ENV = "WB_CANARY_TOKEN"
PASSWORD_ENV = "WB_CANARY_PASSWORD"
os.environ.setdefault(TOKEN_ENV, f"canary-tok-{secrets.token_hex(8)}")
os.environ.setdefault(PASSWORD_ENV, f"canary-pw-{secrets.token_hex(8)}")

#: the family every canary belongs to (also matches other tests' own canaries)
PATTERN = re.compile(r"canary-[a-z]+-[0-9a-f]{3,}")
PATTERN_BYTES = re.compile(PATTERN.pattern.encode())
#: prefixes of the family whose encoded forms count (a clipped encoded credential)
PREFIXES = ("canary-tok-", "canary-pw-", "canary-prom-", "canary-pm-")
_MAX_FILE = 64 * 1024 * 1024
_MAX_FINDINGS = 50


class Canaries:
    """Registry of canary values, artefacts to scan, and findings."""

    TOKEN_ENV = TOKEN_ENV
    PASSWORD_ENV = PASSWORD_ENV

    def __init__(self) -> None:
        self.values: set[str] = {os.environ[TOKEN_ENV], os.environ[PASSWORD_ENV]}
        self._needles: tuple[str, ...] | None = None
        self.paths: list[Path] = []
        self.allowed: set[Path] = set()
        self.findings: list[str] = []
        self.current = "(session)"
        self.scanned_files = 0
        self.scanned_records = 0
        self.scanned_errors = 0

    @property
    def token(self) -> str:
        return os.environ[TOKEN_ENV]

    @property
    def password(self) -> str:
        return os.environ[PASSWORD_ENV]

    def add(self, value: str) -> None:
        """Watch one more secret value (for example a server's password)."""
        if value:
            self.values.add(value)
            self._needles = None

    @property
    def needles(self) -> tuple[str, ...]:
        """Every value and family prefix in every encoding (raw values first)."""
        if self._needles is None:
            from workbench.secrets import encoded_forms

            forms: set[str] = set()
            for v in self.values:
                forms.update(f for f in encoded_forms(v) if f != v)
            for p in PREFIXES:
                forms.update(f for f in encoded_forms(p) if f != p)
            self._needles = tuple(self.values) + tuple(sorted(forms))
        return self._needles

    def register(self, path: str | Path) -> None:
        """Scan this file or folder at the end of the session."""
        self.paths.append(Path(path))

    def allow(self, path: str | Path) -> None:
        """A test input that holds a canary on purpose (never reported)."""
        self.allowed.add(Path(path).resolve())

    def found_in(self, text: str) -> str | None:
        for v in self.needles:
            if v in text:
                return v
        m = PATTERN.search(text)
        return m.group(0) if m else None

    def check(self, text: str, where: str) -> None:
        """Record a finding if ``text`` holds a canary (the value itself is not repeated)."""
        hit = self.found_in(text)
        if hit is not None:
            self.note(f"{where} (in {self.current}): holds a canary ({hit[:12]}...)")

    def note(self, finding: str) -> None:
        if len(self.findings) < _MAX_FINDINGS and finding not in self.findings:
            self.findings.append(finding)

    def scan_file(self, path: Path) -> None:
        if path.resolve() in self.allowed or not path.is_file():
            return
        try:
            if path.stat().st_size > _MAX_FILE:
                return
            data = path.read_bytes()
        except OSError:
            return
        self.scanned_files += 1
        needles = [v.encode() for v in self.needles]
        if any(n in data for n in needles) or PATTERN_BYTES.search(data):
            self.note(f"file {path}: holds a canary")

    def scan_tree(self, root: Path) -> None:
        if root.is_file():
            self.scan_file(root)
            return
        for dirpath, _dirs, files in os.walk(root):
            for f in files:
                self.scan_file(Path(dirpath) / f)


CANARIES = Canaries()


class CanaryHandler(logging.Handler):
    """A logging handler that reports records holding a canary to ``canaries``."""

    def __init__(self, canaries: Canaries) -> None:
        super().__init__(level=logging.DEBUG)
        self.canaries = canaries

    def emit(self, record: logging.LogRecord) -> None:
        c = self.canaries
        c.scanned_records += 1
        try:
            text = record.getMessage()
        except Exception:  # a broken format string: look at the raw parts
            text = f"{record.msg} {record.args}"
        if record.exc_info and record.exc_info[1] is not None:
            text += " " + str(record.exc_info[1])
        hit = c.found_in(text)
        if hit is not None:
            c.note(
                f"log record {record.name}:{record.lineno} (in {c.current}): holds a "
                f"canary ({hit[:12]}...)"
            )


_HANDLER = CanaryHandler(CANARIES)


def _watch_errors() -> None:
    """Scan every typed error's text when it is made."""
    from workbench.errors import WorkbenchError

    original = WorkbenchError.__init__
    if getattr(original, "_canary", False):
        return

    def init(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        original(self, *args, **kwargs)
        CANARIES.scanned_errors += 1
        try:
            text = f"{self}\n{getattr(self, 'hint', '')}\n{getattr(self, 'detail', '')}"
        except Exception:  # an error whose __str__ fails is not ours to judge here
            return
        CANARIES.check(text, f"{type(self).__name__} message")

    init._canary = True  # type: ignore[attr-defined]
    WorkbenchError.__init__ = init  # type: ignore[method-assign]


def pytest_configure(config: pytest.Config) -> None:
    root = logging.getLogger()
    if _HANDLER not in root.handlers:
        root.addHandler(_HANDLER)
    logging.getLogger("workbench").setLevel(logging.DEBUG)
    _watch_errors()
    try:
        from tests.pg_server import TEST_PASSWORD

        CANARIES.add(TEST_PASSWORD)
    except ImportError:  # pragma: no cover
        pass


@pytest.fixture(scope="session")
def canaries() -> Canaries:
    return CANARIES


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    CANARIES.current = item.nodeid


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_teardown(item: pytest.Item) -> Iterator[None]:
    # pyproject sets tmp_path_retention_policy = "failed": a passing test's tmp_path is
    # removed as its fixtures are torn down (the whole suite wrote 1.5 GB there), so what a
    # test wrote is scanned here, before that; the session-scoped folders are scanned at the end.
    funcargs = getattr(item, "funcargs", {})
    for name in ("tmp_path", "tmpdir"):
        path = funcargs.get(name)
        if path is not None:
            with contextlib.suppress(OSError):
                CANARIES.scan_tree(Path(path))
    yield


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    texts: Iterable[tuple[str, str]] = [(name, content) for name, content in report.sections]
    for name, content in texts:
        CANARIES.check(content, f"{name} of {report.nodeid}")
    if report.failed:
        CANARIES.check(report.longreprtext, f"failure text of {report.nodeid}")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    CANARIES.current = "(end of session)"
    factory = getattr(session.config, "_tmp_path_factory", None)
    if factory is not None:
        with contextlib.suppress(OSError):
            CANARIES.scan_tree(factory.getbasetemp())
    for p in CANARIES.paths:
        if p.exists():
            CANARIES.scan_tree(p)
    if CANARIES.findings and session.exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    c = CANARIES
    tr = terminalreporter
    tr.section("canary credentials")
    tr.write_line(
        f"scanned {c.scanned_records:,} log records, {c.scanned_errors:,} typed errors, "
        f"{c.scanned_files:,} files: {len(c.findings)} canary finding(s)"
    )
    for f in c.findings:
        tr.write_line(f"LEAK {f}", red=True)
