"""Several scheduler processes on one database: every clock fires once, the trail stays intact.

Each process is a real ``jalon scheduler run --once`` (the console entry point
``engine.cli:main`` run by a fresh interpreter), started behind a gate: it imports everything,
says it is ready on standard error, and waits for a line on standard input, which the test
sends to all of them at once. On PostgreSQL the sweeps share the clocks (``SKIP LOCKED``); on
SQLite the single writer (``BEGIN IMMEDIATE``) serialises them. Either way each clock must be
fired by exactly one process, and the processes' reports must add up to the total.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from engine.actors import Actor
from engine.service import Engine
from storage.errors import StaleRecord
from storage.store import Tx
from tests.integration.clock_workflows import write_clock_library
from tests.integration.sample_workflow import make_engine

COMPTABLE = Actor("sophie", frozenset({"comptable"}))
CASES = 200
PROCESSES = 4
BATCH = 10
LATE = "2026-06-30T12:00:00Z"
"""Long after every deadline of a payment received on 2 March 2026 (no warning is left)."""
CLOCK_NAMES = {"delai_paiement", "objectif_20_jours"}

JALON = """\
import sys
from engine.cli import app, main
from engine.cli_scheduler import scheduler_app

if not any(group.name == "scheduler" for group in app.registered_groups):
    app.add_typer(scheduler_app, name="scheduler")
if sys.argv[1:2] == ["--gate"]:
    del sys.argv[1]
    print("ready", file=sys.stderr, flush=True)
    sys.stdin.readline()
sys.argv[0] = "jalon"
main()
"""
"""``jalon`` with the scheduler group (registered here until engine/cli.py names it)."""

_CLEARED = ("JALON_DATABASE_URL", "JALON_WORKFLOWS", "JALON_ORG", "JALON_NOW", "COLUMNS")


@pytest.fixture
def library(tmp_path: Path) -> Path:
    return write_clock_library(tmp_path / "library")


@pytest.fixture
def engine(database_url: str, library: Path) -> Iterator[Engine]:
    engine = make_engine(database_url, library)
    yield engine
    engine.close()


def environment(url: str, library: Path, now: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _CLEARED}
    env.update(
        JALON_DATABASE_URL=url,
        JALON_WORKFLOWS=str(library),
        JALON_ACTOR="sophie:comptable",
        COLUMNS="400",
    )
    if now is not None:
        env["JALON_NOW"] = now
    return env


def jalon(
    args: list[str], env: Mapping[str, str], cwd: Path, *, gate: bool = False
) -> subprocess.Popen[str]:
    """Start ``jalon ARGS`` (behind the gate: it waits for a line on standard input)."""
    return subprocess.Popen(
        [sys.executable, "-c", JALON, *(["--gate"] if gate else []), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        env=dict(env),
        cwd=cwd,
    )


def open_payments(engine: Engine, count: int) -> list[str]:
    """Payments received on 2 March 2026 and registered: two clocks each, running."""
    references = []
    for _ in range(count):
        values = {"date_reception": "2026-03-02", "montant": "1200"}
        view = engine.open_case("paiement", org="AMP", actor=COMPTABLE, values=values)
        engine.fire(view.reference, "enregistrer", COMPTABLE)
        references.append(view.reference)
    return references


def facts(engine: Engine, reference: str, kind: str) -> list[dict[str, Any]]:
    bodies = (json.loads(entry.body) for entry in engine.history(reference))
    return [body["payload"] for body in bodies if body["kind"] == kind]


def sweep_in_processes(
    url: str, library: Path, cwd: Path, now: str = LATE, batch: int = BATCH
) -> list[dict[str, Any]]:
    """Run PROCESSES ``jalon scheduler run --once --json`` released together; their reports."""
    env = environment(url, library, now)
    args = ["scheduler", "run", "--once", "--json", "--batch", str(batch)]
    processes = [jalon(args, env, cwd, gate=True) for _ in range(PROCESSES)]
    try:
        for process in processes:
            assert process.stderr is not None
            line = process.stderr.readline()
            assert line.strip() == "ready", line + process.stderr.read()
        for process in processes:  # the start line: every process is waiting here
            assert process.stdin is not None
            process.stdin.write("go\n")
            process.stdin.flush()
        outputs = [process.communicate(timeout=300) for process in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
    for process, (_out, err) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, err
        assert "Traceback" not in err, err
    return [json.loads(out) for out, _err in outputs]


def test_several_scheduler_processes_fire_each_clock_exactly_once(
    engine: Engine, database_url: str, library: Path, tmp_path: Path
) -> None:
    references = open_payments(engine, CASES)
    reports = sweep_in_processes(database_url, library, tmp_path)

    # The processes' reports add up to exactly one action per clock, none reported twice.
    assert sum(report["missed"] for report in reports) == 2 * CASES
    assert sum(report["total"] for report in reports) == 2 * CASES
    assert sum(report["warnings"] + report["elapsed"] for report in reports) == 0
    reported_ncs = [nc for report in reports for nc in report["nonconformities"]]
    assert len(reported_ncs) == len(set(reported_ncs)) == 2 * CASES
    escalations = [e for report in reports for e in report["escalations"]]
    assert sorted(escalations) == sorted(f"{r}:signaler_retard" for r in references)
    assert sum(report["lateness_seconds"]["count"] for report in reports) == 2 * CASES
    if engine.database.dialect_name == "postgresql":
        assert sum(1 for report in reports if report["total"]) >= 2, reports  # work shared

    # Each case: both clocks missed once, one non-conformity each, one escalation.
    for reference in references:
        missed = facts(engine, reference, "clock.missed")
        assert sorted(fact["clock"] for fact in missed) == sorted(CLOCK_NAMES), reference
        assert engine.show(reference).row.state == "en_retard"
    index = engine.nonconformities(origin="missed_deadline", limit=10 * CASES)
    assert {row.reference for row in index} == set(reported_ncs)
    per_case = Counter((row.source_reference, row.control) for row in index)
    assert set(per_case.values()) == {1}
    assert len(per_case) == 2 * CASES
    assert {control for _case, control in per_case} == {f"clock:{n}" for n in CLOCK_NAMES}

    # Nothing left to fire, and the trail proves it was all written once, in order.
    assert engine.next_clock_action() is None
    assert len(engine.clocks(status="missed", limit=10 * CASES)) == 2 * CASES
    assert engine.verify().intact
    again = sweep_in_processes(database_url, library, tmp_path)
    assert sum(report["total"] for report in again) == 0


def test_interleaved_warnings_and_misses_fire_once_across_processes(
    engine: Engine, database_url: str, library: Path, tmp_path: Path
) -> None:
    """Payments received on scattered days: at one instant some clocks give a warning and
    others are missed, and one case's two clocks fall into different processes' batches.

    On PostgreSQL a sweep can then hold a case (its warning written) while waiting for the
    non-conformity counter that another sweep holds while writing to the same case: the
    database breaks the deadlock by rolling one back, which retries it clock by clock.
    """
    now = "2026-04-08T12:00:00Z"
    references = []
    for k in range(40):
        received = date(2026, 3, 2) + timedelta(days=(k * 7) % 17)
        values = {"date_reception": received.isoformat(), "montant": "300"}
        view = engine.open_case("paiement", org="AMP", actor=COMPTABLE, values=values)
        engine.fire(view.reference, "enregistrer", COMPTABLE)
        references.append(view.reference)
    at = "2026-04-08T12:00:00.000000Z"  # ``now`` as the clocks table writes instants
    expected: Counter[tuple[str, str, str]] = Counter()
    for item in engine.clocks(limit=1000):
        clock = item.clock
        if clock.next_fire_at is not None and clock.next_fire_at <= at:
            kind = "missed" if clock.due_at <= at else "warning"  # one action per clock
            expected[(item.reference, clock.name, kind)] += 1
    kinds = Counter(kind for _reference, _name, kind in expected.elements())
    assert kinds["missed"] > 0
    assert kinds["warning"] > 0

    reports = sweep_in_processes(database_url, library, tmp_path, now=now, batch=3)
    assert sum(report["missed"] for report in reports) == kinds["missed"]
    assert sum(report["warnings"] for report in reports) == kinds["warning"]
    written: Counter[tuple[str, str, str]] = Counter()
    for reference in references:
        for kind in ("missed", "warning"):
            for fact in facts(engine, reference, f"clock.{kind}"):
                written[(reference, fact["clock"], kind)] += 1
    assert written == expected
    assert engine.verify().intact


class DriverError(Exception):
    """Stands for a driver error: psycopg's carry the SQLSTATE the server sent."""

    def __init__(self, sqlstate: str | None) -> None:
        super().__init__(f"SQLSTATE {sqlstate}")
        self.sqlstate = sqlstate


def fail_fourth_clock(error: Exception) -> Any:
    """A ``_fire_due`` whose 4th call (inside the first batch) raises ``error``."""
    fire_due = Engine._fire_due
    calls = Counter[str]()

    def failing(self: Engine, tx: Tx, row: Any, now: datetime, report: Any) -> None:
        calls["fired"] += 1
        if calls["fired"] == 4:
            raise error
        fire_due(self, tx, row, now, report)

    return failing


@pytest.mark.parametrize(
    "conflict",
    [StaleRecord("AMP-2026-PAY-0002"), DriverError("40P01"), DriverError("40001")],
    ids=["stale-case", "deadlock-detected", "serialization-failure"],
)
def test_a_rolled_back_batch_is_retried_and_not_counted_twice(
    engine: Engine, conflict: Exception
) -> None:
    """A batch that meets a concurrent change, or that PostgreSQL rolls back to break a
    deadlock with another sweep, is taken again clock by clock; the report counts only what
    committed."""
    references = open_payments(engine, 3)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Engine, "_fire_due", fail_fourth_clock(conflict))
        report = engine.sweep_clocks(datetime(2026, 6, 30, tzinfo=UTC), batch=6)
    assert report.retried == 1
    assert report.fired == {"clock.missed": 6}
    assert len(report.nonconformities) == len(set(report.nonconformities)) == 6
    assert len(report.escalations) == 3
    assert len(report.lateness_seconds) == 6
    stored = engine.nonconformities(origin="missed_deadline")
    assert {row.reference for row in stored} == set(report.nonconformities)
    for reference in references:
        assert len(facts(engine, reference, "clock.missed")) == 2
    assert engine.verify().intact


def test_any_other_error_of_a_sweep_is_raised_with_nothing_written(engine: Engine) -> None:
    references = open_payments(engine, 2)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Engine, "_fire_due", fail_fourth_clock(DriverError("23505")))
        with pytest.raises(DriverError, match="23505"):
            engine.sweep_clocks(datetime(2026, 6, 30, tzinfo=UTC), batch=6)
    for reference in references:
        assert facts(engine, reference, "clock.missed") == []
    assert engine.nonconformities(origin="missed_deadline") == []
    assert engine.next_clock_action() is not None  # still due: the next sweep takes them


def test_once_prints_in_french_what_was_fired(
    engine: Engine, database_url: str, library: Path, tmp_path: Path
) -> None:
    open_payments(engine, 2)
    env = environment(database_url, library, "2026-03-28T08:00:00Z")
    out, err = jalon(["scheduler", "run", "--once"], env, tmp_path).communicate(timeout=120)
    assert out.splitlines() == [
        "Balayage des délais au 2026-03-28T08:00:00.000000Z :",
        "  avertissements : 2",
        "  dépassements : 2",
        "  écoulements : 0",
        "  non-conformités ouvertes : 2 (AMP-2026-NC-0001, AMP-2026-NC-0002)",
        "  escalades : 0",
        "  retards : 2 échéance(s) atteinte(s), retard maximal 4 j 9 h",
        "Prochaine action : 2026-03-31T22:00:00.000000Z",
    ], err
    env["JALON_NOW"] = "2026-04-02T06:00:00Z"
    out, err = jalon(["scheduler", "run", "--once"], env, tmp_path).communicate(timeout=120)
    assert "  dépassements : 2" in out.splitlines(), err
    assert "  escalades : 2" in out.splitlines()
    assert "  retards : 2 échéance(s) atteinte(s), retard maximal 8 h 0 min" in out.splitlines()
    assert out.splitlines()[-1] == "Prochaine action : aucune"


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["--batch", "0"], "Taille de lot « 0 » invalide"),
        (["--sweep-interval", "0"], "Intervalle de balayage « 0 » invalide"),
        (["--json"], "--json ne s'emploie qu'avec --once"),
    ],
)
def test_bad_settings_are_refused_in_one_sentence(
    sqlite_url: str, library: Path, tmp_path: Path, args: list[str], option: str
) -> None:
    env = environment(sqlite_url, library, None)
    process = jalon(["scheduler", "run", *args], env, tmp_path)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 1
    assert out == ""
    assert err.startswith(f"Refusé : {option}"), err
    assert "Traceback" not in err


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_the_scheduler_catches_up_at_start_and_stops_cleanly_on_a_signal(
    sqlite_url: str, library: Path, tmp_path: Path, stop: signal.Signals
) -> None:
    engine = make_engine(sqlite_url, library)
    (reference,) = open_payments(engine, 1)
    env = environment(sqlite_url, library, LATE)
    process = jalon(["scheduler", "run", "--sweep-interval", "3600"], env, tmp_path)
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        assert banner.startswith("Planificateur démarré : balayage de sécurité toutes les 3600 s")
        startup = process.stdout.readline()  # printed once the catch-up sweep has committed
        assert startup.startswith("[démarrage] 2026-06-30T12:00:00.000000Z : 0 avertissement(s)")
        assert "2 dépassement(s)" in startup
        assert "aucune action en attente" in startup
        process.send_signal(stop)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert out == "Planificateur arrêté.\n"
    assert "Traceback" not in err
    assert len(facts(engine, reference, "clock.missed")) == 2
    engine.close()
