"""``jalon audit verify`` throughput: ``verify_trail`` against a bare read-and-hash loop.

A trail of valid chains is generated (``make_trail``: 20,000 cases x 50 entries by default, one
checkpoint), then, in interleaved full passes:

* ours: ``storage.verify.verify_trail(Store(Database(url)))`` — what ``jalon audit verify``
  runs: sequence, links, hashes, checkpoint attestations, checkpoints, case heads; the report
  must say intact, with every entry, chain and checkpoint counted;
* baseline: the driver alone reads the same columns (``ENTRY_COLUMNS``: chain_id, seq, body,
  prev_hash, hash) in the same order (chain_id, seq) and compares ``sha256(prev_hash + body)``
  with the ``hash`` column — the least any verifier must do.

``--profile`` adds a cProfile of one pass and a stage-by-stage breakdown of where the time per
entry goes.
"""

from __future__ import annotations

import cProfile
import hashlib
import io
import pstats
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import select

from storage.database import Database
from storage.statements import ENTRY_COLUMNS, compile_for
from storage.statements import entries as entries_table
from storage.store import Store
from storage.verify import BATCH, verify_trail
from tests.pgserver import PostgresServer

from .common import (
    Comparison,
    Sample,
    Sizes,
    Stopwatch,
    interleave,
    print_comparisons,
    print_table,
)
from .make_trail import build_trail

TARGET = 0.80
BASELINE_SQL = f"SELECT {', '.join(ENTRY_COLUMNS)} FROM audit_entries ORDER BY chain_id, seq"
"""The rows ``verify_trail`` reads: the same columns (``ENTRY_COLUMNS``), in the same order."""
_PREV, _BODY, _HASH = (ENTRY_COLUMNS.index(name) for name in ("prev_hash", "body", "hash"))


class Ours:
    """``verify_trail`` over the whole trail; the report is checked after every pass."""

    def __init__(self, url: str, entries: int, chains: int) -> None:
        self.url = url
        self.entries = entries
        self.chains = chains

    def __call__(self) -> Sample:
        database = Database(self.url)
        store = Store(database)
        try:
            with Stopwatch() as watch:
                report = verify_trail(store)
        finally:
            store.close()
            database.dispose()
        if not report.intact or (report.entries, report.chains, report.checkpoints) != (
            self.entries,
            self.chains,
            1,
        ):
            raise AssertionError(
                f"unexpected report: intact={report.intact} entries={report.entries} "
                f"chains={report.chains} checkpoints={report.checkpoints} {report.findings[:3]}"
            )
        return watch.sample(report.entries)


def _hash_loop(rows: Iterator[Any]) -> tuple[int, int]:
    """Count the rows and those whose ``sha256(prev_hash + body)`` differs from ``hash``."""
    count = 0
    bad = 0
    sha256 = hashlib.sha256
    for row in rows:
        count += 1
        if sha256((row[_PREV] + row[_BODY]).encode()).hexdigest() != row[_HASH]:
            bad += 1
    return count, bad


class RawSqlite:
    """Plain ``sqlite3``: read the rows ordered by chain and seq, hash each one, compare."""

    def __init__(self, path: Path, entries: int) -> None:
        self.path = path
        self.entries = entries

    def __call__(self) -> Sample:
        connection = sqlite3.connect(self.path)
        try:
            with Stopwatch() as watch:
                count, bad = _hash_loop(iter(connection.execute(BASELINE_SQL)))
        finally:
            connection.close()
        if (count, bad) != (self.entries, 0):
            raise AssertionError(f"baseline read {count} rows, {bad} bad")
        return watch.sample(count)


class RawPsycopg:
    """Plain psycopg: the same rows through a server-side cursor, hashed and compared."""

    def __init__(self, dsn: str, entries: int) -> None:
        self.dsn = dsn
        self.entries = entries

    def __call__(self) -> Sample:
        with (
            psycopg.connect(self.dsn) as connection,
            Stopwatch() as watch,
            connection.cursor(name="baseline") as cursor,
        ):
            cursor.itersize = 5_000
            cursor.execute(BASELINE_SQL)
            count, bad = _hash_loop(iter(cursor))
        if (count, bad) != (self.entries, 0):
            raise AssertionError(f"baseline read {count} rows, {bad} bad")
        return watch.sample(count)


Row = tuple[Any, ...]


def _stage(rows: Callable[[], Iterator[Row]], work: Callable[[Row], Any], repeat: int) -> float:
    """Microseconds per row of ``work`` over every row: the best of ``repeat`` full passes."""
    best = float("inf")
    for _ in range(repeat):
        with Stopwatch() as watch:
            count = 0
            for row in rows():
                work(row)
                count += 1
        best = min(best, 1e6 * watch.seconds / count)
    return best


def breakdown(url: str, baseline: Callable[[], Sample], repeat: int = 3) -> None:
    """Time verification stage by stage (best of ``repeat`` passes each); profile one pass.

    Each stage redoes the previous ones plus one step, over every row, so that the difference
    between two lines is what that step costs per entry.
    """
    database = Database(url)
    store = Store(database)

    sql = compile_for(
        select(*(entries_table.c[name] for name in ENTRY_COLUMNS)).order_by(
            entries_table.c.chain_id, entries_table.c.seq
        ),
        database.dialect_name,
    )

    def rows() -> Iterator[Row]:
        """The rows as verify_trail reads them: one snapshot, streamed in batches."""
        with store.snapshot() as tx:
            yield from tx.stream(sql, {}, BATCH)

    sha256 = hashlib.sha256

    def row_hash(row: Row) -> Any:
        """What verify's fast path hashes: the row tuple, unpacked, no ``Entry`` built."""
        _chain_id, _seq, body, prev_hash, entry_hash = row
        return sha256((prev_hash + body).encode("utf-8")).hexdigest() == entry_hash

    def whole() -> Iterator[Row]:
        verify_trail(store)
        return iter(((),))

    base = min(1e6 / baseline().rate for _ in range(repeat))
    table = [["baseline: raw driver read + sha256 (for reference)", f"{base:.2f}", ""]]
    previous = 0.0
    stages: list[tuple[str, Callable[[], Iterator[Row]], Callable[[Row], Any]]] = [
        ("read the rows (Store.snapshot + Tx.stream, as verify)", rows, lambda _row: None),
        ("+ unpack the row, sha256(prev_hash + body) and compare", rows, row_hash),
    ]
    for label, source, work in stages:
        micros = _stage(source, work, repeat)
        table.append([label, f"{micros:.2f}", f"{micros - previous:+.2f}"])
        previous = micros
    count = sum(1 for _ in rows())
    micros = _stage(whole, lambda _row: None, repeat) / count
    table.append(
        [
            "verify_trail (+ seq and link checks, attestation lookups, chain states)",
            f"{micros:.2f}",
            f"{micros - previous:+.2f}",
        ]
    )
    print_table(
        f"verify: microseconds per entry, stage by stage (best of {repeat})",
        ["stage", "µs per entry", "step adds"],
        table,
    )
    profiler = cProfile.Profile()
    profiler.enable()
    verify_trail(store)
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(14)
    print("  cProfile of one verify_trail, by own time (profiling inflates Python calls):")
    print("\n".join("    " + line for line in out.getvalue().splitlines() if line.strip()))
    store.close()
    database.dispose()


def _compare(
    name: str, sizes: Sizes, ours: Ours, baseline: Callable[[], Sample], baseline_name: str
) -> list[Comparison]:
    print(f"    columns: {baseline_name} | verify_trail", flush=True)
    series = interleave(sizes.rounds, {baseline_name: baseline, "verify_trail": ours}, label="pass")
    comparison = Comparison(
        name, "verify_trail", "entries/s", series["verify_trail"], series[baseline_name], TARGET
    )
    print_comparisons(f"{name}: audit verification", [comparison])
    ours_cpu = 1000 * series["verify_trail"].cpu_ms
    base_cpu = 1000 * series[baseline_name].cpu_ms
    print(
        f"  CPU per entry (this process): verify_trail {ours_cpu:.2f} µs, baseline "
        f"{base_cpu:.2f} µs: CPU ratio {base_cpu / ours_cpu:.0%}",
        flush=True,
    )
    return [comparison]


def run_sqlite(sizes: Sizes, workdir: Path) -> list[Comparison]:
    """Generate the SQLite trail, then measure (and profile with ``--profile``)."""
    workdir.mkdir(parents=True, exist_ok=True)
    chains = sizes.verify_entries // sizes.chain_length
    path = workdir / "trail.db"
    stats = build_trail(f"sqlite:///{path}", chains, sizes.chain_length, batch_cases=1000)
    size_mb = path.stat().st_size / 1e6
    print(
        f"  trail: {stats.entries} entries in {stats.cases} chains + 1 checkpoint, {size_mb:.0f} MB"
        f", generated in {stats.seconds:.0f} s; {sizes.rounds} interleaved pass(es) each.",
        flush=True,
    )
    ours = Ours(f"sqlite:///{path}", stats.entries, chains)
    baseline = RawSqlite(path, stats.entries)
    comparisons = _compare("verify", sizes, ours, baseline, "raw sqlite3 read + sha256")
    if sizes.profile:
        breakdown(f"sqlite:///{path}", baseline)
    return comparisons


def run_postgres(sizes: Sizes, workdir: Path) -> list[Comparison]:
    """Generate the PostgreSQL trail on a throwaway server, then measure."""
    chains = sizes.pg_verify_entries // sizes.chain_length
    with PostgresServer(durable=True) as server:
        server.create_database("trail")
        url = server.url("trail")
        stats = build_trail(url, chains, sizes.chain_length, batch_cases=1000)
        with psycopg.connect(server.dsn("trail"), autocommit=True) as connection:
            connection.execute("VACUUM ANALYZE")
        print(
            f"  trail: {stats.entries} entries in {stats.cases} chains + 1 checkpoint, "
            f"generated in {stats.seconds:.0f} s; {sizes.rounds} interleaved pass(es) each.",
            flush=True,
        )
        ours = Ours(url, stats.entries, chains)
        baseline = RawPsycopg(server.dsn("trail"), stats.entries)
        comparisons = _compare(
            "verify_postgres", sizes, ours, baseline, "raw psycopg read + sha256"
        )
        if sizes.profile:
            breakdown(url, baseline)
    return comparisons
