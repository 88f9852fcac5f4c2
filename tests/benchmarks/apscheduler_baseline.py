"""The APScheduler 3.x baseline of the deadline benchmarks: jobs all due at once in its SQL store.

`run_jobstore_burst` schedules ``jobs`` no-op jobs (`record_run`) in a `BackgroundScheduler`
whose only job store is APScheduler's own ``SQLAlchemyJobStore`` (an SQLite file or a PostgreSQL
database), every one with a ``DateTrigger`` at the same instant T a little in the future. The jobs
are added while the scheduler is paused and before T, so adding them is not timed. From T on it
measures, by APScheduler's events (``EVENT_JOB_EXECUTED``, ``EVENT_JOB_MISSED``,
``EVENT_JOB_ERROR``) and by each job's own ``perf_counter()``:

* how many jobs ran, were missed (dropped by the misfire check) or raised;
* the time from T until the last job ran, until the last job was settled (ran or dropped), and
  until the scheduler finished its pass over the store (its ``EVENT_JOB_SUBMITTED`` events are
  dispatched once the pass is over);
* each job's lateness, its run time minus T: median, p99 and max.

What APScheduler 3.11 does with such a burst (read in its source): the scheduler thread loads
every due job, then, holding the store lock, submits them to the executor one at a time, each
followed by its own ``DELETE`` transaction. The misfire check runs in the executor's worker when
it picks the job up: with the default ``misfire_grace_time`` (1 s, from ``job_defaults``) a job
submitted more than a second after T is dropped with a warning in the log and no run.
``misfire_grace_time=None`` never drops a job; both are measured, so that the baseline is fair.

``python -m tests.benchmarks.apscheduler_baseline --jobs 10000 [--postgres]`` prints the table
for SQLite (and PostgreSQL), with both misfire settings, at ``--jobs`` and at ``--lateness-jobs``
(1,000 by default). Jalon's deadline benchmark imports `run_jobstore_burst`, `measure_store` and
`print_results` to print the same figures next to its own.
"""

from __future__ import annotations

import argparse
import enum
import logging
import math
import shutil
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MISSED,
    EVENT_JOB_SUBMITTED,
)
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.date import DateTrigger
from sqlalchemy import create_engine, func, make_url, select, text

from tests.pgserver import PostgresServer, PostgresUnavailable

from .common import machine, print_table


class Default(enum.Enum):
    """The type of `DEFAULT`: leave an option to APScheduler's own default."""

    TOKEN = "APScheduler's default"


DEFAULT: Final = Default.TOKEN
"""Pass as ``misfire_grace_time`` to leave it unset: APScheduler 3.x then applies 1 s."""

DEFAULT_WORKERS: Final = 10
"""Threads of the executor: APScheduler's default ``ThreadPoolExecutor`` has 10."""

LATENESS_JOBS: Final = 1_000
"""The burst size whose lateness the issue asks for (``--lateness-jobs``)."""

PROBE_JOBS: Final = 200
"""Jobs added (far in the future, then removed) to estimate how long adding the burst takes."""

LEAD_FACTOR: Final = 1.5
"""T is set this many times the estimated adding time ahead (plus `LEAD_MARGIN_S`)."""

LEAD_MARGIN_S: Final = 1.0
"""Seconds added to the lead, so that the scheduler is resumed and waiting before T."""

MIN_MARGIN_S: Final = 0.5
"""Adding must end this long before T; otherwise the jobs are removed and added again, later."""

ADD_ATTEMPTS: Final = 3
"""Attempts at adding the burst before T (the lead doubles each time)."""


def default_timeout(jobs: int) -> float:
    """A generous wait for a burst of ``jobs`` to settle: 2 minutes + 50 ms per job."""
    return 120.0 + 0.05 * jobs


class _Recorder:
    """The ``perf_counter()`` of every run of `record_run` for one burst (thread-safe)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.runs: list[float] = []

    def add(self, instant: float) -> None:
        with self.lock:
            self.runs.append(instant)


_RECORDERS: dict[str, _Recorder] = {}
"""Burst key -> its recorder; a job finds its burst by the key given as its argument."""


def record_run(burst: str) -> None:
    """The no-op job of every burst: note when it ran (``perf_counter``) for burst ``burst``.

    APScheduler's SQL store keeps the job as a pickled reference to this module-level function,
    resolved again when the job is due. A key no running burst owns (a job left over in a
    database by an interrupted run) is ignored.
    """
    instant = time.perf_counter()
    recorder = _RECORDERS.get(burst)
    if recorder is not None:
        recorder.add(instant)


class _Tally:
    """The listener: counts outcomes, notes when things happened, says when all are settled."""

    def __init__(self, jobs: int) -> None:
        self.jobs = jobs
        self.lock = threading.Lock()
        self.executed = 0
        self.missed = 0
        self.errors = 0
        self.first_error = ""
        self.last_settled: float | None = None
        self.pass_ended: float | None = None
        self.settled = threading.Event()

    def __call__(self, event: Any) -> None:
        instant = time.perf_counter()
        with self.lock:
            if event.code == EVENT_JOB_SUBMITTED:
                # Dispatched in a row once the scheduler's pass over the store is over.
                if self.pass_ended is None:
                    self.pass_ended = instant
                return
            if event.code == EVENT_JOB_EXECUTED:
                self.executed += 1
            elif event.code == EVENT_JOB_MISSED:
                self.missed += 1
            else:
                self.errors += 1
                if not self.first_error:
                    self.first_error = repr(getattr(event, "exception", event))
            self.last_settled = instant
            if self.executed + self.missed + self.errors >= self.jobs:
                self.settled.set()


def _percentile(ordered: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of already sorted values (``fraction`` in (0, 1])."""
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def store_kind(url: str) -> str:
    """``sqlite`` or ``postgresql`` (the SQLAlchemy backend name of ``url``)."""
    return str(make_url(url).get_backend_name())


@dataclass(frozen=True, slots=True)
class BurstResult:
    """What one burst of ``jobs`` jobs, all due at the same instant T, came to."""

    store: str
    """The SQLAlchemy backend of the job store: ``sqlite`` or ``postgresql``."""
    jobs: int
    """Jobs scheduled at T."""
    misfire_grace_time: int | None
    """The grace the jobs had, in seconds (None: never dropped), as APScheduler applied it."""
    grace_is_default: bool
    """True when the grace was left to APScheduler's default."""
    executed: int
    """Jobs that ran (``EVENT_JOB_EXECUTED``)."""
    missed: int
    """Jobs dropped by the misfire check, never run (``EVENT_JOB_MISSED``)."""
    errors: int
    """Jobs that raised (``EVENT_JOB_ERROR``): none expected, the job does nothing."""
    seconds_to_last: float | None
    """From T until the last job ran (None when none ran)."""
    seconds_to_settle: float | None
    """From T until the last job was settled, run or dropped (None when nothing settled)."""
    seconds_to_pass_end: float | None
    """From T until the scheduler ended its pass: every job submitted and deleted from the store."""
    lateness_min_ms: float | None
    """Lateness of the first job to run: APScheduler loads every due job before submitting one."""
    lateness_median_ms: float | None
    """Median over the jobs that ran of their run time minus T, in milliseconds."""
    lateness_p99_ms: float | None
    """99th percentile (nearest rank) of the lateness, in milliseconds."""
    lateness_max_ms: float | None
    """Largest lateness, in milliseconds."""
    add_seconds: float
    """Time spent adding the jobs before T (not part of any figure above)."""
    left_in_store: int
    """Rows still in the job store's table after the burst (0 expected)."""
    timed_out: bool
    """True when the burst did not settle within the timeout: the figures are then incomplete."""
    first_error: str = ""
    """The first exception a job raised, if any."""

    @property
    def grace_label(self) -> str:
        """``1 s (default)``, ``None (never drop)``, ``30 s``..."""
        value = (
            "None (never drop)"
            if self.misfire_grace_time is None
            else (f"{self.misfire_grace_time} s")
        )
        return f"{value} (default)" if self.grace_is_default else value

    @property
    def ok(self) -> bool:
        """Settled in time, every job accounted for, no error, nothing left in the store."""
        return (
            not self.timed_out
            and self.errors == 0
            and self.executed + self.missed == self.jobs
            and self.left_in_store == 0
        )

    def describe(self) -> str:
        """One line: the outcome, the timings from T and the lateness."""
        line = (
            f"{self.store}, {self.jobs} jobs, misfire_grace_time {self.grace_label}: "
            f"{self.executed} ran, {self.missed} dropped ({self.missed / self.jobs:.0%}), "
            f"{self.errors} errors; first run {_millis(self.lateness_min_ms)} after T, last "
            f"{_seconds(self.seconds_to_last)}, "
            f"all settled {_seconds(self.seconds_to_settle)}, pass over the store ended "
            f"{_seconds(self.seconds_to_pass_end)}; lateness median "
            f"{_millis(self.lateness_median_ms)}, p99 {_millis(self.lateness_p99_ms)}, "
            f"max {_millis(self.lateness_max_ms)}"
        )
        if self.timed_out:
            line += " — FAILED: timed out before every job was settled"
        if self.left_in_store:
            line += f" — {self.left_in_store} rows left in the store"
        if self.first_error:
            line += f" — first error: {self.first_error}"
        return line

    def row(self) -> list[str]:
        """The result as a row under `RESULT_HEADERS`."""
        return [
            self.store,
            f"{self.jobs}",
            self.grace_label,
            f"{self.executed}",
            f"{self.missed} ({self.missed / self.jobs:.0%})",
            f"{self.errors}",
            _seconds(self.seconds_to_last),
            _seconds(self.seconds_to_settle),
            _seconds(self.seconds_to_pass_end),
            _millis(self.lateness_min_ms),
            _millis(self.lateness_median_ms),
            _millis(self.lateness_p99_ms),
            _millis(self.lateness_max_ms),
            f"{self.add_seconds:.1f} s",
            "yes" if self.ok else "NO",
        ]


RESULT_HEADERS: Final = [
    "store",
    "jobs",
    "misfire_grace_time",
    "ran",
    "dropped",
    "errors",
    "T → last run",
    "T → all settled",
    "T → pass end",
    "first run",
    "lateness median",
    "lateness p99",
    "lateness max",
    "adding (untimed)",
    "ok",
]
"""The columns of `print_results`."""


def _seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f} s"


def _millis(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f} ms".replace(",", "\u202f")


@contextmanager
def _quiet_apscheduler() -> Iterator[None]:
    """Raise APScheduler's loggers to ERROR for the burst, then restore their level.

    Unconfigured, Python's last-resort handler would print one warning per dropped job
    (thousands of lines) and slow the executor's threads while they drop jobs.
    """
    logger = logging.getLogger("apscheduler")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _add_burst(
    scheduler: Any, key: str, jobs: int, due: datetime, options: dict[str, Any]
) -> tuple[Any, float]:
    """Add ``jobs`` jobs due at ``due``; return the first job and the seconds it took."""
    trigger = DateTrigger(run_date=due)
    started = time.perf_counter()
    first = scheduler.add_job(record_run, trigger, args=(key,), **options)
    for _ in range(jobs - 1):
        scheduler.add_job(record_run, trigger, args=(key,), **options)
    return first, time.perf_counter() - started


def _rows_left(store: Any) -> int:
    with store.engine.connect() as connection:
        count = connection.execute(select(func.count()).select_from(store.jobs_t)).scalar_one()
    store.engine.dispose()
    return int(count)


def run_jobstore_burst(
    url: str,
    jobs: int,
    *,
    misfire_grace_time: int | Default | None = DEFAULT,
    executor_workers: int = DEFAULT_WORKERS,
    timeout_s: float | None = None,
    tablename: str = "apscheduler_jobs",
) -> BurstResult:
    """Schedule ``jobs`` no-op jobs at one instant T in APScheduler's SQL store; measure from T.

    ``url`` is a SQLAlchemy URL (an SQLite file or a PostgreSQL database); the table
    ``tablename`` is created if missing and emptied first. ``misfire_grace_time`` is given to
    every job unless it is `DEFAULT`; ``executor_workers`` sizes the thread pool. The burst is
    reported as timed out (`BurstResult.timed_out`) when it has not settled ``timeout_s`` after
    T (default: `default_timeout`).
    """
    if jobs < 1:
        raise ValueError("a burst has at least one job")
    timeout = default_timeout(jobs) if timeout_s is None else timeout_s
    options: dict[str, Any] = (
        {} if misfire_grace_time is DEFAULT else {"misfire_grace_time": misfire_grace_time}
    )
    key = uuid.uuid4().hex
    recorder = _Recorder()
    _RECORDERS[key] = recorder
    tally = _Tally(jobs)
    store = SQLAlchemyJobStore(url=url, tablename=tablename)
    scheduler = BackgroundScheduler(
        jobstores={"default": store},
        executors={"default": ThreadPoolExecutor(max_workers=executor_workers)},
        timezone=UTC,
    )
    scheduler.add_listener(
        tally, EVENT_JOB_EXECUTED | EVENT_JOB_MISSED | EVENT_JOB_ERROR | EVENT_JOB_SUBMITTED
    )
    with _quiet_apscheduler():
        scheduler.start(paused=True)  # jobs added while paused go to the store, no wake-up
        try:
            scheduler.remove_all_jobs()
            probe = min(jobs, PROBE_JOBS)
            _first, probe_seconds = _add_burst(
                scheduler, key, probe, datetime.now(UTC) + timedelta(days=1), options
            )
            scheduler.remove_all_jobs()
            lead = LEAD_MARGIN_S + LEAD_FACTOR * probe_seconds / probe * jobs
            for _attempt in range(ADD_ATTEMPTS):
                due_perf = time.perf_counter() + lead
                due = datetime.now(UTC) + timedelta(seconds=lead)
                first, add_seconds = _add_burst(scheduler, key, jobs, due, options)
                if time.perf_counter() <= due_perf - MIN_MARGIN_S:
                    break
                scheduler.remove_all_jobs()
                lead *= 2
            else:
                raise RuntimeError(f"could not add {jobs} jobs before T in {ADD_ATTEMPTS} tries")
            grace: int | None = first.misfire_grace_time
            scheduler.resume()
            settled = tally.settled.wait(max(0.0, due_perf - time.perf_counter()) + timeout)
        finally:
            scheduler.shutdown(wait=True)  # returns once the pass over the store is over
            _RECORDERS.pop(key, None)
    left = _rows_left(store)
    with recorder.lock:
        lateness = sorted(1000 * (instant - due_perf) for instant in recorder.runs)
    with tally.lock:
        return BurstResult(
            store=store_kind(url),
            jobs=jobs,
            misfire_grace_time=grace,
            grace_is_default=misfire_grace_time is DEFAULT,
            executed=tally.executed,
            missed=tally.missed,
            errors=tally.errors,
            seconds_to_last=lateness[-1] / 1000 if lateness else None,
            seconds_to_settle=None if tally.last_settled is None else tally.last_settled - due_perf,
            seconds_to_pass_end=None if tally.pass_ended is None else tally.pass_ended - due_perf,
            lateness_min_ms=lateness[0] if lateness else None,
            lateness_median_ms=_percentile(lateness, 0.5) if lateness else None,
            lateness_p99_ms=_percentile(lateness, 0.99) if lateness else None,
            lateness_max_ms=lateness[-1] if lateness else None,
            add_seconds=add_seconds,
            left_in_store=left,
            timed_out=not settled,
            first_error=tally.first_error,
        )


def measure_store(
    url: str, jobs: int, *, executor_workers: int = DEFAULT_WORKERS
) -> list[BurstResult]:
    """Two bursts of ``jobs`` in the store at ``url``: default misfire grace, then never drop."""
    results = []
    for grace in (DEFAULT, None):
        result = run_jobstore_burst(
            url, jobs, misfire_grace_time=grace, executor_workers=executor_workers
        )
        print(f"    {result.describe()}", flush=True)
        results.append(result)
    return results


def print_results(title: str, results: Sequence[BurstResult]) -> None:
    """Print the bursts as a table (`RESULT_HEADERS`)."""
    print_table(title, RESULT_HEADERS, [result.row() for result in results])


def store_settings(url: str) -> str:
    """The durability settings of the store's database, as its connections see them."""
    engine = create_engine(url)
    try:
        sqlite = store_kind(url) == "sqlite"
        names = ("journal_mode", "synchronous") if sqlite else ("fsync", "synchronous_commit")
        verb = "PRAGMA" if sqlite else "SHOW"
        with engine.connect() as connection:
            values = [connection.execute(text(f"{verb} {name}")).scalar() for name in names]
    finally:
        engine.dispose()
    return ", ".join(f"{n}={v}" for n, v in zip(names, values, strict=True))


def parse_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line (see ``--help``)."""
    parser = argparse.ArgumentParser(
        prog="python -m tests.benchmarks.apscheduler_baseline",
        description="APScheduler 3.x SQLAlchemyJobStore: a burst of jobs all due at one instant.",
    )
    parser.add_argument("--jobs", type=int, help="jobs in the main burst (default 10000)")
    parser.add_argument(
        "--lateness-jobs",
        type=int,
        help=f"also a burst of this many for the lateness (default {LATENESS_JOBS}; 0: skip)",
    )
    parser.add_argument("--postgres", action="store_true", help="also on a PostgreSQL server")
    parser.add_argument("--workers", type=int, default=DEFAULT_WORKERS, help="executor threads")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 500 and 100 jobs")
    parser.add_argument(
        "--workdir", type=Path, help="where SQLite files go (kept); default: a temporary directory"
    )
    return parser.parse_args(argv)


def _sizes(arguments: argparse.Namespace) -> list[int]:
    jobs = arguments.jobs or (500 if arguments.quick else 10_000)
    lateness = arguments.lateness_jobs
    if lateness is None:
        lateness = 100 if arguments.quick else LATENESS_JOBS
    return [jobs] + ([lateness] if lateness and lateness != jobs else [])


def _run_sqlite(workdir: Path, sizes: Sequence[int], workers: int) -> list[BurstResult]:
    results: list[BurstResult] = []
    settings = store_settings(f"sqlite:///{workdir / 'settings.db'}")
    print(f"  SQLite: {settings}", flush=True)
    for number, jobs in enumerate(sizes):
        # a fresh file per size: both misfire settings then meet the same file history
        results += measure_store(
            f"sqlite:///{workdir / f'jobs-{number}.db'}", jobs, executor_workers=workers
        )
    return results


def _run_postgres(sizes: Sequence[int], workers: int) -> list[BurstResult]:
    results: list[BurstResult] = []
    with PostgresServer(durable=True) as server:
        for number, jobs in enumerate(sizes):
            name = f"apscheduler_{number}"
            server.create_database(name)
            if number == 0:
                print(f"  PostgreSQL: {store_settings(server.url(name))}", flush=True)
            results += measure_store(server.url(name), jobs, executor_workers=workers)
    return results


def main(argv: Sequence[str] | None = None) -> int:
    """Measure SQLite (and PostgreSQL with ``--postgres``); status 2 if a burst was not ok."""
    arguments = parse_arguments(argv)
    sizes = _sizes(arguments)
    temporary = arguments.workdir is None
    workdir: Path = Path(tempfile.mkdtemp(prefix="jalon-aps-")) if temporary else arguments.workdir
    workdir.mkdir(parents=True, exist_ok=True)
    print("APScheduler 3.x SQLAlchemyJobStore baseline" + " (--quick)" * arguments.quick)
    print_table("Machine", ["", ""], [[k, v] for k, v in machine(workdir).items()])
    print(f"bursts of {', '.join(map(str, sizes))} jobs, {arguments.workers} executor threads\n")
    try:
        results = _run_sqlite(workdir, sizes, arguments.workers)
        if arguments.postgres:
            try:
                results += _run_postgres(sizes, arguments.workers)
            except PostgresUnavailable as missing:
                print(f"  PostgreSQL skipped: unavailable ({missing.reason})", flush=True)
    finally:
        if temporary:
            shutil.rmtree(workdir, ignore_errors=True)
    print_results(
        "APScheduler 3.x SQLAlchemyJobStore: jobs all due at T (times from T; lateness = run - T)",
        results,
    )
    failed = [result.describe() for result in results if not result.ok]
    for line in failed:
        print(f"not ok: {line}")
    return 2 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
