"""Migrations: the schema they build is exactly the SQLModel tables', on both backends."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlmodel import SQLModel

import storage.tables  # noqa: F401  (registers the tables)
from storage.database import Database
from storage.errors import DatabaseNotReady
from storage.migrate import HEAD_REVISION, current_revision, ensure_ready, head_revision


def test_head_constant_matches_the_migration_scripts() -> None:
    """Commands compare databases with HEAD_REVISION: it must name the latest script."""
    assert head_revision() == HEAD_REVISION


def test_migrated_schema_matches_the_tables(database_url: str) -> None:
    """Autogenerate finds nothing to change: migrations and SQLModel tables agree."""
    database = Database(database_url)
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, SQLModel.metadata)
    assert differences == []
    assert current_revision(database) == HEAD_REVISION


def test_an_empty_database_is_created_on_first_use(tmp_path: Path) -> None:
    """ensure_ready migrates an empty database to the latest revision."""
    database = Database(str(tmp_path / "new.db"))
    assert current_revision(database) is None
    ensure_ready(database)
    assert current_revision(database) == HEAD_REVISION


def test_an_old_revision_is_refused_with_the_command_to_run(sqlite_url: str) -> None:
    """A database behind the latest revision is not upgraded silently."""
    database = Database(sqlite_url)
    with database.engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0000'"))
    with pytest.raises(DatabaseNotReady, match="jalon db upgrade"):
        ensure_ready(database)


def test_a_foreign_database_is_refused(tmp_path: Path) -> None:
    """A database holding someone else's tables is never migrated."""
    database = Database(str(tmp_path / "other.db"))
    with database.engine.begin() as connection:
        connection.execute(text("CREATE TABLE factures (id INTEGER)"))
    with pytest.raises(DatabaseNotReady, match="--db"):
        ensure_ready(database)
