"""Tests of the throwaway PostgreSQL server the test suite and the benchmarks start."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import psycopg
import pytest
import sqlalchemy

from tests import pgserver
from tests.pgserver import PostgresServer, PostgresUnavailable


def _missing(debian_root: Path = pgserver.DEBIAN_ROOT) -> Path:
    raise PostgresUnavailable("pretend nothing is installed")


def _server_or_skip(durable: bool) -> PostgresServer:
    try:
        return PostgresServer(durable=durable).start()
    except PostgresUnavailable as missing:
        pgserver.skip_or_fail(missing.reason)


# -- the server itself ---------------------------------------------------------------------


@pytest.mark.postgres
def test_server_starts_serves_the_socket_and_stop_removes_its_directory() -> None:
    server = _server_or_skip(durable=True)
    with server:
        base = server.base_dir
        assert server.start_seconds is not None
        assert server.start_seconds < 10
        assert server.socket_dir.is_relative_to(base)
        assert stat.S_ISSOCK((server.socket_dir / f".s.PGSQL.{server.port}").stat().st_mode)
        with psycopg.connect(server.dsn("postgres")) as connection:
            row = connection.execute(
                "SELECT inet_server_addr(), current_user, current_setting('fsync'),"
                " current_setting('synchronous_commit'), current_setting('max_connections'),"
                " current_setting('listen_addresses'), current_setting('server_version_num')"
            ).fetchone()
        assert row is not None
        address, user, fsync, synchronous_commit, max_connections, listen, version = row
        assert address is None  # a Unix socket, not TCP
        assert user == "postgres"
        assert (fsync, synchronous_commit) == ("on", "on")  # durable by default
        assert max_connections == "100"
        assert listen == ""
        assert int(version) >= 150000
    assert not base.exists()
    assert not server.running
    server.stop()  # stopping twice is harmless


@pytest.mark.postgres
def test_session_server_is_not_durable(postgres_server: PostgresServer) -> None:
    with psycopg.connect(postgres_server.dsn("postgres")) as connection:
        row = connection.execute(
            "SELECT current_setting('fsync'), current_setting('synchronous_commit'),"
            " current_setting('full_page_writes')"
        ).fetchone()
    assert row == ("off", "off", "off")


@pytest.mark.postgres
def test_databases_are_isolated(postgres_server: PostgresServer) -> None:
    postgres_server.create_database("isolation_a")
    postgres_server.create_database("isolation_b")
    try:
        with psycopg.connect(postgres_server.dsn("isolation_a"), autocommit=True) as a:
            a.execute("CREATE TABLE only_in_a (x int)")
            a.execute("INSERT INTO only_in_a VALUES (1)")
        with psycopg.connect(postgres_server.dsn("isolation_b")) as b:
            row = b.execute("SELECT to_regclass('only_in_a') IS NULL").fetchone()
        assert row == (True,)
    finally:
        postgres_server.drop_database("isolation_a")
        postgres_server.drop_database("isolation_b")
    with psycopg.connect(postgres_server.dsn("postgres")) as connection:
        names = connection.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE 'isolation_%'"
        ).fetchall()
    assert names == []


@pytest.mark.postgres
def test_copies_of_a_template_are_independent(postgres_server: PostgresServer) -> None:
    postgres_server.create_database("tpl_source")
    with psycopg.connect(postgres_server.dsn("tpl_source"), autocommit=True) as connection:
        connection.execute("CREATE TABLE t (x int)")
    postgres_server.freeze_template("tpl_source")
    try:
        postgres_server.create_database("tpl_copy_1", template="tpl_source")
        postgres_server.create_database("tpl_copy_2", template="tpl_source")
        with psycopg.connect(postgres_server.dsn("tpl_copy_1"), autocommit=True) as one:
            one.execute("INSERT INTO t VALUES (1)")
        with psycopg.connect(postgres_server.dsn("tpl_copy_2")) as two:
            assert two.execute("SELECT count(*) FROM t").fetchone() == (0,)
        with pytest.raises(psycopg.OperationalError):  # the frozen template refuses connections
            psycopg.connect(postgres_server.dsn("tpl_source")).close()
    finally:
        postgres_server.drop_database("tpl_copy_1")
        postgres_server.drop_database("tpl_copy_2")


@pytest.mark.postgres
def test_drop_database_closes_leftover_connections(postgres_server: PostgresServer) -> None:
    postgres_server.create_database("leftover")
    leftover = psycopg.connect(postgres_server.dsn("leftover"))
    try:
        postgres_server.drop_database("leftover")
    finally:
        leftover.close()
    postgres_server.drop_database("leftover")  # already gone: no error


@pytest.mark.postgres
def test_sqlalchemy_url_reaches_the_socket(postgres_server: PostgresServer) -> None:
    url = postgres_server.url("postgres")
    assert url.startswith("postgresql+psycopg://postgres@/postgres?host=/")
    engine = sqlalchemy.create_engine(url)
    try:
        with engine.connect() as connection:
            assert connection.execute(sqlalchemy.text("SELECT 1")).scalar_one() == 1
    finally:
        engine.dispose()


def test_dsn_names_socket_port_user_and_database() -> None:
    server = PostgresServer()
    server._base = Path("/tmp/jalon-pg-x")
    server._port = 54321
    assert server.dsn("jalon") == (
        "host=/tmp/jalon-pg-x/socket port=54321 user=postgres dbname=jalon"
    )
    assert server.url("jalon") == (
        "postgresql+psycopg://postgres@/jalon?host=/tmp/jalon-pg-x/socket&port=54321"
    )


# -- finding the binaries ------------------------------------------------------------------


def _fake_bindir(root: Path, version: str) -> Path:
    bindir = root / version / "bin"
    bindir.mkdir(parents=True)
    for name in ("initdb", "pg_ctl"):
        (bindir / name).write_text("#!/bin/sh\n")
        (bindir / name).chmod(0o755)
    return bindir


def test_finder_takes_the_highest_debian_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shutil, "which", lambda _name: None)  # no pg_config
    _fake_bindir(tmp_path, "9.6")
    newest = _fake_bindir(tmp_path, "15")
    _fake_bindir(tmp_path, "13")
    (tmp_path / "16" / "bin").mkdir(parents=True)  # a client-only install: no initdb
    assert pgserver.find_bindir(tmp_path) == newest


def test_finder_raises_when_nothing_is_installed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shutil, "which", lambda _name: None)
    with pytest.raises(PostgresUnavailable, match="no initdb"):
        pgserver.find_bindir(tmp_path)


@pytest.mark.skipif(not Path("/usr/lib/postgresql").is_dir(), reason="no Debian PostgreSQL")
def test_finder_finds_this_machines_binaries() -> None:
    assert os.access(pgserver.find_bindir() / "initdb", os.X_OK)


# -- skip, or fail under CI ----------------------------------------------------------------


def test_missing_binaries_skip_outside_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pgserver, "find_bindir", _missing)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="install Debian's postgresql-15"):
        pgserver.start_for_tests()


def test_missing_binaries_fail_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pgserver, "find_bindir", _missing)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="install Debian's postgresql-15"):
        pgserver.start_for_tests()


@pytest.mark.parametrize(
    ("environ", "required"),
    [({}, False), ({"CI": "true"}, True), ({"CI": "TRUE"}, True), ({"CI": "false"}, False)],
)
def test_postgres_required_only_when_ci_is_true(environ: dict[str, str], required: bool) -> None:
    assert pgserver.postgres_required(environ) is required
