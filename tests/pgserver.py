"""A throwaway PostgreSQL server for tests and benchmarks, started from the machine's binaries."""

from __future__ import annotations

import atexit
import os
import pwd
import shlex
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import NoReturn, Self
from urllib.parse import quote

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

SUPERUSER = "postgres"
"""The database superuser created by ``initdb`` (and, as root, the system user running it)."""

DEBIAN_ROOT = Path("/usr/lib/postgresql")
"""Where Debian installs one ``<version>/bin`` directory per PostgreSQL major version."""

MISSING_MESSAGE = "PostgreSQL 15 binaries not found (install Debian's postgresql-15)"
"""What a test session says when it cannot start PostgreSQL."""

COMMAND_TIMEOUT_S = 120
"""Upper bound for one ``initdb`` or ``pg_ctl`` run; they normally take about a second."""

_MAX_SOCKET_PATH = 100  # sockaddr_un.sun_path holds 108 bytes on Linux, 104 on BSDs


class PostgresUnavailable(RuntimeError):
    """PostgreSQL cannot run here: its binaries, or the user to run them as, are missing."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class PostgresStartError(RuntimeError):
    """The binaries are there but ``initdb`` or ``pg_ctl`` failed; the message has their output."""


def _is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def _has_server_binaries(bindir: Path) -> bool:
    return _is_executable(bindir / "initdb") and _is_executable(bindir / "pg_ctl")


def _version_key(name: str) -> tuple[int, ...] | None:
    try:
        return tuple(int(part) for part in name.split("."))
    except ValueError:
        return None


def find_bindir(debian_root: Path = DEBIAN_ROOT) -> Path:
    """The directory holding ``initdb`` and ``pg_ctl``.

    ``pg_config --bindir`` wins when it holds them; otherwise the highest version under
    ``debian_root`` (``/usr/lib/postgresql/<version>/bin``). Raises `PostgresUnavailable`.
    """
    pg_config = shutil.which("pg_config")
    if pg_config is not None:
        try:
            completed = subprocess.run(
                [pg_config, "--bindir"],
                capture_output=True,
                text=True,
                check=True,
                timeout=COMMAND_TIMEOUT_S,
            )
        except (OSError, subprocess.SubprocessError):
            pass
        else:
            bindir = Path(completed.stdout.strip())
            if completed.stdout.strip() and _has_server_binaries(bindir):
                return bindir
    candidates: list[tuple[tuple[int, ...], Path]] = []
    for bindir in debian_root.glob("*/bin"):
        version = _version_key(bindir.parent.name)
        if version is not None and _has_server_binaries(bindir):
            candidates.append((version, bindir))
    if candidates:
        return max(candidates)[1]
    raise PostgresUnavailable(
        f"no initdb/pg_ctl in `pg_config --bindir` nor in {debian_root}/*/bin"
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _clean_environment() -> dict[str, str]:
    """The environment without ``PG*`` variables, which would override our explicit options."""
    return {key: value for key, value in os.environ.items() if not key.startswith("PG")}


class PostgresServer:
    """A private PostgreSQL cluster in a temporary directory, reachable only by Unix socket.

    Use it as a context manager (or call `start` and `stop`). The cluster trusts local
    connections for the ``postgres`` superuser. As root, the directory is handed to the
    ``postgres`` system user and the binaries run through ``runuser``, since PostgreSQL
    refuses to run as root. ``durable=True`` (the default) keeps ``fsync`` and
    ``synchronous_commit`` on, as benchmarks of durable commits need; ``durable=False``
    turns them and ``full_page_writes`` off for fast tests.
    """

    def __init__(self, durable: bool = True, *, bindir: Path | None = None) -> None:
        self.durable = durable
        self._bindir = bindir
        self._base: Path | None = None
        self._port: int | None = None
        self._run_as_postgres = False
        self._owner_pid: int | None = None
        self.start_seconds: float | None = None
        """Wall-clock time the last `start` took (``initdb`` plus ``pg_ctl start``)."""

    # -- lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        """True between a successful `start` and `stop`."""
        return self._base is not None

    def start(self) -> Self:
        """Create the cluster and start the server (`PostgresUnavailable`, `PostgresStartError`)."""
        if self.running:
            return self
        began = time.perf_counter()
        bindir = self._bindir if self._bindir is not None else find_bindir()
        self._bindir = bindir
        self._run_as_postgres = os.geteuid() == 0
        postgres_ids: tuple[int, int] | None = None
        if self._run_as_postgres:
            postgres_ids = self._postgres_user_ids()
        base = self._make_base_directory()
        self._base = base
        self._port = _free_port()
        self._owner_pid = os.getpid()
        atexit.register(self._stop_at_exit)
        try:
            self.socket_dir.mkdir()
            if postgres_ids is not None:
                for path in (base, self.socket_dir):
                    os.chown(path, *postgres_ids)
            self._run(
                bindir / "initdb",
                "-D",
                str(self.data_dir),
                "-A",
                "trust",
                "-U",
                SUPERUSER,
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C",
            )
            self._run(
                bindir / "pg_ctl",
                "start",
                "-w",
                "-t",
                str(COMMAND_TIMEOUT_S),
                "-D",
                str(self.data_dir),
                "-l",
                str(self.log_path),
                "-o",
                self._server_options(),
            )
        except BaseException:
            self.stop()
            raise
        self.start_seconds = time.perf_counter() - began
        return self

    def stop(self) -> None:
        """Stop the server at once (``pg_ctl stop -m immediate``) and delete its directory."""
        base = self._base
        if base is None:
            return
        atexit.unregister(self._stop_at_exit)
        try:
            if self._bindir is not None and (self.data_dir / "postmaster.pid").exists():
                self._run(
                    self._bindir / "pg_ctl",
                    "stop",
                    "-w",
                    "-t",
                    str(COMMAND_TIMEOUT_S),
                    "-m",
                    "immediate",
                    "-D",
                    str(self.data_dir),
                    check=False,
                )
        finally:
            shutil.rmtree(base, ignore_errors=True)
            self._base = None
            self._port = None

    def _stop_at_exit(self) -> None:
        if os.getpid() == self._owner_pid:  # a forked child must not stop its parent's server
            self.stop()

    # -- where it lives --------------------------------------------------------------------

    @property
    def base_dir(self) -> Path:
        """The temporary directory holding the data directory, the socket and the log."""
        if self._base is None:
            raise RuntimeError("the PostgreSQL server is not running")
        return self._base

    @property
    def data_dir(self) -> Path:
        """The cluster's data directory (``PGDATA``)."""
        return self.base_dir / "data"

    @property
    def socket_dir(self) -> Path:
        """The private directory holding the server's Unix socket."""
        return self.base_dir / "socket"

    @property
    def log_path(self) -> Path:
        """The server's log file."""
        return self.base_dir / "server.log"

    @property
    def port(self) -> int:
        """The port number, which here only names the socket file (no TCP listener)."""
        if self._port is None:
            raise RuntimeError("the PostgreSQL server is not running")
        return self._port

    # -- how to reach it -------------------------------------------------------------------

    def url(self, dbname: str) -> str:
        """A SQLAlchemy URL (psycopg 3 driver) for database ``dbname``."""
        return (
            f"postgresql+psycopg://{SUPERUSER}@/{quote(dbname, safe='')}"
            f"?host={quote(str(self.socket_dir), safe='/')}&port={self.port}"
        )

    def dsn(self, dbname: str) -> str:
        """A libpq connection string for raw psycopg connections to database ``dbname``."""
        return make_conninfo(
            host=str(self.socket_dir), port=str(self.port), user=SUPERUSER, dbname=dbname
        )

    def create_database(self, name: str, template: str | None = None) -> None:
        """Create database ``name``, copied from ``template`` when given (else ``template1``)."""
        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template is not None:
            statement = sql.SQL("{} TEMPLATE {}").format(statement, sql.Identifier(template))
        self._admin(statement)

    def drop_database(self, name: str) -> None:
        """Drop database ``name`` if it exists, closing any connection still open to it."""
        self._admin(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def freeze_template(self, name: str) -> None:
        """Make ``name`` a template nobody can connect to, so copies of it never find it busy.

        ``CREATE DATABASE ... TEMPLATE`` fails while another session is connected to the
        template; this closes such sessions (a leftover connection pool, say) and forbids new ones.
        """
        self._admin(
            sql.SQL("ALTER DATABASE {} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false").format(
                sql.Identifier(name)
            )
        )
        self._admin(
            sql.SQL(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = {} AND pid <> pg_backend_pid()"
            ).format(sql.Literal(name))
        )

    def _admin(self, statement: sql.Composed) -> None:
        with psycopg.connect(self.dsn("postgres"), autocommit=True) as connection:
            connection.execute(statement)

    # -- running the binaries --------------------------------------------------------------

    def _server_options(self) -> str:
        if self.durable:
            durability = "-c fsync=on -c synchronous_commit=on"
        else:
            durability = "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        # pg_ctl hands this string to /bin/sh, hence the shell quoting.
        return (
            f"-k {shlex.quote(str(self.socket_dir))} -p {self.port}"
            f" -c listen_addresses='' -c max_connections=100 {durability}"
        )

    @staticmethod
    def _postgres_user_ids() -> tuple[int, int]:
        try:
            entry = pwd.getpwnam(SUPERUSER)
        except KeyError:
            raise PostgresUnavailable(
                f"running as root, and there is no {SUPERUSER!r} system user to run the server as"
            ) from None
        if shutil.which("runuser") is None:
            raise PostgresUnavailable("running as root, and `runuser` is not installed")
        return entry.pw_uid, entry.pw_gid

    @staticmethod
    def _make_base_directory() -> Path:
        base = Path(tempfile.mkdtemp(prefix="jalon-pg-"))
        longest = base / "socket" / ".s.PGSQL.65535.lock"
        if len(str(longest)) > _MAX_SOCKET_PATH:  # a long $TMPDIR: fall back to /tmp
            base.rmdir()
            base = Path(tempfile.mkdtemp(prefix="jalon-pg-", dir="/tmp"))
        return base

    def _run(self, executable: Path, *arguments: str, check: bool = True) -> None:
        command: Sequence[str] = [str(executable), *arguments]
        if self._run_as_postgres:
            command = ["runuser", "-u", SUPERUSER, "--", *command]
        completed = subprocess.run(
            command,
            cwd=self.base_dir,  # readable by the postgres user, unlike root's own directory
            env=_clean_environment(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=False,
            timeout=COMMAND_TIMEOUT_S,
        )
        if check and completed.returncode != 0:
            raise PostgresStartError(
                f"{shlex.join(command)} exited with {completed.returncode}\n"
                f"{completed.stdout}{completed.stderr}{self._log_tail()}"
            )

    def _log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "--- server log ---\n" + "\n".join(text.splitlines()[-lines:])


def postgres_required(environ: Mapping[str, str] | None = None) -> bool:
    """True when a missing PostgreSQL must fail the run rather than skip: ``CI=true``."""
    environment = os.environ if environ is None else environ
    return environment.get("CI", "").strip().lower() == "true"


def skip_or_fail(reason: str, environ: Mapping[str, str] | None = None) -> NoReturn:
    """Skip the tests needing PostgreSQL, or fail them under ``CI=true``."""
    message = f"{MISSING_MESSAGE}: {reason}"
    if postgres_required(environ):
        pytest.fail(f"{message} (CI=true: PostgreSQL tests may not be skipped)", pytrace=False)
    pytest.skip(message)


def start_for_tests(
    *, durable: bool = False, environ: Mapping[str, str] | None = None
) -> PostgresServer:
    """Start a test session's server; skip, or under ``CI=true`` fail, if PostgreSQL is missing."""
    try:
        return PostgresServer(durable=durable).start()
    except PostgresUnavailable as missing:
        skip_or_fail(missing.reason, environ)
