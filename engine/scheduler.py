"""The scheduler process: APScheduler 3 wakes it at the next clock action and it sweeps.

The only importer of APScheduler. The database stays the only source of truth: APScheduler
keeps two jobs in memory (``MemoryJobStore``), never a clock.

- At start-up it **sweeps once**, which catches up every deadline passed while no scheduler
  ran (the sweep records how late each one fired).
- It then arms a one-shot **date job** at the earliest ``next_fire_at`` of the clocks table
  (no polling), and an **interval job** (every 60 s by default) as a safety net for clocks
  that another process created or moved meanwhile. Every sweep, whichever job ran it,
  re-arms the date job at the new earliest action.
- Exactly once is the sweep's business (``Engine.sweep_clocks``: ``SKIP LOCKED`` on
  PostgreSQL, the single writer on SQLite): any number of schedulers may run side by side,
  and a job that runs for nothing costs one query.
- "Now" is always the engine's clock (``JALON_NOW`` freezes it). The date job is placed on
  the wall clock at the same distance from the wall's now as the next action is from the
  engine's now: with the system clock, that is the next action itself.
- SIGINT and SIGTERM stop it cleanly: the sweep under way finishes (its transaction commits
  or rolls back whole), then the scheduler shuts down.

``run_once`` is the cron-like use: one sweep, then return.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple, Protocol

from apscheduler.events import EVENT_SCHEDULER_STARTED
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers import SchedulerNotRunningError
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from engine.clock import Clock, SystemClock
from engine.clock_commands import SWEEP_BATCH, SweepReport
from engine.log import get_logger

DEFAULT_SWEEP_INTERVAL = 60.0
"""Seconds between two safety sweeps."""

STOP_SIGNALS = frozenset({signal.SIGINT, signal.SIGTERM})
"""The signals that stop a scheduler run in the foreground."""

STARTUP, DUE, SAFETY, MANUAL, ONCE = "startup", "due", "safety", "manual", "once"
"""Why a sweep ran: start-up catch-up, the date job, the interval job, a direct call, cron."""

_SAFETY_JOB = "safety-sweep"
_DUE_JOB = "next-action"


class SweepingEngine(Protocol):
    """What the scheduler uses of the ``Engine``: its clock, the sweep and the next action."""

    @property
    def clock(self) -> Clock:
        """The engine's clock: the scheduler's "now"."""
        ...

    def sweep_clocks(self, now: datetime | None = None, batch: int = SWEEP_BATCH) -> SweepReport:
        """Fire every clock action due now, once each."""
        ...

    def next_clock_action(self) -> str | None:
        """The earliest ``next_fire_at`` (UTC text), or None."""
        ...


class Sweep(NamedTuple):
    """One sweep of a scheduler: why it ran, what it did, and when the scheduler wakes next."""

    reason: str
    """``startup``, ``due``, ``safety`` or ``manual``."""
    report: SweepReport | None
    """None when the sweep failed (``error``) or was skipped because the scheduler stops."""
    error: str | None
    next_action: str | None
    """The earliest next action left in the database (UTC text), or None."""
    wake_at: datetime | None
    """When the date job will run (wall clock, UTC), or None when none is armed."""


class ScheduledJob(NamedTuple):
    """One APScheduler job as the scheduler armed it (for inspection and tests)."""

    id: str
    trigger: str
    """``date`` (the next clock action) or ``interval`` (the safety sweep)."""
    coalesce: bool
    max_instances: int
    misfire_grace_time: float | None


SweepListener = Callable[[Sweep], None]
"""Called after each sweep (in the thread that ran it), e.g. to print it."""


def run_once(engine: SweepingEngine, batch: int = SWEEP_BATCH) -> SweepReport:
    """Sweep once at the engine's now (for cron) and log it; return what was fired."""
    report = engine.sweep_clocks(batch=batch)
    _log_sweep(ONCE, report, engine.next_clock_action(), None)
    return report


class ClockScheduler:
    """APScheduler 3 around the clock sweep: a catch-up sweep, then a date job and a safety job.

    ``background=True`` runs APScheduler's loop in a thread of its own (``start`` returns);
    otherwise ``start`` blocks in a ``BlockingScheduler`` until ``stop`` (``run`` adds the
    signal handling). ``wall`` is the clock APScheduler's jobs are placed on (the system
    clock; tests may inject another).
    """

    def __init__(
        self,
        engine: SweepingEngine,
        *,
        sweep_interval: float = DEFAULT_SWEEP_INTERVAL,
        batch: int = SWEEP_BATCH,
        background: bool = False,
        wall: Clock | None = None,
        on_sweep: SweepListener | None = None,
    ) -> None:
        if sweep_interval <= 0:
            raise ValueError("sweep_interval must be positive")
        if batch < 1:
            raise ValueError("batch must be at least 1")
        self._engine = engine
        self._interval = sweep_interval
        self._batch = batch
        self._wall = wall or SystemClock()
        self._on_sweep = on_sweep
        self._log = get_logger("scheduler")
        options: dict[str, Any] = {
            "jobstores": {"default": MemoryJobStore()},
            # One worker: the sweeps of this process never overlap (and share one connection).
            "executors": {"default": ThreadPoolExecutor(max_workers=1)},
            "job_defaults": {"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            "timezone": UTC,
        }
        self._scheduler = (BackgroundScheduler if background else BlockingScheduler)(**options)
        self._scheduler.add_listener(self._started_event, EVENT_SCHEDULER_STARTED)
        self._sweeping = threading.Lock()
        """Held for a whole sweep and the re-arming that follows it."""
        self._state = threading.Lock()
        self._stopping = threading.Event()
        self._started = threading.Event()
        self._stopped = threading.Event()
        self._launched = False
        self._due_job: str | None = None
        self._armed = 0

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> Sweep:
        """Sweep once (catching up), arm the jobs and start APScheduler.

        In background mode, return the start-up sweep at once; otherwise block until
        ``stop`` is called from another thread (or a signal, under ``run``).
        """
        first = self.sweep(STARTUP)
        self._scheduler.add_job(
            self._safety_sweep,
            IntervalTrigger(seconds=self._interval, timezone=UTC),
            id=_SAFETY_JOB,
            name="safety sweep",
            replace_existing=True,
        )
        with self._state:
            if self._stopping.is_set():
                return first
            self._launched = True
        self._log.info("scheduler.started", sweep_interval=self._interval, batch=self._batch)
        try:
            self._scheduler.start()
        finally:
            self._started.set()  # also when APScheduler failed to start: ``stop`` must not wait
        return first

    def run(self) -> Sweep:
        """Run in the foreground until SIGINT or SIGTERM, then stop cleanly.

        The two signals are blocked in every thread of the process and accepted by a thread
        of their own, which calls ``stop``: no code runs inside a signal handler, and a
        signal received during the start-up sweep stops the scheduler right after it.
        Outside the main thread, the signals are left alone (call ``stop`` to end the run).
        """
        watch = threading.current_thread() is threading.main_thread()
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS) if watch else None
        if watch:
            waiter = threading.Thread(target=self._wait_for_signal, name="signals", daemon=True)
            waiter.start()
        try:
            first = self.start()
            self._stopped.wait()  # at once for a BlockingScheduler: start returned after stop
            return first
        finally:
            self.stop()
            if previous is not None:
                # A signal sent again while stopping asks for what is done: drop it, so that
                # unblocking it does not end the process with a KeyboardInterrupt.
                while signal.sigtimedwait(STOP_SIGNALS, 0) is not None:
                    pass
                signal.pthread_sigmask(signal.SIG_SETMASK, previous)

    def stop(self) -> None:
        """Stop: let the sweep under way finish, arm nothing more, shut APScheduler down.

        Idempotent, and callable from any thread but the one running a sweep.
        """
        self._stopping.set()
        with self._sweeping:
            pass  # the sweep under way has ended; later ones see ``_stopping`` and return
        with self._state:
            launched = self._launched
        if launched:
            self._started.wait()
            try:
                self._scheduler.shutdown(wait=False)
            except SchedulerNotRunningError:
                pass  # stopped already
            else:
                self._log.info("scheduler.stopped")
        self._stopped.set()

    @property
    def running(self) -> bool:
        """True while APScheduler runs (started and not shut down)."""
        return bool(self._scheduler.running)

    @property
    def wake_at(self) -> datetime | None:
        """When the armed date job will run (wall clock, UTC), or None when none is armed."""
        job_id = self._due_job
        job = self._scheduler.get_job(job_id) if job_id is not None else None
        if job is None:
            return None
        run_date: datetime = job.trigger.run_date
        return run_date.astimezone(UTC)

    def jobs(self) -> list[ScheduledJob]:
        """The jobs APScheduler holds now (pending ones too, before ``start``)."""
        return [
            ScheduledJob(
                str(job.id),
                "date" if isinstance(job.trigger, DateTrigger) else "interval",
                bool(job.coalesce),
                int(job.max_instances),
                job.misfire_grace_time,
            )
            for job in self._scheduler.get_jobs()
        ]

    # ------------------------------------------------------------------ sweeping

    def sweep(self, reason: str = MANUAL) -> Sweep:
        """Sweep now, log it, re-arm the date job at the earliest next action; return it.

        A failed sweep is logged and reported (``error``) except at start-up, where it is
        raised: the safety job tries again later, and nothing is armed meanwhile (a failing
        database is not hammered).
        """
        with self._sweeping:
            if self._stopping.is_set() and reason != STARTUP:
                return Sweep(reason, None, None, None, None)
            try:
                report = self._engine.sweep_clocks(batch=self._batch)
                next_action, wake_at = self._arm()
            except Exception as error:
                if reason == STARTUP:
                    raise
                self._log.error(
                    "scheduler.sweep_failed",
                    reason=reason,
                    error=f"{type(error).__name__}: {error}",
                )
                outcome = Sweep(reason, None, f"{type(error).__name__}: {error}", None, None)
            else:
                _log_sweep(reason, report, next_action, wake_at)
                outcome = Sweep(reason, report, None, next_action, wake_at)
        if self._on_sweep is not None:
            self._on_sweep(outcome)
        return outcome

    def _arm(self) -> tuple[str | None, datetime | None]:
        """Replace the date job by one at the earliest next action (called under the lock).

        Each date job has an id of its own: APScheduler removes a date job once it has run,
        and counts a job's running instances by id, so re-arming the running job's id could
        be skipped (``max_instances``) or removed right after being added.
        """
        next_action = self._engine.next_clock_action()
        if self._due_job is not None:
            with contextlib.suppress(JobLookupError):  # it has run: APScheduler removed it
                self._scheduler.remove_job(self._due_job)
            self._due_job = None
        if next_action is None or self._stopping.is_set():
            return next_action, None
        wake_at = self._wake_time(next_action)
        self._armed += 1
        job = self._scheduler.add_job(
            self._due_sweep,
            DateTrigger(run_date=wake_at, timezone=UTC),
            id=f"{_DUE_JOB}-{self._armed}",
            name=f"next clock action {next_action}",
        )
        self._due_job = str(job.id)
        return next_action, wake_at

    def _wake_time(self, next_action: str) -> datetime:
        """The wall-clock instant of ``next_action`` (engine time): same distance from now."""
        due = datetime.fromisoformat(next_action.replace("Z", "+00:00"))
        ahead = max(due - self._engine.clock.now(), timedelta(0))
        return self._wall.now() + ahead

    def _due_sweep(self) -> None:
        self.sweep(DUE)

    def _safety_sweep(self) -> None:
        self.sweep(SAFETY)

    def _started_event(self, _event: object) -> None:
        self._started.set()

    def _wait_for_signal(self) -> None:
        received = signal.sigwait(STOP_SIGNALS)
        self._log.info("scheduler.signal", signal=signal.Signals(received).name)
        self.stop()


def _log_sweep(
    reason: str, report: SweepReport, next_action: str | None, wake_at: datetime | None
) -> None:
    late = report.lateness_seconds
    get_logger("scheduler").info(
        "scheduler.swept",
        reason=reason,
        at=report.at,
        fired=dict(report.fired),
        total=report.total,
        nonconformities=len(report.nonconformities),
        escalations=len(report.escalations),
        retried=report.retried,
        late=len(late),
        max_lateness_seconds=max(late) if late else None,
        next_action=next_action,
        wake_at=wake_at.isoformat() if wake_at is not None else None,
    )
