"""Connections: database URLs, the SQLAlchemy engine, and how SQLite and PostgreSQL are set up.

SQLite (the embedded default) runs in WAL mode with ``synchronous=FULL`` and foreign keys on;
its driver is put in autocommit mode so that Jalon issues ``BEGIN IMMEDIATE`` itself for
writes (one writer at a time, no lock upgrade failures) and plain ``BEGIN`` for reads.
PostgreSQL is reached through psycopg 3.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import ConnectionPoolEntry

from storage.errors import DatabaseUnavailable

DEFAULT_SQLITE_FILE = "jalon.db"
URL_ENVIRONMENT_VARIABLE = "JALON_DATABASE_URL"
SQLITE_BUSY_TIMEOUT_MS = 15_000


def normalize_url(url: str) -> str:
    """Return a SQLAlchemy URL: a bare path becomes SQLite, ``postgresql://`` uses psycopg 3."""
    if "://" not in url:
        return f"sqlite:///{Path(url)}"
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def default_url() -> str:
    """The URL from ``JALON_DATABASE_URL``, else an SQLite file in the working directory."""
    return normalize_url(os.environ.get(URL_ENVIRONMENT_VARIABLE) or DEFAULT_SQLITE_FILE)


def describe_url(url: str) -> str:
    """The URL without its password, fit for messages and logs."""
    return make_url(url).render_as_string(hide_password=True)


class Database:
    """One database: its URL, its SQLAlchemy engine, and the dialect it speaks."""

    def __init__(self, url: str) -> None:
        self.url = normalize_url(url)
        parsed = make_url(self.url)
        self.dialect_name = parsed.get_backend_name()
        if self.dialect_name not in ("sqlite", "postgresql"):
            raise DatabaseUnavailable(
                f"Base « {self.dialect_name} » non prise en charge : Jalon fonctionne avec "
                "SQLite (un chemin de fichier) ou PostgreSQL (postgresql://…)."
            )
        if self.is_sqlite and parsed.database and parsed.database != ":memory:":
            if Path(parsed.database).is_dir():
                raise DatabaseUnavailable(
                    f"{parsed.database} est un dossier : indiquez un fichier SQLite avec --db."
                )
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        self.engine: Engine = self._create_engine()

    @property
    def is_sqlite(self) -> bool:
        """True for the embedded SQLite backend."""
        return self.dialect_name == "sqlite"

    def _create_engine(self) -> Engine:
        if self.is_sqlite:
            engine = create_engine(self.url, paramstyle="named")
            event.listen(engine, "connect", _configure_sqlite)
            event.listen(engine, "begin", _begin_sqlite)
            return engine
        return create_engine(self.url, pool_pre_ping=True)

    def raw_connection(self) -> Any:
        """A driver (DBAPI) connection from the pool, configured like every other one."""
        return self.engine.raw_connection()

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


def _configure_sqlite(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    dbapi_connection.isolation_level = None  # Jalon emits BEGIN itself
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = FULL")
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.close()


def _begin_sqlite(connection: Any) -> None:
    # Transactions opened through SQLAlchemy (migrations, cold-path reads) start deferred;
    # the write path in storage.store starts its own with BEGIN IMMEDIATE.
    connection.exec_driver_sql("BEGIN")
