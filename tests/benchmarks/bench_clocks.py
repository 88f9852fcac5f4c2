"""Deadlines (issue 4): N clocks due at one instant T, fired by the sweep, next to APScheduler.

Set-up, untimed. A small procedure (`DEFINITION`: one ``legal_maximum`` clock of 30 days, no
warning, no escalation, a major non-conformity when missed) and N cases opened through the
Engine with a frozen clock at `SETUP_AT`, each given its starting step (``demarrer``): every
clock is due at the same instant T (the end of 1 April 2026 in Paris). This is done once per
size into a template (an SQLite file, or a PostgreSQL template database after ``VACUUM
ANALYZE``); every measured burst runs on a byte-for-byte copy of it (``shutil.copyfile``, or
``CREATE DATABASE ... TEMPLATE``), so nothing is inserted behind the engine's back.

Timed, from T. The sweeping process gets a `BenchClock`: frozen at the set-up instant, then
*running* — real seconds (``perf_counter``) added to T from the moment ``due_perf`` where the
wall clock of the run stands at T, `LEAD_S` after the sweeper is ready. Clock due times are the
end of a Paris day, so T cannot be "a second from now" on the machine's own calendar; the
running clock shifts the calendar, not the flow of time. The sweeper is Jalon's own scheduler
(`run_scheduler`: ``engine.scheduler.ClockScheduler``, what ``jalon scheduler run`` runs): its
catch-up sweep at start finds nothing due, it arms its APScheduler date job at the earliest
``next_fire_at`` (T, placed on the wall clock at the same distance as on the engine's clock),
wakes then and calls ``Engine.sweep_clocks(batch=...)`` (whose ``now`` is the running clock's),
re-arming after each sweep until none is left. A clock counts as fired when the transaction
holding its ``clock.missed`` entry, its non-conformity (case, chain, index row) and its new
state **commits**: a `CommitLog` notes the ``perf_counter()`` of every commit of the sweeps
and how many clocks it held (`instrument` wraps the sweeping thread's ``Store.write`` and
``Engine._fire_due``, timing only). Lateness of a clock = its commit time - ``due_perf``;
"T → all fired" is the last commit. The lateness the engine itself writes into each fact
(``lateness_seconds``: sweep start - T on the running clock) is reported too, as the
scheduler's wake-up delay.

APScheduler, same run, same backend: `tests.benchmarks.apscheduler_baseline.run_jobstore_burst`
with N no-op jobs due together in its ``SQLAlchemyJobStore`` (the SQLite file next to ours, or a
database of the same PostgreSQL server), with its default ``misfire_grace_time`` (1 s: drops
most of a large burst) and with ``None`` (never drops: the fair baseline). Jalon's bursts and
APScheduler's alternate.

Checks after each of our bursts (untimed): ``clock.missed`` entries in the trail = N, one per
case (none lost, none twice); non-conformity index rows = non-conformity cases = N, each linked
to its source's ``clock.missed`` entry; no clock left due; ``Engine.verify()`` intact. A burst
that fails a check fails the benchmark.

Variants: the sweep's batch size (`ClockSizes.batches`; the default of the code,
``SWEEP_BATCH``, carries the target), and on PostgreSQL several sweeping processes at once
(`ClockSizes.pg_sweepers`; ``SKIP LOCKED`` shares the due clocks). ``--profile`` adds a
cProfile of one sweep of N clocks per backend.
"""

from __future__ import annotations

import cProfile
import io
import math
import multiprocessing
import os
import pstats
import shutil
import sqlite3
import statistics
import threading
import time
import traceback
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from multiprocessing.queues import Queue
from pathlib import Path
from types import TracebackType
from typing import Any, Final

import psycopg

from engine.actors import Actor
from engine.clock_commands import SWEEP_BATCH, SweepReport
from engine.log import configure_logging
from engine.nonconformity import NC_WORKFLOW
from engine.scheduler import ClockScheduler, Sweep
from engine.service import Engine
from storage.database import Database
from storage.migrate import upgrade
from storage.store import Tx
from tests.pgserver import PostgresServer
from workflows.catalogue import Catalogue

from .apscheduler_baseline import (
    DEFAULT,
    DEFAULT_WORKERS,
    BurstResult,
    Default,
    default_timeout,
    print_results,
    run_jobstore_burst,
    store_settings,
)
from .common import Comparison, Sample, Series, Sizes, print_table

NAME_SQLITE: Final = "clocks_sqlite"
NAME_POSTGRES: Final = "clocks_postgres"
TARGET: Final = 1.0
"""Ours over APScheduler: faster to fire all (rate), lower p99 lateness (inverse)."""

WORKFLOW_ID: Final = "echeance"
ORG: Final = "BANC"
AGENT: Final = Actor("agent.banc", frozenset({"agent"}))
SETUP_AT: Final = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
"""The frozen instant the cases are opened and their clocks started at."""

LEAD_S: Final = 1.0
"""T is this many seconds after every sweeper is ready (set-up and warm-up done)."""

REPLY_TIMEOUT_S: Final = 900
"""How long the parent waits for a sweeping process's answer."""

DEFINITION: Final = """\
id: echeance
version: 1
title: Échéance (banc d'essai des délais)
owner: Benchmarks
code: ECH
fields:
  objet: {type: text, label: Objet du marché}
states:
  ouvert: {label: Ouvert, initial: true}
  en_cours: {label: En cours}
  clos: {label: Clos, final: true}
transitions:
  - trigger: demarrer
    source: ouvert
    dest: en_cours
    label: Démarrer le délai
    roles: [agent]
  - trigger: clore
    source: en_cours
    dest: clos
    label: Clore
    roles: [agent]
clocks:
  delai:
    label: Délai légal (banc d'essai)
    kind: legal_maximum
    legal_basis: [CCP R2192-10]
    duration: 30d
    start: {triggers: [demarrer]}
    stop: {triggers: [clore]}
    on_missed:
      nc_severity: major
      notify: [agent]
"""
"""One legal maximum per case, no warning, no escalation: missed = ``clock.missed`` + major NC."""


@dataclass(frozen=True, slots=True)
class ClockSizes:
    """How many clocks, and which sweep variants (``--clocks``, ``--sweep-batches``...)."""

    clocks: int = 10_000
    """Clocks due together in the main burst (time until all are fired)."""
    lateness_clocks: int = 1_000
    """Clocks due together in the lateness burst (median and p99)."""
    batches: tuple[int, ...] = (50, SWEEP_BATCH, 1_000)
    """Batch sizes given to ``sweep_clocks``; ``SWEEP_BATCH`` (the code's default) carries the
    target."""
    pg_sweepers: tuple[int, ...] = (1, 2)
    """Sweeping processes at once on PostgreSQL (1 carries the target; SQLite always has 1)."""
    aps_workers: int = DEFAULT_WORKERS
    """Threads of APScheduler's executor (its default: 10)."""


QUICK_CLOCKS: Final = ClockSizes(clocks=400, lateness_clocks=100, batches=(50, SWEEP_BATCH))
"""A smoke run: every code path, figures meaningless."""


def write_definition(folder: Path) -> Path:
    """Write `DEFINITION` into ``folder`` (created) and return the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{WORKFLOW_ID}.yaml").write_text(DEFINITION, encoding="utf-8")
    return folder


class BenchClock:
    """The engine's clock: frozen at ``at`` until `run`, then running in real seconds."""

    def __init__(self, at: datetime) -> None:
        self._at = at
        self._anchor: float | None = None

    def now(self) -> datetime:
        """The frozen instant, or T plus the real seconds elapsed since ``due_perf``."""
        if self._anchor is None:
            return self._at
        return self._at + timedelta(seconds=time.perf_counter() - self._anchor)

    def run(self, due: datetime, due_perf: float) -> None:
        """From now on, read ``due`` when ``perf_counter()`` reads ``due_perf``, and run."""
        self._at = due
        self._anchor = due_perf


def make_engine(url: str, folder: Path, clock: BenchClock) -> Engine:
    """An engine on ``url`` with `DEFINITION`'s folder and ``clock``."""
    catalogue = Catalogue([folder])
    if catalogue.problems:
        raise RuntimeError(f"benchmark definition rejected: {catalogue.problems}")
    return Engine(Database(url), catalogue=catalogue, clock=clock)


@dataclass(slots=True)
class CommitLog:
    """When each transaction of the sweep committed, and how many clocks it fired."""

    commits: list[tuple[float, int]] = field(default_factory=list)
    pending: int = 0


class _TimedTransaction:
    """Wraps a ``Store.write()`` transaction: notes its commit time if it fired clocks."""

    __slots__ = ("_inner", "_log")

    def __init__(self, inner: Any, log: CommitLog) -> None:
        self._inner = inner
        self._log = log

    def __enter__(self) -> Tx:
        self._log.pending = 0
        transaction: Tx = self._inner.__enter__()
        return transaction

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        log = self._log
        try:
            self._inner.__exit__(kind, error, trace)
            if kind is None and log.pending:
                log.commits.append((time.perf_counter(), log.pending))
        finally:
            log.pending = 0


def instrument(engine: Engine, profiler: cProfile.Profile | None = None) -> CommitLog:
    """Time the commits of the engine's sweeps, in whichever thread they run.

    Wraps ``Engine.sweep_clocks`` (to wrap the ``Store.write`` of the sweeping thread, once
    per thread) and ``Engine._fire_due`` (to count the clocks of each transaction). Only
    counts and reads ``perf_counter()``: the engine's work is unchanged. The sweeps of one
    process never overlap (the scheduler's lock), so one log serves every thread. With
    ``profiler``, each sweep runs under it (cProfile records the thread that enables it: the
    sweeps run in APScheduler's executor thread).
    """
    log = CommitLog()
    wrapped: set[int] = set()
    fire_due = engine._fire_due
    sweep_clocks = engine.sweep_clocks

    def counted_fire_due(tx: Tx, row: Any, now: datetime, report: SweepReport) -> None:
        fire_due(tx, row, now, report)
        log.pending += 1

    def timed_sweep(now: datetime | None = None, batch: int = SWEEP_BATCH) -> SweepReport:
        store = engine.store  # this thread's
        if id(store) not in wrapped:
            wrapped.add(id(store))
            write = store.write
            setattr(store, "write", lambda: _TimedTransaction(write(), log))  # noqa: B010
        if profiler is None:
            return sweep_clocks(now, batch)
        profiler.enable()
        try:
            return sweep_clocks(now, batch)
        finally:
            profiler.disable()

    setattr(engine, "_fire_due", counted_fire_due)  # noqa: B010  (instance attributes,
    setattr(engine, "sweep_clocks", timed_sweep)  # noqa: B010  on purpose)
    return log


@dataclass(slots=True)
class SweepLog:
    """What one sweeping process did from T on (picklable, sent back by sweeping processes)."""

    commits: list[tuple[float, int]] = field(default_factory=list)
    """``(perf_counter at commit, clocks fired in that transaction)``."""
    recorded_lateness: list[float] = field(default_factory=list)
    """The lateness the engine wrote into each fact (sweep start - T, running clock), seconds."""
    sweeps: int = 0
    """Sweeps the scheduler ran from its start (the catch-up sweep before T included)."""
    empty_sweeps: int = 0
    """Of which fired nothing."""
    retried: int = 0
    fired: int = 0
    nonconformities: int = 0
    cpu_seconds: float = 0.0
    """CPU time of the whole sweeping process (every thread) from the scheduler's start."""
    error: str = ""


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def run_scheduler(
    engine: Engine,
    clock: BenchClock,
    batch: int,
    due_perf: float,
    timeout_s: float,
    profiler: cProfile.Profile | None = None,
) -> SweepLog:
    """Run Jalon's own scheduler (``engine.scheduler.ClockScheduler``) until nothing is due.

    ``clock`` is the engine's clock, running towards T (``due_perf``). The scheduler sweeps
    once at start (nothing due yet), arms its date job at the earliest next action — T — and
    APScheduler wakes it then; every sweep re-arms the date job, until a sweep leaves no next
    action. Its safety sweep keeps the default interval (60 s). Returns once a sweep finds
    nothing left (or failed), after stopping the scheduler. ``profiler`` profiles the sweeps.
    """
    log = SweepLog()
    commit_log = instrument(engine, profiler)
    finished = threading.Event()

    def on_sweep(sweep: Sweep) -> None:
        log.sweeps += 1
        if sweep.error is not None:
            log.error = sweep.error
            finished.set()
            return
        if sweep.report is not None:
            report = sweep.report
            log.retried += report.retried
            log.fired += report.total
            log.nonconformities += len(report.nonconformities)
            log.recorded_lateness.extend(report.lateness_seconds)
            log.empty_sweeps += report.total == 0
        if sweep.next_action is None:
            finished.set()

    scheduler = ClockScheduler(engine, batch=batch, background=True, on_sweep=on_sweep)
    cpu = time.process_time()
    scheduler.start()
    try:
        if not finished.wait(max(0.0, due_perf - time.perf_counter()) + timeout_s):
            raise TimeoutError(f"clocks still due {timeout_s:.0f} s after T")
    finally:
        scheduler.stop()
    log.cpu_seconds = time.process_time() - cpu
    log.commits = commit_log.commits
    if log.error:
        raise RuntimeError(f"a sweep failed: {log.error}")
    return log


def _warm_up(engine: Engine) -> None:
    """What a scheduler process has done before T: connected, registered, compiled, polled.

    (The thread APScheduler runs the due sweep in opens its own connection at T: that is
    measured.)
    """
    engine.compiled(WORKFLOW_ID, 1)
    engine.sweep_clocks()  # still frozen at the set-up instant: nothing due; registers the NC
    engine.next_clock_action()  # workflow and prepares the queue's statements


def open_clocks(url: str, folder: Path, count: int) -> str:
    """Open ``count`` cases through the engine and start their clocks; the common due time."""
    engine = make_engine(url, folder, BenchClock(SETUP_AT))
    try:
        for number in range(count):
            reference = engine.open_case(
                WORKFLOW_ID, org=ORG, actor=AGENT, values={"objet": f"Lot {number}"}
            ).reference
            engine.fire(reference, "demarrer", AGENT)
        with engine.store.read() as tx:
            row = tx.execute(
                "SELECT count(*), count(DISTINCT next_fire_at), min(next_fire_at)"
                " FROM case_clocks WHERE status = 'running'"
            ).fetchone()
    finally:
        engine.close()
    if (row[0], row[1]) != (count, 1):
        raise AssertionError(f"expected {count} running clocks due at one instant, got {row}")
    return str(row[2])


@dataclass(frozen=True, slots=True)
class Checks:
    """What the trail and the tables say after a burst."""

    missed_entries: int
    """``clock.missed`` entries in the trail."""
    missed_cases: int
    """Distinct cases with a ``clock.missed`` entry."""
    nc_rows: int
    """Non-conformity index rows of origin ``missed_deadline``."""
    nc_sources: int
    """Distinct source cases among them."""
    nc_linked: int
    """Index rows whose (source case, source seq) is a ``clock.missed`` entry."""
    nc_cases: int
    """Cases of the non-conformity workflow."""
    missed_clocks: int
    """Clocks in status ``missed`` with nothing left to do."""
    still_due: int
    """Clocks with a next action still set."""
    verified_entries: int
    intact: bool

    def problems(self, clocks: int) -> list[str]:
        """What differs from "every clock fired exactly once", in words (empty: all good)."""
        expected = {
            "clock.missed entries": self.missed_entries,
            "cases with a clock.missed entry": self.missed_cases,
            "non-conformity index rows": self.nc_rows,
            "distinct sources of non-conformities": self.nc_sources,
            "non-conformities linked to a clock.missed entry": self.nc_linked,
            "non-conformity cases": self.nc_cases,
            "clocks missed and settled": self.missed_clocks,
        }
        found = [f"{name}: {value} (expected {clocks})" for name, value in expected.items()]
        found = [
            line for line, value in zip(found, expected.values(), strict=True) if value != clocks
        ]
        if self.still_due:
            found.append(f"{self.still_due} clocks still due")
        if not self.intact:
            found.append("trail NOT intact")
        return found


def check(url: str, folder: Path) -> Checks:
    """Count what the burst wrote (entries, index rows, clocks) and verify the whole trail."""
    engine = make_engine(url, folder, BenchClock(SETUP_AT))
    try:
        postgres = engine.database.dialect_name == "postgresql"
        kind = "body::jsonb ->> 'kind'" if postgres else "json_extract(body, '$.kind')"
        with engine.store.read() as tx:
            missed = _one(
                tx,
                "SELECT count(*), count(DISTINCT chain_id) FROM audit_entries"
                f" WHERE {kind} = 'clock.missed'",
            )
            ncs = _one(
                tx,
                "SELECT count(*), count(DISTINCT source_case_id) FROM nonconformities"
                " WHERE origin = 'missed_deadline'",
            )
            linked = _one(
                tx,
                "SELECT count(*) FROM nonconformities n JOIN audit_entries e"
                " ON e.chain_id = n.source_case_id AND e.seq = n.source_seq"
                f" WHERE n.origin = 'missed_deadline' AND {kind.replace('body', 'e.body')}"
                " = 'clock.missed'",
            )
            nc_cases = _one(tx, f"SELECT count(*) FROM cases WHERE workflow_id = '{NC_WORKFLOW}'")
            clocks = _one(
                tx,
                "SELECT count(CASE WHEN status = 'missed' AND next_fire_at IS NULL THEN 1 END),"
                " count(next_fire_at) FROM case_clocks",
            )
        report = engine.verify()
    finally:
        engine.close()
    return Checks(
        missed_entries=missed[0],
        missed_cases=missed[1],
        nc_rows=ncs[0],
        nc_sources=ncs[1],
        nc_linked=linked[0],
        nc_cases=nc_cases[0],
        missed_clocks=clocks[0],
        still_due=clocks[1],
        verified_entries=report.entries,
        intact=report.intact,
    )


def _one(tx: Tx, statement: str) -> tuple[int, ...]:
    row = tx.execute(statement).fetchone()
    return tuple(int(value) for value in row)


def percentile(ordered: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of sorted values (the same rule as the APScheduler baseline)."""
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


@dataclass(frozen=True, slots=True)
class SweepResult:
    """One burst of ours: N clocks due at T, swept with ``batch`` by ``sweepers`` processes."""

    backend: str
    clocks: int
    batch: int
    sweepers: int
    seconds_to_last: float
    """From T until the last clock's transaction committed."""
    lateness_ms: tuple[float, float, float, float]
    """First, median, p99 and max of (commit time - T) over the clocks, milliseconds."""
    wake_ms: float
    """Median of the lateness the engine wrote (sweep start - T), milliseconds."""
    transactions: int
    sweeps: int
    retried: int
    fired: int
    """Clock actions the sweeps reported."""
    cpu_seconds: float
    """CPU time of the sweeping process(es) from T on (not the database server's)."""
    checks: Checks

    @property
    def lost(self) -> int:
        """Clocks with no ``clock.missed`` entry after the burst."""
        return self.clocks - self.checks.missed_cases

    @property
    def ok(self) -> bool:
        """Every clock fired exactly once with its non-conformity; the trail intact."""
        return not self.checks.problems(self.clocks) and self.fired == self.clocks

    @property
    def label(self) -> str:
        """``batch 200, 1 sweeper``."""
        plural = "s" if self.sweepers > 1 else ""
        return f"batch {self.batch}, {self.sweepers} sweeper{plural}"

    def row(self) -> list[str]:
        """The burst under `SWEEP_HEADERS`."""
        first, median, p99, largest = self.lateness_ms
        return [
            self.backend,
            f"{self.clocks}",
            self.label,
            f"{self.checks.missed_cases}",
            f"{self.lost}",
            f"{self.checks.missed_entries - self.checks.missed_cases}",
            f"{self.checks.nc_rows}",
            f"{self.seconds_to_last:.2f} s",
            f"{self.clocks / self.seconds_to_last:,.0f}".replace(",", "\u202f"),
            _ms(first),
            _ms(median),
            _ms(p99),
            _ms(largest),
            f"{self.wake_ms:.1f} ms",
            f"{self.transactions}",
            f"{1000 * self.cpu_seconds / self.clocks:.2f}",
            f"{self.checks.verified_entries} intact" if self.checks.intact else "NOT intact",
            "yes" if self.ok else "NO",
        ]


COMPARISON_HEADERS: Final = [
    "variant",
    "ours",
    "baseline",
    "baseline figure",
    "ratio",
    "ratio of totals",
    "target",
    "met",
]
"""The columns of `DeadlineComparison.row` (one burst a side: the two ratios agree)."""

SWEEP_HEADERS: Final = [
    "backend",
    "clocks",
    "sweep",
    "fired",
    "lost",
    "twice",
    "NC rows",
    "T → all fired",
    "clocks/s",
    "first",
    "lateness median",
    "lateness p99",
    "lateness max",
    "wake-up",
    "commits",
    "sweeper CPU ms/clock",
    "trail",
    "ok",
]


def _ms(value: float) -> str:
    return f"{value:,.0f} ms".replace(",", "\u202f")


def _result(
    backend: str,
    clocks: int,
    batch: int,
    logs: Sequence[SweepLog],
    due_perf: float,
    checks: Checks,
) -> SweepResult:
    commits = sorted(commit for log in logs for commit in log.commits)
    lateness = sorted(
        1000 * (instant - due_perf) for instant, count in commits for _ in range(count)
    )
    recorded = [value for log in logs for value in log.recorded_lateness]
    if not lateness:
        raise AssertionError("the sweep committed no clock")
    return SweepResult(
        backend=backend,
        clocks=clocks,
        batch=batch,
        sweepers=len(logs),
        seconds_to_last=commits[-1][0] - due_perf,
        lateness_ms=(
            lateness[0],
            percentile(lateness, 0.5),
            percentile(lateness, 0.99),
            lateness[-1],
        ),
        wake_ms=1000 * statistics.median(recorded) if recorded else float("nan"),
        transactions=len(commits),
        sweeps=sum(log.sweeps for log in logs),
        retried=sum(log.retried for log in logs),
        fired=sum(log.fired for log in logs),
        cpu_seconds=sum(log.cpu_seconds for log in logs),
        checks=checks,
    )


@dataclass(frozen=True, slots=True)
class SweepJob:
    """What one sweeping process runs."""

    url: str
    folder: Path
    due: datetime
    batch: int
    timeout_s: float


def _sweeper(
    job: SweepJob, starts: Queue[float], replies: Queue[tuple[Any, ...]]
) -> None:  # pragma: no cover - runs in a spawned process
    """A sweeping process: warm up, say ready, wait for ``due_perf``, run the scheduler loop."""
    engine: Engine | None = None
    try:
        configure_logging("json", "WARNING")
        clock = BenchClock(SETUP_AT)
        engine = make_engine(job.url, job.folder, clock)
        _warm_up(engine)
        replies.put(("ready", os.getpid()))
        due_perf = starts.get(timeout=REPLY_TIMEOUT_S)
        clock.run(job.due, due_perf)
        replies.put(("done", run_scheduler(engine, clock, job.batch, due_perf, job.timeout_s)))
    except BaseException:
        replies.put(("error", traceback.format_exc()))
    finally:
        if engine is not None:
            engine.close()


def sweep_burst(
    job: SweepJob, sweepers: int, *, profile: bool = False
) -> tuple[list[SweepLog], float, str]:
    """Sweep the copy at ``job.url`` from T with ``sweepers`` processes (1: this process).

    Returns the logs, ``due_perf`` and, with ``profile``, a cProfile report of the sweep.
    """
    if sweepers == 1:
        clock = BenchClock(SETUP_AT)
        engine = make_engine(job.url, job.folder, clock)
        try:
            _warm_up(engine)
            due_perf = time.perf_counter() + LEAD_S
            clock.run(job.due, due_perf)
            profiler = cProfile.Profile() if profile else None
            log = run_scheduler(engine, clock, job.batch, due_perf, job.timeout_s, profiler)
        finally:
            engine.close()
        return [log], due_perf, _profile_text(profiler) if profiler is not None else ""
    context = multiprocessing.get_context("spawn")
    replies: Queue[tuple[Any, ...]] = context.Queue()
    starts: list[Queue[float]] = [context.Queue() for _ in range(sweepers)]
    processes = [
        context.Process(target=_sweeper, args=(job, start, replies), daemon=True)
        for start in starts
    ]
    for process in processes:
        process.start()
    try:
        for _ in processes:
            _reply(replies, "ready")
        due_perf = time.perf_counter() + LEAD_S  # CLOCK_MONOTONIC: the same in every process
        for start in starts:
            start.put(due_perf)
        logs = [_reply(replies, "done")[1] for _ in processes]
    finally:
        for process in processes:
            process.join(timeout=60)
            if process.is_alive():
                process.terminate()
    return logs, due_perf, ""


def _reply(replies: Queue[tuple[Any, ...]], expected: str) -> tuple[Any, ...]:
    reply = replies.get(timeout=REPLY_TIMEOUT_S)
    if reply[0] == "error":
        raise RuntimeError(f"sweeping process failed:\n{reply[1]}")
    if reply[0] != expected:
        raise AssertionError(f"expected {expected!r} from a sweeping process, got {reply[0]!r}")
    return reply


def _profile_text(profiler: cProfile.Profile) -> str:
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    print("  by own time:", file=out)
    stats.sort_stats("tottime").print_stats(22)
    print("  by cumulative time:", file=out)
    stats.sort_stats("cumulative").print_stats(30)
    return "\n".join("    " + line for line in out.getvalue().splitlines() if line.strip())


class Backend:
    """Where the bursts run: templates of N started clocks, their copies, APScheduler's store."""

    name = ""

    def __init__(self, workdir: Path, folder: Path) -> None:
        self.workdir = workdir
        self.folder = folder
        self._copies = 0
        self.due: dict[int, datetime] = {}

    def template(self, clocks: int) -> None:
        """Open ``clocks`` cases through the engine into a template (once per size)."""
        raise NotImplementedError

    def copy(self, clocks: int) -> str:
        """A fresh copy of the template of ``clocks``: its URL."""
        raise NotImplementedError

    def aps_url(self, clocks: int) -> str:
        """APScheduler's store for the bursts of ``clocks`` jobs."""
        raise NotImplementedError

    def settings(self) -> str:
        """The durability settings our connections see."""
        raise NotImplementedError

    def _next_name(self, clocks: int) -> str:
        self._copies += 1
        return f"sweep_{clocks}_{self._copies}"


class SqliteBackend(Backend):
    """SQLite files in the work directory; copies are ``shutil.copyfile`` of a checkpointed file."""

    name = "sqlite"

    def _template_path(self, clocks: int) -> Path:
        return self.workdir / f"template-{clocks}.db"

    def template(self, clocks: int) -> None:
        """Open the cases into ``template-N.db``, then fold its WAL into the file."""
        path = self._template_path(clocks)
        path.unlink(missing_ok=True)
        url = f"sqlite:///{path}"
        upgrade(url)
        self.due[clocks] = _instant(open_clocks(url, self.folder, clocks))
        connection = sqlite3.connect(path)
        try:
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            connection.close()

    def copy(self, clocks: int) -> str:
        """A byte copy of the template (the WAL was checkpointed into it)."""
        path = self.workdir / f"{self._next_name(clocks)}.db"
        shutil.copyfile(self._template_path(clocks), path)
        return f"sqlite:///{path}"

    def aps_url(self, clocks: int) -> str:
        """An SQLite file of its own next to ours (APScheduler sets its own pragmas)."""
        return f"sqlite:///{self.workdir / f'apscheduler-{clocks}.db'}"

    def settings(self) -> str:
        """Jalon's SQLite pragmas, as its connections set them."""
        engine = make_engine(
            f"sqlite:///{self.workdir / 'settings.db'}", self.folder, BenchClock(SETUP_AT)
        )
        try:
            with engine.store.read() as tx:
                mode = tx.execute("PRAGMA journal_mode").fetchone()[0]
                sync = tx.execute("PRAGMA synchronous").fetchone()[0]
        finally:
            engine.close()
        return f"journal_mode={mode}, synchronous={sync}"


class PostgresBackend(Backend):
    """Databases of one durable server; copies are ``CREATE DATABASE ... TEMPLATE``."""

    name = "postgresql"

    def __init__(self, workdir: Path, folder: Path, server: PostgresServer) -> None:
        super().__init__(workdir, folder)
        self.server = server

    def template(self, clocks: int) -> None:
        """Open the cases into ``template_N``, ``VACUUM ANALYZE`` it, make it a template."""
        name = f"template_{clocks}"
        self.server.create_database(name)
        upgrade(self.server.url(name))
        self.due[clocks] = _instant(open_clocks(self.server.url(name), self.folder, clocks))
        with psycopg.connect(self.server.dsn(name), autocommit=True) as connection:
            connection.execute("VACUUM ANALYZE")  # what autovacuum would have done by then
        self.server.freeze_template(name)

    def copy(self, clocks: int) -> str:
        """A database created from the template."""
        name = self._next_name(clocks)
        self.server.create_database(name, template=f"template_{clocks}")
        with psycopg.connect(self.server.dsn(name), autocommit=True) as connection:
            connection.execute("CHECKPOINT")  # the copy's WAL flushed before the timed part
        return self.server.url(name)

    def aps_url(self, clocks: int) -> str:
        """A database of its own on the same server (created on first use)."""
        name = f"apscheduler_{clocks}"
        with psycopg.connect(self.server.dsn("postgres"), autocommit=True) as connection:
            exists = connection.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
            ).fetchone()
        if exists is None:
            self.server.create_database(name)
        return self.server.url(name)

    def settings(self) -> str:
        """The server's durability settings."""
        names = ("server_version", "fsync", "synchronous_commit", "wal_sync_method")
        with psycopg.connect(self.server.dsn("postgres")) as connection:
            values = [connection.execute(f"SHOW {name}").fetchone() for name in names]
        return ", ".join(f"{n}={v[0] if v else '?'}" for n, v in zip(names, values, strict=True))


@dataclass(frozen=True, slots=True)
class DeadlineComparison(Comparison):
    """A `Comparison` whose cells say seconds or milliseconds rather than a rate."""

    ours_text: str = ""
    baseline_text: str = ""

    def row(self) -> list[str]:
        """The comparison as a table row (one burst per side: no spread, no quartiles)."""
        return [
            self.variant,
            self.ours_text,
            self.baseline.name,
            self.baseline_text,
            f"{self.ratio:.0%}",
            f"{self.aggregate_ratio:.0%}",
            "—" if self.target is None else f"≥ {self.target:.0%}",
            self.verdict,
        ]


def _grace_name(result: BurstResult) -> str:
    return "APScheduler, grace " + ("1 s (default)" if result.grace_is_default else "None")


def _time_comparison(
    benchmark: str, ours: SweepResult, baseline: BurstResult, target: float | None
) -> DeadlineComparison:
    """T → all fired (ours) against T → last job run (never drop) or settled (default grace)."""
    if baseline.grace_is_default:
        seconds = baseline.seconds_to_settle or math.inf
        text = f"settled {seconds:.2f} s: {baseline.executed} ran, {baseline.missed} dropped"
    else:
        seconds = baseline.seconds_to_last or math.inf
        text = f"{seconds:.2f} s, {baseline.jobs - baseline.executed} lost"
    return DeadlineComparison(
        benchmark,
        f"{ours.clocks} due together: T → all fired, {ours.label}",
        "actions completed per second from T (ratio > 100 %: ours faster)",
        Series(
            f"Jalon sweep_clocks, {ours.label}",
            [Sample(ours.checks.missed_cases, ours.seconds_to_last)],
        ),
        Series(_grace_name(baseline), [Sample(max(baseline.executed, 1), seconds)]),
        target,
        ours_text=f"{ours.seconds_to_last:.2f} s, {ours.lost} lost",
        baseline_text=text,
    )


def _lateness_comparison(
    benchmark: str, ours: SweepResult, baseline: BurstResult, target: float | None
) -> DeadlineComparison:
    """p99 lateness, compared as its inverse (ratio = baseline p99 / ours)."""
    p99 = (baseline.lateness_p99_ms or math.inf) / 1000
    median = baseline.lateness_median_ms or math.inf
    dropped = f", {baseline.missed} dropped" if baseline.missed else ""
    return DeadlineComparison(
        benchmark,
        f"{ours.clocks} due together: lateness p99, {ours.label}",
        "1 / p99 lateness (ratio > 100 %: ours lower)",
        Series(f"Jalon sweep_clocks, {ours.label}", [Sample(1, ours.lateness_ms[2] / 1000)]),
        Series(_grace_name(baseline), [Sample(1, p99)]),
        target,
        ours_text=f"p99 {_ms(ours.lateness_ms[2])} (median {_ms(ours.lateness_ms[1])})",
        baseline_text=f"p99 {_ms(1000 * p99)} (median {_ms(median)}{dropped})",
    )


def _aps_burst(
    backend: Backend, clocks: int, grace: int | Default | None, workers: int
) -> BurstResult:
    result = run_jobstore_burst(
        backend.aps_url(clocks), clocks, misfire_grace_time=grace, executor_workers=workers
    )
    print(f"    APScheduler: {result.describe()}", flush=True)
    return result


def _our_burst(
    backend: Backend, clocks: int, batch: int, sweepers: int, *, profile: bool = False
) -> tuple[SweepResult, str]:
    url = backend.copy(clocks)
    job = SweepJob(url, backend.folder, backend.due[clocks], batch, default_timeout(clocks))
    logs, due_perf, profiled = sweep_burst(job, sweepers, profile=profile)
    result = _result(backend.name, clocks, batch, logs, due_perf, check(url, backend.folder))
    first, median, p99, _largest = result.lateness_ms
    print(
        f"    Jalon: {backend.name}, {clocks} clocks, {result.label}: "
        f"{result.checks.missed_cases} fired, {result.lost} lost, all fired "
        f"{result.seconds_to_last:.2f} s after T in {result.transactions} commits; lateness first "
        f"{_ms(first)}, median {_ms(median)}, p99 {_ms(p99)}; trail "
        f"{'intact' if result.checks.intact else 'NOT intact'}"
        + ("" if result.ok else f" — NOT OK: {'; '.join(result.checks.problems(clocks))}"),
        flush=True,
    )
    return result, profiled


@contextmanager
def _section(title: str) -> Iterator[None]:
    began = time.perf_counter()
    print(f"  {title}", flush=True)
    yield
    print(f"  ({title}: {time.perf_counter() - began:.0f} s)", flush=True)


def measure(
    benchmark: str, backend: Backend, sizes: Sizes, clock_sizes: ClockSizes, sweepers: Sequence[int]
) -> list[Comparison]:
    """Both bursts on ``backend``: ours (each variant) and APScheduler's, alternating."""
    variants = [(SWEEP_BATCH, 1)] + [
        (batch, count)
        for count in sweepers
        for batch in (*clock_sizes.batches, SWEEP_BATCH)
        if (batch, count) != (SWEEP_BATCH, 1) and (count == 1 or batch == SWEEP_BATCH)
    ]
    variants = list(dict.fromkeys(variants))
    print(f"  Jalon: {backend.settings()}; variants (batch, sweepers): {variants}", flush=True)
    print(f"  APScheduler store: {store_settings(backend.aps_url(clock_sizes.clocks))}", flush=True)
    comparisons: list[Comparison] = []
    ours: list[SweepResult] = []
    theirs: list[BurstResult] = []
    for clocks in dict.fromkeys((clock_sizes.clocks, clock_sizes.lateness_clocks)):
        with _section(f"{clocks} clocks: template through the engine (untimed)"):
            backend.template(clocks)
        mine: list[SweepResult] = []
        aps: list[BurstResult] = []
        with _section(f"{clocks} clocks due together: ours and APScheduler's, alternating"):
            for kind, what in _schedule(variants):
                if kind == "ours":
                    batch, count = what
                    mine.append(_our_burst(backend, clocks, batch, count)[0])
                else:
                    aps.append(_aps_burst(backend, clocks, what, clock_sizes.aps_workers))
        ours += mine
        theirs += aps
        comparisons += _compare(benchmark, clocks, clock_sizes, mine, aps)
    print_table(
        f"{benchmark}: Jalon's sweep, N clocks due at T (times from T; lateness = commit - T)",
        SWEEP_HEADERS,
        [result.row() for result in ours],
    )
    print_results(
        f"{benchmark}: APScheduler 3.x SQLAlchemyJobStore, same run (lateness = run - T)", theirs
    )
    print_table(
        f"{benchmark}: deadlines, ours next to APScheduler's (same run, same backend)",
        COMPARISON_HEADERS,
        [comparison.row() for comparison in comparisons],
    )
    if sizes.profile:
        with _section(f"cProfile of one sweep of {clock_sizes.clocks} clocks, batch {SWEEP_BATCH}"):
            result, profiled = _our_burst(backend, clock_sizes.clocks, SWEEP_BATCH, 1, profile=True)
            print(
                f"  profiled: {result.seconds_to_last:.2f} s (cProfile inflates Python calls)\n"
                + profiled,
                flush=True,
            )
    failed = [f"{r.backend} {r.clocks} {r.label}" for r in ours if not r.ok]
    if failed:
        raise AssertionError(f"clocks lost, fired twice or trail broken: {', '.join(failed)}")
    return comparisons


def _schedule(variants: Sequence[tuple[int, int]]) -> list[tuple[str, Any]]:
    """Our variants with APScheduler's two bursts (default grace, then None) between them."""
    graces: list[int | Default | None] = [DEFAULT, None]
    order: list[tuple[str, Any]] = []
    for variant in variants:
        order.append(("ours", variant))
        if graces:
            order.append(("aps", graces.pop(0)))
    order += [("aps", grace) for grace in graces]
    return order


def _compare(
    benchmark: str,
    clocks: int,
    clock_sizes: ClockSizes,
    ours: Sequence[SweepResult],
    theirs: Sequence[BurstResult],
) -> list[Comparison]:
    """The target lines (default batch, one sweeper) and the best other variant, for info."""
    default = next(r for r in ours if (r.batch, r.sweepers) == (SWEEP_BATCH, 1))
    others = [r for r in ours if r is not default]
    comparisons: list[Comparison] = []
    never = next((r for r in theirs if not r.grace_is_default), None)
    grace = next((r for r in theirs if r.grace_is_default), None)
    if clocks == clock_sizes.clocks:
        best = min(others, key=lambda r: r.seconds_to_last, default=None)
        for baseline, target in ((never, TARGET), (grace, None)):
            if baseline is not None:
                comparisons.append(_time_comparison(benchmark, default, baseline, target))
        if best is not None and never is not None:
            comparisons.append(_time_comparison(benchmark, best, never, None))
    if clocks == clock_sizes.lateness_clocks:
        best = min(others, key=lambda r: r.lateness_ms[2], default=None)
        for baseline in (never, grace):
            if baseline is not None:
                comparisons.append(_lateness_comparison(benchmark, default, baseline, TARGET))
        if best is not None and never is not None:
            comparisons.append(_lateness_comparison(benchmark, best, never, None))
    return comparisons


def run_sqlite(
    sizes: Sizes, workdir: Path, clock_sizes: ClockSizes | None = None
) -> list[Comparison]:
    """The deadline benchmark on SQLite files (one sweeper: SQLite has a single writer)."""
    configure_logging("json", "WARNING")
    clock_sizes = clock_sizes or ClockSizes()
    workdir.mkdir(parents=True, exist_ok=True)
    backend = SqliteBackend(workdir, write_definition(workdir / "definitions"))
    return measure(NAME_SQLITE, backend, sizes, clock_sizes, (1,))


def run_postgres(
    sizes: Sizes, workdir: Path, clock_sizes: ClockSizes | None = None
) -> list[Comparison]:
    """The deadline benchmark on a throwaway durable PostgreSQL server."""
    configure_logging("json", "WARNING")
    clock_sizes = clock_sizes or ClockSizes()
    workdir.mkdir(parents=True, exist_ok=True)
    folder = write_definition(workdir / "definitions")
    with PostgresServer(durable=True) as server:
        print(f"  server started in {server.start_seconds:.1f} s", flush=True)
        backend = PostgresBackend(workdir, folder, server)
        return measure(NAME_POSTGRES, backend, sizes, clock_sizes, clock_sizes.pg_sweepers)
