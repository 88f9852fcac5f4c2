"""Schema migrations: run Alembic programmatically, and tell whether a database is ready.

``jalon db upgrade`` calls ``upgrade``. Commands call ``ensure_ready``: an empty database is
created at the latest revision on first use (the embedded default just works); a database at
an older revision is refused with the instruction to run ``jalon db upgrade``, because
upgrading a shared PostgreSQL server is an operator's decision.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import inspect, text

from storage.database import Database, describe_url
from storage.errors import DatabaseNotReady, StorageError, as_storage_error

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
HEAD_REVISION = "0004"
"""The latest revision; a test checks it against the migration scripts. Commands compare the
database with it without importing Alembic, which costs a third of a second at every start."""


def _config(database: Database) -> Config:
    from alembic.config import Config  # noqa: PLC0415 - Alembic only when migrating

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", database.url.replace("%", "%%"))
    return config


def head_revision() -> str:
    """The latest revision of the migration scripts (read with Alembic)."""
    from alembic.script import ScriptDirectory  # noqa: PLC0415

    script = ScriptDirectory(str(MIGRATIONS_DIR))
    head = script.get_current_head()
    if head is None:
        raise RuntimeError("no migration found")
    return head


def current_revision(database: Database) -> str | None:
    """The revision the database is at, or None when it has never been migrated."""
    with database.engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        revision = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
        return str(revision) if revision is not None else None


def upgrade(url_or_database: str | Database, revision: str = "head") -> None:
    """Migrate the database to ``revision`` (default: the latest)."""
    database = (
        url_or_database if isinstance(url_or_database, Database) else Database(url_or_database)
    )
    from alembic import command  # noqa: PLC0415

    config = _config(database)
    with database.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def ensure_ready(database: Database) -> None:
    """Create an empty database's schema, or refuse a database behind the latest revision.

    Raises:
        DatabaseUnavailable: the database cannot be opened or reached (one French sentence).
        DatabaseNotReady: the database is at an older revision, or is not Jalon's.
    """
    try:
        _ensure_ready(database)
    except StorageError:
        raise
    except Exception as error:
        translated = as_storage_error(error, f"la base {describe_url(database.url)}")
        if translated is None:
            raise
        raise translated from error


def _ensure_ready(database: Database) -> None:
    current = current_revision(database)
    head = HEAD_REVISION
    if current == head:
        return
    if current is None:
        with database.engine.connect() as connection:
            tables = inspect(connection).get_table_names()
        if not tables:
            upgrade(database)
            return
        raise DatabaseNotReady(
            f"La base {describe_url(database.url)} contient des tables qui ne sont pas celles "
            "de Jalon : indiquez une autre base avec --db."
        )
    raise DatabaseNotReady(
        f"La base {describe_url(database.url)} est à la révision {current}, Jalon attend "
        f"{head} : lancez « jalon db upgrade »."
    )
