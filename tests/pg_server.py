"""A private PostgreSQL 15 cluster in a temporary directory, for tests and benchmarks.

``initdb`` makes the cluster, ``pg_ctl`` runs it on a free TCP port (127.0.0.1 only) with
its unix socket inside the temporary directory. PostgreSQL refuses to run as root, so
when we are root every server binary runs as the ``postgres`` user via ``runuser``, and
the temporary directory is owned by that user.

Authentication is real: the superuser ``postgres`` may connect over the private unix
socket without a password (setup only); the test user connects over TCP with
``scram-sha-256`` and a known password, so a wrong password gives a real 28P01.

Example::

    >>> with PgCluster.started() as pg:
    ...     print(pg.url)          # postgresql://wb_test@127.0.0.1:PORT/wb (no password)
    ...     conn = psycopg.connect(pg.url, password=pg.password)
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PG_BIN = Path(os.environ.get("WORKBENCH_PG_BIN", "/usr/lib/postgresql/15/bin"))

TEST_USER = "wb_test"
TEST_PASSWORD = "canary-pg-5ec7e7'\"with\\odd chars"
TEST_DB = "wb"


class PgClusterError(RuntimeError):
    """The cluster did not start or stop; the message carries the server log's tail."""


class PgCluster:
    """One private PostgreSQL cluster. ``start()``, ``stop()``, ``restart()``."""

    def __init__(self, base: Path | None = None, *, port: int | None = None) -> None:
        from tests.servers import free_port

        self._own_base = base is None
        self.base = Path(base or tempfile.mkdtemp(prefix="wb-pg-"))
        self.data = self.base / "data"
        self.sock = self.base / "sock"
        self.logfile = self.base / "server.log"
        self.port = port or free_port()
        self.user = TEST_USER
        self.password = TEST_PASSWORD
        self.dbname = TEST_DB
        self._as_postgres = os.geteuid() == 0
        self.running = False

    # ------------------------------------------------------------------ locations
    @property
    def url(self) -> str:
        """URL of the test database for the test user (no password in it)."""
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{self.dbname}"

    @property
    def admin_conninfo(self) -> str:
        """Superuser connection over the private unix socket (trust, setup only)."""
        return f"host={self.sock} port={self.port} user=postgres dbname={self.dbname}"

    # ------------------------------------------------------------------ helpers
    def _cmd(self, *args: str) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *args] if self._as_postgres else list(args)

    def _run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self._cmd(*args), capture_output=True, text=True, timeout=timeout, check=False
        )

    def log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.logfile.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no server log)"

    def _fail(self, what: str, proc: subprocess.CompletedProcess[str] | None = None) -> None:
        out = f"\n{proc.stdout}\n{proc.stderr}" if proc is not None else ""
        raise PgClusterError(f"{what}{out}\n--- server log tail ---\n{self.log_tail()}")

    # ------------------------------------------------------------------ lifecycle
    def init(self) -> None:
        """Run initdb, write the server settings and pg_hba.conf."""
        if not (PG_BIN / "initdb").exists():
            raise PgClusterError(f"{PG_BIN / 'initdb'} is missing: install Debian 'postgresql'")
        self.sock.mkdir(parents=True, exist_ok=True)
        if self._as_postgres:
            pw = pwd.getpwnam("postgres")
            for p in (self.base, self.sock):
                os.chown(p, pw.pw_uid, pw.pw_gid)
            self.base.chmod(0o700)
        proc = self._run(
            str(PG_BIN / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--locale=C",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "--no-sync",
        )
        if proc.returncode:
            self._fail("initdb failed", proc)
        conf = (
            f"listen_addresses = '127.0.0.1'\nport = {self.port}\n"
            f"unix_socket_directories = '{self.sock}'\n"
            "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
            "shared_buffers = 128MB\nmax_connections = 50\ntimezone = 'UTC'\n"
            "password_encryption = 'scram-sha-256'\nlog_min_messages = warning\n"
        )
        hba = (
            "local all postgres trust\n"
            "local all all scram-sha-256\n"
            "host all all 127.0.0.1/32 scram-sha-256\n"
            "host all all ::1/128 scram-sha-256\n"
        )
        self._write_as_owner(self.data / "postgresql.auto.conf", conf)
        self._write_as_owner(self.data / "pg_hba.conf", hba)

    def _write_as_owner(self, path: Path, text: str) -> None:
        path.write_text(text)
        if self._as_postgres:
            pw = pwd.getpwnam("postgres")
            os.chown(path, pw.pw_uid, pw.pw_gid)

    def start(self) -> None:
        """Start the server and wait for it; raise with the log tail if it does not come up."""
        proc = self._run(
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.logfile),
            "-w",
            "-t",
            "60",
            "start",
        )
        if proc.returncode:
            self._fail("PostgreSQL did not start", proc)
        self.running = True

    def stop(self, mode: str = "fast") -> None:
        if not self.running:
            return
        proc = self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")
        self.running = False
        if proc.returncode:
            self._fail("PostgreSQL did not stop", proc)

    def restart(self) -> None:
        """Stop (fast: existing connections are cut) and start again on the same port."""
        self.stop("fast")
        self.start()

    def setup_test_user(self) -> None:
        """Create the test user with its password and the test database it owns."""
        import psycopg
        from psycopg import sql

        with psycopg.connect(
            f"host={self.sock} port={self.port} user=postgres dbname=postgres", autocommit=True
        ) as conn:
            conn.execute(
                sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                    sql.Identifier(self.user), sql.Literal(self.password)
                )
            )
            conn.execute(
                sql.SQL("CREATE DATABASE {} OWNER {}").format(
                    sql.Identifier(self.dbname), sql.Identifier(self.user)
                )
            )

    def cleanup(self) -> None:
        try:
            self.stop("immediate")
        finally:
            if self._own_base:
                shutil.rmtree(self.base, ignore_errors=True)

    @classmethod
    @contextmanager
    def started(cls, base: Path | None = None) -> Iterator[PgCluster]:
        """Init, start and set up a cluster; stop and remove it on exit."""
        pg = cls(base)
        try:
            pg.init()
            pg.start()
            pg.setup_test_user()
            yield pg
        finally:
            pg.cleanup()


@contextmanager
def scratch_schema(cluster: PgCluster, prefix: str, **options: object) -> Iterator[object]:
    """A ``PostgresSource`` on a fresh schema ``<prefix>_<random>`` of ``cluster`` with the
    workbench tables created; the schema is dropped afterwards (if the cluster still runs).

    >>> with scratch_schema(postgres_server, "t", timeout=5) as src: ...
    """
    import uuid

    import psycopg
    from psycopg import sql

    from workbench import PostgresSource, Secret

    schema = f"{prefix}_{uuid.uuid4().hex[:10]}"
    src = PostgresSource(
        cluster.url, password=Secret.value(cluster.password), schema=schema, **options
    )
    try:
        src.init_schema()
        yield src
    finally:
        src.close()
        if cluster.running:
            with psycopg.connect(cluster.admin_conninfo, autocommit=True) as conn:
                conn.execute(
                    sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema))
                )
