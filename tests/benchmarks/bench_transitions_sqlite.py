"""Durable transitions per second on an SQLite file: ``Engine.fire`` against raw ``sqlite3``.

Every variant writes to its own file migrated by ``storage.migrate`` and holding the same
cases opened through the engine (untimed). Timed, per commit:

* ours: ``Engine.fire`` — read the case, evaluate its control, decide, build and hash the
  audit entry, UPDATE the case guarded by its version and head, INSERT the entry, COMMIT
  (``BEGIN IMMEDIATE``; WAL, ``synchronous=FULL`` as ``storage.database`` sets them);
* raw: plain ``sqlite3`` with the same pragmas, ``BEGIN IMMEDIATE``, one UPDATE of the case
  row, one INSERT of a ~300-byte audit row, ``COMMIT`` — the database's own limit;
* SQLModel (informative): the same UPDATE + INSERT through an ORM ``Session``.

Ours is measured twice: with ``configure_logging("json", "WARNING")`` (per-command INFO lines
filtered, the recommended production level) and at INFO with the JSON lines written to a file.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlmodel import Session

from engine.case import decide
from engine.log import configure_logging
from storage.audit import make_entry
from storage.canonical import utc_text
from storage.database import Database
from storage.migrate import upgrade
from storage.tables import AuditEntryRecord, CaseRecord

from .common import (
    Comparison,
    Sample,
    Sizes,
    Stopwatch,
    interleave,
    print_comparisons,
    print_table,
)
from .cycle import (
    AGENT,
    AT_TEXT,
    BASELINE_BODY,
    RAW_INSERT_SQLITE,
    RAW_UPDATE_SQLITE,
    TRIGGER_FROM,
    RawCycle,
    RoundRobin,
    handles,
    make_engine,
    open_cases,
    verified_body_size,
    write_definition,
)

NAME = "transitions_sqlite"
TARGET = 0.70


def _url(path: Path) -> str:
    return f"sqlite:///{path}"


def _prepare(path: Path, folder: Path, cases: int) -> list[str]:
    """Migrate a fresh file, open ``cases`` cases through the engine, return their references."""
    upgrade(_url(path))
    engine = make_engine(_url(path), folder)
    try:
        return open_cases(engine, cases)
    finally:
        engine.close()


class Ours:
    """``Engine.fire`` round-robin over the cases, the engine built after logging is set."""

    def __init__(self, path: Path, folder: Path, sizes: Sizes, log_file: Path | None) -> None:
        self.path = path
        self.log_file = log_file
        self.controls = 0
        references = _prepare(path, folder, sizes.cases)
        # The engine binds its logger when it is built: configure logging first, as the CLI does.
        self.log_stream = None if log_file is None else log_file.open("a", encoding="utf-8")
        if self.log_stream is None:
            configure_logging("json", "WARNING")
            self.engine = make_engine(_url(path), folder)
        else:
            with contextlib.redirect_stderr(self.log_stream):  # the JSON lines go to the file
                configure_logging("json", "INFO")
                self.engine = make_engine(_url(path), folder)
            configure_logging("json", "WARNING")
        self.firing = RoundRobin(self.engine, references)
        self.firing.fire(len(references))  # warm-up: compiled workflow, prepared statements
        self.count = sizes.slice

    def __call__(self) -> Sample:
        with Stopwatch() as watch:
            tally = self.firing.fire(self.count)
        self.controls += tally.controls
        return watch.sample(tally.transitions)

    def verify(self) -> str:
        """Verify the whole trail written (untimed) and describe it."""
        entries, body = verified_body_size(self.engine, self.path)
        return f"{entries} entries verified intact, transition body {body:.0f} bytes"

    def close(self) -> None:
        """Release the engine and the log file."""
        self.engine.close()
        if self.log_stream is not None:
            self.log_stream.close()


class RawSqlite:
    """Plain ``sqlite3``: BEGIN IMMEDIATE, UPDATE case, INSERT audit row, COMMIT."""

    def __init__(self, path: Path, folder: Path, sizes: Sizes) -> None:
        references = _prepare(path, folder, sizes.cases)
        engine = make_engine(_url(path), folder)
        try:
            self.cycle = RawCycle(handles(engine, references))
        finally:
            engine.close()
        self.connection = sqlite3.connect(path, isolation_level=None)
        for pragma in ("journal_mode = WAL", "synchronous = FULL", "foreign_keys = ON"):
            self.connection.execute(f"PRAGMA {pragma}")
        mode = self.connection.execute("PRAGMA journal_mode").fetchone()[0]
        sync = self.connection.execute("PRAGMA synchronous").fetchone()[0]
        if (mode, sync) != ("wal", 2):
            raise AssertionError(
                f"raw baseline not durable: journal_mode={mode} synchronous={sync}"
            )
        self.count = sizes.slice
        self._run(len(references))  # warm-up, like ours

    def _run(self, count: int) -> None:
        cursor = self.connection.cursor()
        for _ in range(count):
            update, insert = self.cycle.step()
            cursor.execute("BEGIN IMMEDIATE")
            cursor.execute(RAW_UPDATE_SQLITE, update)
            if cursor.rowcount != 1:
                raise AssertionError("raw UPDATE matched no row")
            cursor.execute(RAW_INSERT_SQLITE, insert)
            cursor.execute("COMMIT")

    def __call__(self) -> Sample:
        with Stopwatch() as watch:
            self._run(self.count)
        return watch.sample(self.count)


class SqlModelSession:
    """The same UPDATE + INSERT through a SQLModel ``Session`` (get, modify, add, commit)."""

    def __init__(self, path: Path, folder: Path, sizes: Sizes) -> None:
        references = _prepare(path, folder, sizes.cases)
        self.database = Database(_url(path))
        engine = make_engine(_url(path), folder)
        try:
            self.cycle = RawCycle(handles(engine, references))
        finally:
            engine.close()
        self.count = sizes.slice
        self._run(len(references))

    def _run(self, count: int) -> None:
        for _ in range(count):
            update, insert = self.cycle.step()
            with Session(self.database.engine) as session:
                case = session.get(CaseRecord, update["case_id"])
                assert case is not None
                case.state = update["state"]
                case.version += 1
                case.head_seq = update["head_seq"]
                case.head_hash = update["head_hash"]
                case.updated_at = AT_TEXT
                session.add(case)
                session.add(AuditEntryRecord(**insert))
                session.commit()

    def __call__(self) -> Sample:
        with Stopwatch() as watch:
            self._run(self.count)
        return watch.sample(self.count)


def _cpu_micros(action: Callable[[int], object], count: int, repeat: int = 3) -> float:
    """CPU microseconds per call of ``action(i)`` over ``count`` calls: the best of ``repeat``."""
    best = float("inf")
    for _ in range(repeat):
        began = time.process_time()
        for number in range(count):
            action(number)
        best = min(best, (time.process_time() - began) / count)
    return 1e6 * best


def _synchronous_off(dbapi_connection: Any, _record: object) -> None:
    dbapi_connection.execute("PRAGMA synchronous = OFF")


def breakdown(workdir: Path, folder: Path, sizes: Sizes) -> None:
    """Where ``Engine.fire``'s CPU time over the raw statements goes, step by step.

    Fresh files with ``synchronous=OFF`` take the disk out: what is left is CPU. Each step
    redoes the previous ones and adds one piece of ``Engine.fire`` (using the engine's
    internals the way ``fire`` does), so the difference between two lines is what that piece
    costs per transition, in the loop, on real rows.
    """
    count = max(sizes.slice * 4, 1_000)
    path = workdir / "breakdown.db"
    references = _prepare(path, folder, sizes.cases)
    engine = make_engine(_url(path), folder)
    # After storage.database's own set-up (synchronous=FULL), on every new connection:
    event.listen(engine.database.engine, "connect", _synchronous_off)
    engine.database.dispose()
    with engine.store.read() as tx:
        if tx.execute("PRAGMA synchronous").fetchone()[0] != 0:
            raise AssertionError("breakdown database still synchronous")
    cycle = RawCycle(handles(engine, references))
    raw_path = workdir / "breakdown-raw.db"
    raw = RawSqlite(raw_path, folder, sizes)
    raw.connection.execute("PRAGMA synchronous = OFF")

    def reference(number: int) -> str:
        return references[number % len(references)]

    def store_only(_number: int) -> None:
        update, insert = cycle.step()
        with engine.store.write() as tx:
            tx.execute(RAW_UPDATE_SQLITE, update)
            tx.execute(RAW_INSERT_SQLITE, insert)

    def select(number: int) -> None:
        update, insert = cycle.step()
        with engine.store.write() as tx:
            tx.case_by_reference(reference(number))
            tx.execute(RAW_UPDATE_SQLITE, update)
            tx.execute(RAW_INSERT_SQLITE, insert)

    def command(number: int) -> None:
        update, insert = cycle.step()
        with (
            engine._command("case.fire", AGENT, case=reference(number), trigger="x"),
            engine.store.write() as tx,
        ):
            tx.case_by_reference(reference(number))
            tx.execute(RAW_UPDATE_SQLITE, update)
            tx.execute(RAW_INSERT_SQLITE, insert)

    def decision(number: int) -> None:
        update, insert = cycle.step()
        with (
            engine._command("case.fire", AGENT, case=reference(number), trigger="x"),
            engine.store.write() as tx,
        ):
            case, compiled = engine._load(tx, reference(number), None)
            snapshot = engine._snapshot(tx, case, compiled, AGENT)
            decide(compiled, snapshot, TRIGGER_FROM[case.state])
            tx.execute(RAW_UPDATE_SQLITE, update)
            tx.execute(RAW_INSERT_SQLITE, insert)

    def entry(number: int) -> None:
        update, insert = cycle.step()
        with (
            engine._command("case.fire", AGENT, case=reference(number), trigger="x"),
            engine.store.write() as tx,
        ):
            case, compiled = engine._load(tx, reference(number), None)
            snapshot = engine._snapshot(tx, case, compiled, AGENT)
            trigger = TRIGGER_FROM[case.state]
            decided = decide(compiled, snapshot, trigger)
            make_entry(
                chain_id=case.id,
                seq=case.head_seq + 1,
                prev_hash=case.head_hash,
                recorded_at=utc_text(snapshot.now),
                actor=AGENT.user,
                kind="case.transition",
                reference=case.reference,
                from_state=case.state,
                to_state=decided.dest,
                payload={
                    "trigger": trigger,
                    "roles": sorted(AGENT.roles),
                    "controls": [result.as_payload() for result in decided.results],
                },
            )
            tx.execute(RAW_UPDATE_SQLITE, update)
            tx.execute(RAW_INSERT_SQLITE, insert)

    steps: list[tuple[str, Callable[[int], object]]] = [
        ("raw sqlite3 (own connection): UPDATE + INSERT + COMMIT", lambda _n: raw._run(1)),
        ("Store.write() around the same raw UPDATE + INSERT", store_only),
        ("+ SELECT the case (Tx.case_by_reference)", select),
        ("+ Engine._command (bound logger, checkpoint-due check)", command),
        ("+ load, snapshot, decide (control + transitions machine)", decision),
        ("+ utc_text and make_entry (canonical JSON + SHA-256)", entry),
    ]
    rows = []
    previous = 0.0
    for label, action in steps:
        micros = _cpu_micros(action, count)
        rows.append([label, f"{micros:.1f}", "" if not previous else f"{micros - previous:+.1f}"])
        previous = micros
    firing = RoundRobin(engine, references)  # reads the states the steps above left
    micros = _cpu_micros(lambda _n: firing.fire(1), count)
    rows.append(
        [
            "Engine.fire (its own UPDATE/INSERT wrappers, outcome, log call)",
            f"{micros:.1f}",
            f"{micros - previous:+.1f}",
        ]
    )
    with engine.store.read() as tx:
        case, compiled = engine._load(tx, references[0], None)
    trigger = TRIGGER_FROM[case.state]
    isolated = [
        (
            "  in isolation: machine.next_state (transitions)",
            lambda _n: compiled.next_state(case.state, trigger),
        ),
        (
            "  in isolation: make_entry (canonical JSON + SHA-256)",
            lambda _n: make_entry(
                chain_id=case.id,
                seq=case.head_seq + 1,
                prev_hash=case.head_hash,
                recorded_at=utc_text(engine.clock.now()),
                actor=AGENT.user,
                kind="case.transition",
                reference=case.reference,
                from_state=case.state,
                to_state="b",
                payload={"trigger": trigger, "roles": ["agent"], "controls": [{"passed": True}]},
            ),
        ),
        ("  in isolation: utc_text(now)", lambda _n: utc_text(engine.clock.now())),
    ]
    for label, action in isolated:
        rows.append([label, f"{_cpu_micros(action, count):.1f}", ""])
    engine.close()
    raw.connection.close()
    print_table(
        "Engine.fire, CPU µs per transition step by step (synchronous=OFF, best of 3)",
        ["step", "CPU µs", "step adds"],
        rows,
    )


RAW = "raw sqlite3"
WARNING = "Engine.fire, log WARNING"
INFO = "Engine.fire, log INFO -> file"
SQLMODEL = "SQLModel Session"


def run(sizes: Sizes, workdir: Path) -> list[Comparison]:
    """Measure, print the tables, and return the comparisons."""
    folder = write_definition(workdir / "definitions")
    log_file = workdir / "transitions-info.log"
    base = workdir / "sqlite-transitions"
    base.mkdir(parents=True, exist_ok=True)
    slices = max(1, sizes.transitions // sizes.slice)
    print(
        f"  {slices * sizes.slice} transitions per variant over {sizes.cases} cases, in "
        f"{slices} interleaved slices of {sizes.slice}; WAL, synchronous=FULL; one commit per "
        "transition.\n"
        "  ours (WARNING): configure_logging('json', 'WARNING'): per-command INFO lines filtered."
        f"\n  ours (INFO): the same at INFO, JSON lines appended to {log_file}.",
        flush=True,
    )
    configure_logging("json", "WARNING")  # also while the cases are opened
    raw = RawSqlite(base / "raw.db", folder, sizes)
    ours = Ours(base / "ours.db", folder, sizes, None)
    ours_info = Ours(base / "ours-info.db", folder, sizes, log_file)
    variants: dict[str, Callable[[], Sample]] = {RAW: raw, WARNING: ours, INFO: ours_info}
    if sizes.sqlmodel:
        variants[SQLMODEL] = SqlModelSession(base / "sqlmodel.db", folder, sizes)
    print("    columns: " + " | ".join(variants), flush=True)
    log_before = log_file.stat().st_size
    series = interleave(slices, variants)
    log_bytes = log_file.stat().st_size - log_before
    baseline = series[RAW]
    comparisons = [
        Comparison(NAME, WARNING, "durable transitions/s", series[WARNING], baseline, TARGET),
        Comparison(NAME, INFO, "durable transitions/s", series[INFO], baseline, None),
    ]
    if sizes.sqlmodel:
        comparisons.append(
            Comparison(
                NAME, f"{SQLMODEL} (informative)", "commits/s", series[SQLMODEL], baseline, None
            )
        )
    print_comparisons("SQLite, durable transitions", comparisons)
    print_table(
        "SQLite, cost per commit (wall from the totals; CPU of this process)",
        ["variant", "wall ms", "CPU ms", "CPU ms over raw"],
        [
            [
                name,
                f"{1000 / series[name].rate:.3f}",
                f"{series[name].cpu_ms:.3f}",
                "—" if name == RAW else f"+{series[name].cpu_ms - baseline.cpu_ms:.3f}",
            ]
            for name in variants
        ],
    )
    controls = ours.controls / series[WARNING].operations
    print(f"  controls evaluated per transition (counted from FireOutcome.results): {controls:g}")
    print(
        f"  INFO logging: {log_bytes / series[INFO].operations:.0f} bytes of JSON per transition, "
        f"{series[INFO].cpu_ms - series[WARNING].cpu_ms:+.3f} CPU ms per transition over WARNING."
    )
    print(f"  raw baseline body: {len(BASELINE_BODY.encode())} bytes")
    print(f"  ours (WARNING): {ours.verify()}")
    print(f"  ours (INFO):    {ours_info.verify()}", flush=True)
    if sizes.profile:
        breakdown(base, folder, sizes)
    ours.close()
    ours_info.close()
    raw.connection.close()
    return comparisons
