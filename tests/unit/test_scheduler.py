"""The scheduler's wake-ups: catch-up at start, a date job at the next action, re-armed, stopped.

A fake engine stands in for the database (a list of due instants); APScheduler runs for real
in a ``BackgroundScheduler``. Nothing sleeps to synchronise: the tests wait on conditions the
scheduler's sweeps set, with a timeout that only bounds a failure.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from engine.clock import Clock, FrozenClock, SystemClock
from engine.clock_commands import SWEEP_BATCH, SweepReport
from engine.scheduler import (
    DUE,
    MANUAL,
    SAFETY,
    STARTUP,
    ClockScheduler,
    Sweep,
    run_once,
)
from storage.canonical import utc_text

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
WALL = datetime(2030, 1, 1, 0, 0, tzinfo=UTC)
"""A wall clock far ahead of the real one: a job placed on it never runs during a test."""
HOUR = timedelta(hours=1)
WAIT = 10.0
"""Seconds a test waits for the scheduler before failing (never reached when it works)."""


class FakeEngine:
    """The scheduler's view of the Engine: due instants, swept once each at the clock's now."""

    def __init__(self, clock: Clock, due: list[datetime]) -> None:
        self.clock = clock
        self._due = sorted(due)
        self._lock = threading.Lock()
        self.sweeps = 0
        self.fail_next = False
        self.block: threading.Event | None = None
        self.entered = threading.Event()

    def sweep_clocks(self, now: datetime | None = None, batch: int = SWEEP_BATCH) -> SweepReport:
        self.entered.set()
        if self.block is not None:
            assert self.block.wait(WAIT)
        at = now or self.clock.now()
        with self._lock:
            self.sweeps += 1
            if self.fail_next:
                self.fail_next = False
                raise RuntimeError("base indisponible")
            fired = [due for due in self._due if due <= at]
            self._due = [due for due in self._due if due > at]
        report = SweepReport(utc_text(at))
        if fired:
            report.fired["clock.missed"] = len(fired)
            report.lateness_seconds.extend((at - due).total_seconds() for due in fired)
        return report

    def next_clock_action(self) -> str | None:
        with self._lock:
            return utc_text(self._due[0]) if self._due else None


class Recorder:
    """Collects the sweeps a scheduler reports and lets a test wait for one."""

    def __init__(self) -> None:
        self.sweeps: list[Sweep] = []
        self._changed = threading.Condition()

    def __call__(self, sweep: Sweep) -> None:
        with self._changed:
            self.sweeps.append(sweep)
            self._changed.notify_all()

    def wait_for(self, reason: str, count: int) -> list[Sweep]:
        def enough() -> bool:
            return len(self.of(reason)) >= count

        with self._changed:
            assert self._changed.wait_for(enough, timeout=WAIT), self.sweeps
            return self.of(reason)

    def of(self, reason: str) -> list[Sweep]:
        return [sweep for sweep in self.sweeps if sweep.reason == reason]


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def frozen() -> FrozenClock:
    return FrozenClock(T0)


@pytest.fixture
def fake(frozen: FrozenClock) -> FakeEngine:
    # One deadline passed during the downtime, then two ahead of the engine's now.
    return FakeEngine(frozen, [T0 - timedelta(days=2), T0 + 3 * HOUR, T0 + timedelta(days=1)])


@pytest.fixture
def scheduler(fake: FakeEngine, recorder: Recorder) -> Iterator[ClockScheduler]:
    scheduler = ClockScheduler(
        fake,
        sweep_interval=3600,
        background=True,
        wall=FrozenClock(WALL),
        on_sweep=recorder,
    )
    yield scheduler
    scheduler.stop()


def armed_at(scheduler: ClockScheduler) -> datetime | None:
    return scheduler.wake_at


def date_jobs(scheduler: ClockScheduler) -> list[str]:
    return [job.id for job in scheduler.jobs() if job.trigger == "date"]


def test_start_catches_up_then_arms_the_date_job_at_the_earliest_action(
    scheduler: ClockScheduler, fake: FakeEngine
) -> None:
    first = scheduler.start()
    assert scheduler.running
    assert first.reason == STARTUP
    assert first.report is not None
    assert first.report.fired == {"clock.missed": 1}
    assert first.report.lateness_seconds == [2 * 86_400.0]  # late by the downtime
    assert first.next_action == "2026-03-02T12:00:00.000000Z"
    # The engine's clock is frozen on 2 March: the job goes 3 h ahead of the wall's now.
    assert first.wake_at == WALL + 3 * HOUR
    assert scheduler.wake_at == WALL + 3 * HOUR
    jobs = {job.trigger: job for job in scheduler.jobs()}
    assert set(jobs) == {"date", "interval"}
    for job in jobs.values():
        assert (job.coalesce, job.max_instances, job.misfire_grace_time) == (True, 1, None)
    assert fake.sweeps == 1


def test_a_sweep_re_arms_the_date_job_at_the_next_action(
    scheduler: ClockScheduler, frozen: FrozenClock, fake: FakeEngine
) -> None:
    scheduler.start()
    armed = date_jobs(scheduler)
    frozen.set(T0 + 3 * HOUR)
    swept = scheduler.sweep()
    assert swept.reason == MANUAL
    assert swept.report is not None
    assert swept.report.fired == {"clock.missed": 1}
    assert swept.wake_at == WALL + 21 * HOUR  # the next action is 21 h after the new now
    assert scheduler.wake_at == WALL + 21 * HOUR
    assert len(date_jobs(scheduler)) == 1
    assert date_jobs(scheduler) != armed  # the previous date job was replaced
    frozen.set(T0 + timedelta(days=2))
    last = scheduler.sweep()
    assert last.report is not None
    assert last.report.fired == {"clock.missed": 1}
    assert last.next_action is None
    assert last.wake_at is None
    assert armed_at(scheduler) is None
    assert date_jobs(scheduler) == []
    assert [job.trigger for job in scheduler.jobs()] == ["interval"]


def test_the_date_job_wakes_the_scheduler_at_the_next_action_and_re_arms(
    recorder: Recorder,
) -> None:
    """On the system clock, the date job itself runs the sweeps, one per action, no polling."""
    now = SystemClock().now()
    fake = FakeEngine(SystemClock(), [now + timedelta(seconds=0.2), now + timedelta(seconds=0.5)])
    scheduler = ClockScheduler(fake, sweep_interval=3600, background=True, on_sweep=recorder)
    try:
        first = scheduler.start()
        assert first.report is not None
        assert first.report.total == 0
        assert first.wake_at is not None
        assert first.wake_at >= now + timedelta(seconds=0.2)
        woken = recorder.wait_for(DUE, 2)
    finally:
        scheduler.stop()
    fired = sum(sweep.report.total for sweep in woken if sweep.report is not None)
    assert fired == 2
    assert woken[-1].next_action is None
    assert woken[-1].wake_at is None
    assert recorder.of(SAFETY) == []  # the safety sweep never had to run
    assert fake.sweeps == 3  # start-up, then one per action: nothing in between


def test_a_failed_sweep_is_reported_and_arms_nothing_until_the_next_one(
    scheduler: ClockScheduler, frozen: FrozenClock, fake: FakeEngine
) -> None:
    scheduler.start()
    fake.fail_next = True
    frozen.set(T0 + 3 * HOUR)
    failed = scheduler.sweep()
    assert failed.report is None
    assert failed.error == "RuntimeError: base indisponible"
    again = scheduler.sweep(SAFETY)
    assert again.report is not None
    assert again.report.fired == {"clock.missed": 1}
    assert again.wake_at == WALL + 21 * HOUR


def test_a_failed_start_up_sweep_is_raised(fake: FakeEngine) -> None:
    fake.fail_next = True
    scheduler = ClockScheduler(fake, background=True)
    with pytest.raises(RuntimeError, match="indisponible"):
        scheduler.start()
    assert not scheduler.running
    scheduler.stop()  # nothing to stop: returns at once


def test_stop_lets_the_sweep_under_way_finish_and_arms_nothing_more(
    fake: FakeEngine, frozen: FrozenClock, recorder: Recorder
) -> None:
    scheduler = ClockScheduler(
        fake, sweep_interval=3600, background=True, wall=SystemClock(), on_sweep=recorder
    )
    scheduler.start()
    release = threading.Event()
    fake.block = release
    fake.entered.clear()
    frozen.set(T0 + 3 * HOUR)
    sweeper = threading.Thread(target=scheduler.sweep, args=(SAFETY,))
    sweeper.start()
    assert fake.entered.wait(WAIT)
    stopper = threading.Thread(target=scheduler.stop)
    stopper.start()
    stopper.join(timeout=0.2)
    assert stopper.is_alive()  # waits for the sweep under way
    release.set()
    sweeper.join(WAIT)
    stopper.join(WAIT)
    assert not stopper.is_alive()
    assert not scheduler.running
    (swept,) = recorder.of(SAFETY)
    assert swept.report is not None
    assert swept.report.fired == {"clock.missed": 1}
    assert swept.wake_at is None  # stopping: the date job is not armed again
    assert scheduler.sweep().report is None  # a sweep after stop does nothing


def test_run_once_sweeps_at_the_engine_now(fake: FakeEngine) -> None:
    report = run_once(fake, batch=5)
    assert report.at == "2026-03-02T09:00:00.000000Z"
    assert report.fired == {"clock.missed": 1}


@pytest.mark.parametrize(("interval", "batch"), [(0, 10), (-1, 10), (60, 0)])
def test_the_settings_are_checked(fake: FakeEngine, interval: float, batch: int) -> None:
    with pytest.raises(ValueError, match="must be"):
        ClockScheduler(fake, sweep_interval=interval, batch=batch)
