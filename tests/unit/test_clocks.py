"""The clock rules without a database: start, warnings, interruption semantics, due events."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson
import pytest

from engine.clocks import (
    ClockRefused,
    due_event,
    end_of_day,
    interrupt,
    next_action,
    restart,
    start,
)
from engine.definition import ClockDef
from storage.clock_store import ClockRow

NOW = datetime(2026, 3, 2, 9, tzinfo=UTC)


def clock(**overrides: Any) -> ClockDef:
    base: dict[str, Any] = {
        "label": "Délai de paiement",
        "kind": "legal_maximum",
        "duration": "30d",
        "start": {"triggers": ["enregistrer"]},
        "interruption": "restart",
        "interrupt_on": ["suspendre"],
        "resume_on": ["completer"],
    }
    return ClockDef.model_validate(base | overrides)


def started(definition: ClockDef, day: date = date(2026, 3, 2), period: str = "30d") -> ClockRow:
    return start(definition, "delai", 7, day, period, "durée par défaut", NOW)


def test_a_period_ends_at_the_end_of_its_last_day_in_paris() -> None:
    row = started(clock())
    assert row.due_on == "2026-04-01"
    assert row.due_at == "2026-04-01T22:00:00.000000Z"  # summer time from 29 March
    assert end_of_day(date(2026, 3, 1)).isoformat() == "2026-03-01T23:00:00+00:00"
    assert row.next_fire_at == row.due_at
    assert orjson.loads(row.explanation)["end"] == "2026-04-01"


def test_warnings_come_first_then_the_due_time() -> None:
    definition = clock(warnings=["5d", "1w"])
    row = started(definition)
    assert row.next_fire_at == "2026-03-27T22:00:00.000000Z"  # 5 days before
    assert next_action(definition, row, NOW).warning == 0
    after_first = row._replace(warnings_done=1)
    assert next_action(definition, after_first, NOW).at == "2026-03-25T22:00:00.000000Z"
    late = next_action(definition, row, datetime(2026, 3, 30, tzinfo=UTC))
    assert late.warning is None  # both warning times are past: next is the due time


def test_the_payment_period_restarts_in_full_from_the_complete_file() -> None:
    definition = clock()
    row, fact = interrupt(definition, started(definition), date(2026, 3, 10), NOW)
    assert (row.status, row.remaining_days, fact["remaining_days"]) == ("interrupted", 22, 22)
    row, fact = restart(definition, row, date(2026, 3, 20), NOW)
    assert row.status == "running"
    assert row.due_on == "2026-04-20"  # 19 April is a Sunday
    assert "nouveau délai complet" in fact["rule"]
    history = orjson.loads(row.explanation)["history"]
    assert [event["event"] for event in history] == ["interrupted", "restarted"]


def test_a_longer_balance_is_kept_when_the_rule_says_so() -> None:
    """CCP R2192-29: the new period is 30 days, or the balance left if it is longer."""
    definition = clock(duration="60d")
    row = started(definition, period="60d")  # 1 May (holiday) → Monday 4 May 2026
    assert row.due_on == "2026-05-04"
    row, _ = interrupt(definition, row, date(2026, 3, 2), NOW)
    assert row.remaining_days == 63
    row, fact = restart(definition, row._replace(period="30d"), date(2026, 3, 12), NOW)
    assert "solde restant (63 jours)" in fact["rule"]
    assert row.due_on == "2026-05-15"  # 63 days: 14 May is Ascension Day
    shorter = clock(duration="60d", keep_longer_balance=False)
    row2, _ = interrupt(shorter, started(shorter, period="60d"), date(2026, 3, 2), NOW)
    row2, fact2 = restart(shorter, row2._replace(period="30d"), date(2026, 3, 12), NOW)
    assert row2.due_on == "2026-04-13"  # 11 April is a Saturday
    assert "nouveau délai complet" in fact2["rule"]


def test_resume_runs_the_days_that_were_left() -> None:
    definition = clock(interruption="resume")
    row, _ = interrupt(definition, started(definition), date(2026, 3, 10), NOW)
    row, fact = restart(definition, row, date(2026, 3, 20), NOW)
    assert row.due_on == "2026-04-13"  # 22 days from 20 March: Saturday 11 April → Monday 13
    assert "reprise des 22 jour(s)" in fact["rule"]


def test_interruptions_are_bounded_and_need_a_rule() -> None:
    definition = clock()
    row, _ = interrupt(definition, started(definition), date(2026, 3, 10), NOW)
    row, _ = restart(definition, row, date(2026, 3, 12), NOW)
    with pytest.raises(ClockRefused, match="une seule fois"):
        interrupt(definition, row, date(2026, 3, 14), NOW)
    twice = clock(max_interruptions=2)
    row2, _ = interrupt(twice, started(twice), date(2026, 3, 10), NOW)
    with pytest.raises(ClockRefused, match="seul un délai en cours"):
        interrupt(twice, row2, date(2026, 3, 11), NOW)
    never = clock(interruption="none", interrupt_on=[], resume_on=[])
    with pytest.raises(ClockRefused, match="ne peut pas être interrompu"):
        interrupt(never, started(never), date(2026, 3, 10), NOW)
    with pytest.raises(ClockRefused, match="n'est pas interrompu"):
        restart(definition, started(definition), date(2026, 3, 10), NOW)


def test_due_events_by_kind() -> None:
    maximum = clock(warnings=["5d"])
    row = started(maximum)
    warned, fact, kind = due_event(maximum, row, datetime(2026, 3, 28, 8, tzinfo=UTC))
    assert (kind, fact["before"], warned.warnings_done) == ("clock.warning", "5d", 1)
    assert warned.next_fire_at == warned.due_at
    at = datetime(2026, 4, 2, 6, tzinfo=UTC)
    done, fact, kind = due_event(maximum, warned, at)
    assert (kind, done.status, done.next_fire_at) == ("clock.missed", "missed", None)
    assert fact["lateness_seconds"] == "28800.000"
    minimum = clock(
        kind="legal_minimum", duration="11d", interruption="none", interrupt_on=[], resume_on=[]
    )
    ended, fact, kind = due_event(minimum, started(minimum), at + timedelta(days=30))
    assert (kind, ended.status) == ("clock.elapsed", "elapsed")
    assert "notify" not in fact
