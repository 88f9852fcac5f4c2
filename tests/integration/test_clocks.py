"""Clocks end to end: started and stopped by steps, interrupted, swept once, on both backends."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from engine.actors import Actor
from engine.clock import FrozenClock
from engine.clocks import ClockRefused
from engine.errors import ControlsFailed
from engine.service import Engine
from tests.integration.clock_workflows import write_clock_library
from tests.integration.sample_workflow import make_engine

COMPTABLE = Actor("sophie", frozenset({"comptable"}))
ACHETEUR = Actor("marie", frozenset({"acheteur"}))
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
def library(tmp_path: Path) -> Path:
    return write_clock_library(tmp_path / "library")


@pytest.fixture
def engine(database_url: str, library: Path, clock: FrozenClock) -> Iterator[Engine]:
    engine = make_engine(database_url, library, clock)
    yield engine
    engine.close()


def registered_payment(engine: Engine, received: str = "2026-03-02") -> str:
    values = {"date_reception": received, "montant": "1200"}
    reference = engine.open_case("paiement", org="AMP", actor=COMPTABLE, values=values).reference
    engine.fire(reference, "enregistrer", COMPTABLE)
    return reference


def facts(engine: Engine, reference: str, kind: str) -> list[dict[str, Any]]:
    found = []
    for entry in engine.history(reference):
        body = json.loads(entry.body)
        if body["kind"] == kind:
            found.append(body["payload"])
    return found


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_a_clock_starts_with_its_step_and_explains_its_due_date(engine: Engine) -> None:
    reference = registered_payment(engine)
    (started, target) = json.loads(engine.history(reference)[-1].body)["payload"]["clocks"]
    assert started["clock"] == "delai_paiement"
    assert (started["start_day"], started["period"], started["due_on"]) == (
        "2026-03-02",
        "30d",
        "2026-04-01",
    )
    assert started["due_at"] == "2026-04-01T22:00:00.000000Z"  # end of the day, Paris (CEST)
    assert target["due_on"] == "2026-03-23"  # 20 days: Sunday 22 March, moved to Monday
    detail = engine.clock_detail(reference, "delai_paiement")
    assert detail.clock.status == "running"
    assert detail.explanation["end"] == "2026-04-01"
    assert any("1182/71" in line for line in detail.explanation["explanation"])
    listed = engine.clocks(reference=reference)
    assert [item.clock.name for item in listed] == ["objectif_20_jours", "delai_paiement"]


def test_warnings_then_the_miss_fire_once_with_a_nonconformity_and_the_escalation(
    engine: Engine,
) -> None:
    reference = registered_payment(engine)
    assert engine.sweep_clocks(at("2026-03-20T00:00:00Z")).total == 0
    # 28 March: the 20-day target (last day Monday 23 March) is missed; the legal period
    # (last day 1 April) gets its 5-day warning.
    warned = engine.sweep_clocks(at("2026-03-28T08:00:00Z"))
    assert warned.fired == {"clock.missed": 1, "clock.warning": 1}
    assert len(warned.nonconformities) == 1
    assert facts(engine, reference, "clock.warning")[0]["before"] == "5d"
    # 2 April: the legal period ran out at the end of 1 April (the 1-day warning, never
    # sent because the scheduler did not run in between, is superseded by the miss).
    missed = engine.sweep_clocks(at("2026-04-02T06:00:00Z"))
    assert missed.fired == {"clock.missed": 1}
    assert len(missed.nonconformities) == 1
    assert missed.escalations == [f"{reference}:signaler_retard"]
    assert engine.show(reference).row.state == "en_retard"
    again = engine.sweep_clocks(at("2026-04-10T00:00:00Z"))
    assert again.total == 0
    payment = [
        f for f in facts(engine, reference, "clock.missed") if f["clock"] == "delai_paiement"
    ]
    assert len(payment) == 1
    assert payment[0]["lateness_seconds"] == "28800.000"  # 22:00Z the day before → 06:00Z
    assert payment[0]["notify"] == ["comptable", "responsable_finances"]
    ncs = engine.nonconformities(source=reference, origin="missed_deadline")
    assert {(nc.control, nc.severity) for nc in ncs} == {
        ("clock:delai_paiement", "major"),
        ("clock:objectif_20_jours", "minor"),
    }
    assert engine.verify().intact


def test_an_interruption_restarts_a_full_period_once_only(
    engine: Engine, clock: FrozenClock
) -> None:
    reference = registered_payment(engine)
    clock.set(datetime(2026, 3, 10, 9, tzinfo=UTC))
    engine.fire(reference, "suspendre", COMPTABLE)
    interrupted = engine.clock_detail(reference, "delai_paiement").clock
    assert (interrupted.status, interrupted.remaining_days) == ("interrupted", 22)
    assert interrupted.next_fire_at is None
    clock.set(datetime(2026, 3, 20, 9, tzinfo=UTC))
    outcome = engine.fire(reference, "completer", COMPTABLE)
    restarted = next(f for f in outcome.clocks if f["event"] == "restarted")
    assert restarted["due_on"] == "2026-04-20"  # 19 April is a Sunday
    assert "nouveau délai complet" in restarted["rule"]
    before = engine.show(reference).row.version
    with pytest.raises(ClockRefused, match="une seule fois"):
        engine.fire(reference, "suspendre", COMPTABLE)
    assert engine.show(reference).row.version == before
    assert engine.clock_detail(reference, "delai_paiement").clock.status == "running"


def test_paying_in_time_stops_the_clock_and_nothing_fires_later(
    engine: Engine, clock: FrozenClock
) -> None:
    reference = registered_payment(engine)
    clock.set(datetime(2026, 3, 15, 9, tzinfo=UTC))
    engine.fire(reference, "mandater", COMPTABLE)
    outcome = engine.fire(reference, "payer", COMPTABLE)
    stopped = {f["clock"]: f for f in outcome.clocks}
    assert stopped["delai_paiement"]["met"] is True
    assert stopped["objectif_20_jours"]["met"] is True
    assert engine.sweep_clocks(at("2026-06-01T00:00:00Z")).total == 0
    assert engine.next_clock_action() is None


def test_the_standstill_refuses_signing_before_its_end_with_the_date(
    engine: Engine, clock: FrozenClock
) -> None:
    reference = engine.open_case(
        "attribution",
        org="AMP",
        actor=ACHETEUR,
        values={"date_envoi_rejets": "2026-03-02", "rejets_electroniques": "oui"},
    ).reference
    engine.fire(reference, "envoyer_rejets", ACHETEUR)
    assert engine.clock_detail(reference, "standstill").clock.due_on == "2026-03-13"
    clock.set(datetime(2026, 3, 13, 15, tzinfo=UTC))
    with pytest.raises(ControlsFailed, match="possible à partir du samedi 14 mars 2026"):
        engine.fire(reference, "signer", ACHETEUR)
    clock.set(datetime(2026, 3, 14, 8, tzinfo=UTC))
    assert engine.fire(reference, "signer", ACHETEUR).to_state == "signe"
    elapsed = engine.sweep_clocks(at("2026-03-14T00:00:00Z"))
    assert elapsed.fired == {"clock.elapsed": 1}
    assert elapsed.nonconformities == []


def test_missed_while_the_scheduler_was_down_fire_once_with_their_lateness(
    engine: Engine,
) -> None:
    references = [registered_payment(engine) for _ in range(3)]
    report = engine.sweep_clocks(at("2026-06-30T12:00:00Z"), batch=2)
    assert report.fired["clock.missed"] == 6
    assert report.fired.get("clock.warning", 0) == 0  # warnings long past are skipped
    assert min(report.lateness_seconds) > 80 * 86_400
    for reference in references:
        assert len(facts(engine, reference, "clock.missed")) == 2
    assert engine.sweep_clocks(at("2026-07-01T00:00:00Z")).total == 0


def test_concurrent_sweeps_fire_each_clock_once(
    engine: Engine, database_url: str, library: Path
) -> None:
    references = [registered_payment(engine) for _ in range(12)]
    when = at("2026-04-02T06:00:00Z")
    engines = [make_engine(database_url, library, FrozenClock(when)) for _ in range(3)]
    reports: list[Any] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(engines))

    def sweep(other: Engine) -> None:
        barrier.wait()
        try:
            reports.append(other.sweep_clocks(when, batch=3))
        except BaseException as error:  # reported below: a thread must not fail silently
            errors.append(error)

    threads = [threading.Thread(target=sweep, args=(other,)) for other in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for other in engines:
        other.close()
    assert errors == []
    assert sum(report.fired.get("clock.missed", 0) for report in reports) == 24
    for reference in references:
        assert len(facts(engine, reference, "clock.missed")) == 2
        assert engine.show(reference).row.state == "en_retard"
    assert engine.verify().intact


def test_a_clock_never_changes_without_its_case_chain(engine: Engine) -> None:
    reference = registered_payment(engine)
    engine.sweep_clocks(START + timedelta(days=40))
    kinds = [json.loads(e.body)["kind"] for e in engine.history(reference)]
    assert kinds[:2] == ["case.opened", "case.transition"]
    assert kinds.count("clock.missed") == 2
    assert engine.verify(reference).intact


def test_a_late_payment_records_its_interest_and_indemnity(
    engine: Engine, clock: FrozenClock
) -> None:
    reference = registered_payment(engine)  # 1 200 € TTC, last day 1 April 2026
    clock.set(datetime(2026, 4, 15, 9, tzinfo=UTC))
    engine.fire(reference, "mandater", COMPTABLE)
    clock.set(datetime(2026, 4, 20, 9, tzinfo=UTC))
    stopped = {f["clock"]: f for f in engine.fire(reference, "payer", COMPTABLE).clocks}
    payment = stopped["delai_paiement"]
    assert (payment["met"], payment["late_days"]) == (False, 19)
    late = payment["late_payment"]
    # ECB rate on 1 January 2026 (2.15) + 8 points = 10.15 %; 1 200 × 10.15 % × 19 / 365
    assert (late["annual_rate"], late["days_late"]) == ("10.15", 19)
    assert late["interest"] == "6.34"
    assert late["indemnity"] == "40.00"
    assert "late_payment" not in stopped["objectif_20_jours"]


def test_paying_after_the_miss_still_records_the_interest_and_stays_missed(
    engine: Engine, clock: FrozenClock
) -> None:
    reference = registered_payment(engine)
    engine.sweep_clocks(at("2026-04-05T00:00:00Z"))
    clock.set(datetime(2026, 4, 15, 9, tzinfo=UTC))
    engine.fire(reference, "mandater", COMPTABLE)
    clock.set(datetime(2026, 4, 20, 9, tzinfo=UTC))
    stopped = {f["clock"]: f for f in engine.fire(reference, "payer", COMPTABLE).clocks}
    assert stopped["delai_paiement"]["late_payment"]["interest"] == "6.34"
    row = engine.clock_detail(reference, "delai_paiement").clock
    assert (row.status, row.ended_at) == ("missed", "2026-04-20T09:00:00.000000Z")
