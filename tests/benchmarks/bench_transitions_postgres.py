"""Durable transitions per second on PostgreSQL, 1 and 4 worker processes: ours against raw psycopg.

A throwaway server (``pgserver.PostgresServer(durable=True)``: ``fsync`` and
``synchronous_commit`` on) holds two databases migrated by ``storage.migrate``, each with the
same cases opened through the engine (untimed). Each worker is a separate process (spawned)
with its own connection and its own disjoint share of the cases; timed, per commit:

* ours: ``Engine.fire`` (read the case, control, decide, hash, UPDATE guarded by version and
  head, INSERT the audit entry, COMMIT), logging at WARNING;
* raw: psycopg, one UPDATE of the case row and one INSERT of a ~300-byte audit row, COMMIT.

Workers stay up for the whole comparison; for each slice they wait on a barrier, fire their
share, and report their start and end: the slice's wall time runs from the first start to the
last end. Ours and raw take turns slice by slice.
"""

from __future__ import annotations

import multiprocessing
import os
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.context import SpawnContext, SpawnProcess
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

import psycopg

from engine.log import configure_logging
from storage.migrate import upgrade
from tests.pgserver import PostgresServer

from .common import Comparison, Sample, Sizes, interleave, print_comparisons, print_table
from .cycle import (
    RAW_INSERT_PSYCOPG,
    RAW_UPDATE_PSYCOPG,
    CaseHandle,
    RawCycle,
    RoundRobin,
    handles,
    make_engine,
    open_cases,
    write_definition,
)

NAME = "transitions_postgres"
TARGET = 0.70
REPLY_TIMEOUT_S = 900
OURS_DB = "bench_ours"
RAW_DB = "bench_raw"


@dataclass(frozen=True, slots=True)
class Job:
    """What one worker process runs: ours (a URL, references) or raw (a DSN, case handles)."""

    kind: str
    target: str
    folder: Path
    references: tuple[str, ...]
    case_handles: tuple[CaseHandle, ...]


class _RawWorker:
    def __init__(self, dsn: str, case_handles: Sequence[CaseHandle]) -> None:
        self.connection = psycopg.connect(dsn)
        self.cycle = RawCycle(case_handles)

    def fire(self, count: int) -> int:
        with self.connection.cursor() as cursor:
            for _ in range(count):
                update, insert = self.cycle.step()
                cursor.execute(RAW_UPDATE_PSYCOPG, update)
                if cursor.rowcount != 1:
                    raise AssertionError("raw UPDATE matched no row")
                cursor.execute(RAW_INSERT_PSYCOPG, insert)
                self.connection.commit()
        return count


def _worker(
    job: Job, commands: Queue[int | None], replies: Queue[tuple[Any, ...]], barrier: Barrier
) -> None:
    """A worker process: set up, warm up, then fire ``count`` for each command until None."""
    closers: list[Callable[[], object]] = []
    try:
        configure_logging("json", "WARNING")
        fire: Any
        if job.kind == "ours":
            engine = make_engine(job.target, job.folder)
            closers.append(engine.close)
            firing = RoundRobin(engine, job.references)

            def fire(count: int) -> int:
                return firing.fire(count).transitions

            fire(len(job.references))  # warm-up: compiled workflow, prepared statements
        else:
            raw = _RawWorker(job.target, job.case_handles)
            closers.append(raw.connection.close)
            fire = raw.fire
            fire(len(job.case_handles))
        replies.put(("ready", os.getpid()))
        while (count := commands.get()) is not None:
            barrier.wait()
            cpu = time.process_time()
            start = time.perf_counter()  # CLOCK_MONOTONIC: comparable between processes
            done = fire(count)
            end = time.perf_counter()
            replies.put(("done", start, end, done, time.process_time() - cpu))
    except BaseException:
        replies.put(("error", traceback.format_exc()))
        barrier.abort()
    finally:
        for close in closers:
            close()


def _cpu_jiffies() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    with open("/proc/stat", encoding="ascii") as stat:
        fields = [int(value) for value in stat.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    total = sum(fields[:8])
    return total - idle, total


class Pool:
    """``workers`` processes of one kind, each with its share of the cases; a slice per call."""

    def __init__(self, context: SpawnContext, jobs: Sequence[Job], per_worker: int) -> None:
        self.per_worker = per_worker
        self.barrier = context.Barrier(len(jobs), timeout=REPLY_TIMEOUT_S)
        self.replies: Queue[tuple[Any, ...]] = context.Queue()
        self.commands: list[Queue[int | None]] = []
        self.processes: list[SpawnProcess] = []
        self.busy: list[float] = []
        for job in jobs:
            commands: Queue[int | None] = context.Queue()
            process = context.Process(
                target=_worker, args=(job, commands, self.replies, self.barrier), daemon=True
            )
            process.start()
            self.commands.append(commands)
            self.processes.append(process)
        for _ in jobs:
            self._reply("ready")

    def _reply(self, expected: str) -> tuple[Any, ...]:
        reply = self.replies.get(timeout=REPLY_TIMEOUT_S)
        if reply[0] == "error":
            self.close()
            raise RuntimeError(f"benchmark worker failed:\n{reply[1]}")
        assert reply[0] == expected, reply
        return reply

    def __call__(self) -> Sample:
        before = _cpu_jiffies()
        for commands in self.commands:
            commands.put(self.per_worker)
        replies = [self._reply("done") for _ in self.commands]
        after = _cpu_jiffies()
        self.busy.append((after[0] - before[0]) / max(after[1] - before[1], 1))
        start = min(reply[1] for reply in replies)
        end = max(reply[2] for reply in replies)
        return Sample(sum(r[3] for r in replies), end - start, sum(r[4] for r in replies))

    def close(self) -> None:
        """Stop the workers."""
        for commands in self.commands:
            commands.put(None)
        for process in self.processes:
            process.join(timeout=60)
            if process.is_alive():
                process.terminate()


def _prepare(server: PostgresServer, name: str, folder: Path, cases: int) -> list[str]:
    server.create_database(name)
    upgrade(server.url(name))
    engine = make_engine(server.url(name), folder)
    try:
        return open_cases(engine, cases)
    finally:
        engine.close()


def _settings(server: PostgresServer) -> str:
    names = ("server_version", "fsync", "synchronous_commit", "wal_sync_method", "shared_buffers")
    with psycopg.connect(server.dsn("postgres")) as connection:
        values = [connection.execute(f"SHOW {name}").fetchone() for name in names]
    return ", ".join(f"{n}={v[0] if v else '?'}" for n, v in zip(names, values, strict=True))


def run(sizes: Sizes, workdir: Path) -> list[Comparison]:
    """Measure, print the tables, and return the comparisons."""
    configure_logging("json", "WARNING")
    folder = write_definition(workdir / "definitions")
    context = multiprocessing.get_context("spawn")
    comparisons: list[Comparison] = []
    busy_rows: list[list[str]] = []
    with PostgresServer(durable=True) as server:
        print(f"  server: {_settings(server)} (started in {server.start_seconds:.1f} s)")
        ours_refs = _prepare(server, OURS_DB, folder, sizes.cases)
        raw_refs = _prepare(server, RAW_DB, folder, sizes.cases)
        for workers in sizes.pg_workers:
            per_worker = max(1, sizes.slice // workers)
            slices = max(1, sizes.pg_transitions // (per_worker * workers))
            print(
                f"  {workers} worker process(es), {sizes.cases // workers} cases each; "
                f"{slices} interleaved slices of {per_worker * workers} transitions "
                f"({slices * per_worker * workers} per variant).",
                flush=True,
            )
            reader = make_engine(server.url(RAW_DB), folder)
            raw_handles = handles(reader, raw_refs)
            reader.close()
            ours_jobs = [
                Job("ours", server.url(OURS_DB), folder, tuple(ours_refs[i::workers]), ())
                for i in range(workers)
            ]
            raw_jobs = [
                Job("raw", server.dsn(RAW_DB), folder, (), tuple(raw_handles[i::workers]))
                for i in range(workers)
            ]
            raw = Pool(context, raw_jobs, per_worker)
            ours = Pool(context, ours_jobs, per_worker)
            try:
                print("    columns: raw psycopg | Engine.fire", flush=True)
                series = interleave(
                    slices, {f"raw psycopg, {workers}w": raw, f"Engine.fire, {workers}w": ours}
                )
            finally:
                raw.close()
                ours.close()
            ours_series = series[f"Engine.fire, {workers}w"]
            raw_series = series[f"raw psycopg, {workers}w"]
            ours_series.name = f"Engine.fire, log WARNING, {workers} worker(s)"
            raw_series.name = f"raw psycopg, {workers} worker(s)"
            comparisons.append(
                Comparison(
                    NAME, ours_series.name, "durable transitions/s", ours_series, raw_series, TARGET
                )
            )
            for name, pool, one in (
                (raw_series.name, raw, raw_series),
                (ours_series.name, ours, ours_series),
            ):
                busy_rows.append(
                    [name, f"{one.cpu_ms:.3f}", f"{100 * sum(pool.busy) / len(pool.busy):.0f}%"]
                )
        print_comparisons("PostgreSQL, durable transitions", comparisons)
        print_table(
            "PostgreSQL, client CPU per commit and machine CPU use (2 cores = 100%)",
            ["variant", "client CPU ms per commit", "machine CPU busy"],
            busy_rows,
        )
        with psycopg.connect(server.dsn(OURS_DB)) as connection:
            row = connection.execute(
                "SELECT count(*), avg(length(body)) FROM audit_entries"
                " WHERE body::jsonb ->> 'kind' = 'case.transition'"
            ).fetchone()
        assert row is not None
        print(f"  ours: {row[0]} transition entries, body {float(row[1]):.0f} bytes on average")
        reader = make_engine(server.url(OURS_DB), folder)
        report = reader.verify()
        reader.close()
        if not report.intact:
            raise AssertionError(f"trail not intact: {report.findings[:3]}")
        print(f"  ours: {report.entries} entries verified intact after the run", flush=True)
    return comparisons
