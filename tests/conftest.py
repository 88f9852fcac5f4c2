"""Shared fixtures: a throwaway PostgreSQL server per session, fresh migrated databases per test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.pgserver import PostgresServer, start_for_tests

TEMPLATE_DATABASE = "jalon_template"
"""The PostgreSQL database migrated once per session, copied for every test."""

_POSTGRES_FIXTURES = frozenset({"postgres_server", "postgres_template", "postgres_url"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark ``postgres`` every test that asks for a PostgreSQL fixture by name."""
    for item in items:
        if _POSTGRES_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.postgres)


def _upgrade(url: str) -> None:
    from storage.migrate import upgrade  # noqa: PLC0415 - lazy: the migration module is optional here

    upgrade(url)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL server (fsync off) for the whole session; skips if PostgreSQL is missing.

    Under ``CI=true`` a missing PostgreSQL fails the tests instead of skipping them.
    """
    server = start_for_tests(durable=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres_template(postgres_server: PostgresServer) -> str:
    """The name of a database migrated once per session, which `postgres_url` copies."""
    postgres_server.create_database(TEMPLATE_DATABASE)
    _upgrade(postgres_server.url(TEMPLATE_DATABASE))
    postgres_server.freeze_template(TEMPLATE_DATABASE)
    return TEMPLATE_DATABASE


@pytest.fixture
def postgres_url(postgres_server: PostgresServer, postgres_template: str) -> Iterator[str]:
    """The SQLAlchemy URL of a fresh migrated PostgreSQL database, dropped after the test."""
    name = f"jalon_test_{uuid.uuid4().hex[:16]}"
    postgres_server.create_database(name, template=postgres_template)
    try:
        yield postgres_server.url(name)
    finally:
        postgres_server.drop_database(name)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """The SQLAlchemy URL of a fresh migrated SQLite file in the test's temporary directory."""
    url = f"sqlite:///{tmp_path / 'jalon.db'}"
    _upgrade(url)
    return url


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
    ]
)
def database_url(request: pytest.FixtureRequest) -> str:
    """A fresh migrated database URL, once on SQLite and once on PostgreSQL."""
    fixture = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    url: str = request.getfixturevalue(fixture)
    return url
