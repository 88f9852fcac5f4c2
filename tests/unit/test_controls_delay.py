"""The ``delay`` control: a legal period between two dates of the case, minimum or maximum."""

from __future__ import annotations

from tests.unit.test_controls_data import line_with, problems_of, run, snap

STANDSTILL = {
    "from_field": "date_envoi_lettres",
    "to_field": "date_signature",
    "period": "11d",
    "kind": "minimum",
}
WITHIN = {
    "from_field": "date_lancement",
    "to_field": "date_signature",
    "period": "2m",
    "kind": "maximum",
}


def test_delay_minimum_pass_on_the_first_day_after() -> None:
    data = {"date_envoi_lettres": "2026-04-24", "date_signature": "2026-05-06"}
    result = run("delay", STANDSTILL, snap(data))
    assert result.passed
    assert result.clause == "8.5.1"
    assert result.reason.startswith(
        "date_signature (mercredi 6 mai 2026) respecte le délai : "
        "au plus tôt le mercredi 6 mai 2026"
    )
    assert "Méthode : règlement (CEE, Euratom) n° 1182/71" in result.reason


def test_delay_minimum_fail_inside_the_standstill() -> None:
    data = {"date_envoi_lettres": "2026-04-24", "date_signature": "2026-05-05"}
    result = run("delay", STANDSTILL, snap(data))
    assert not result.passed
    assert result.reason.startswith(
        "date_signature (mardi 5 mai 2026) ne respecte pas le délai : au plus tôt le "
        "mercredi 6 mai 2026 (Méthode : règlement"
    )


def test_delay_maximum_with_the_end_moved_past_the_weekend() -> None:
    data = {"date_lancement": "2026-05-04", "date_signature": "2026-07-06"}
    result = run("delay", WITHIN, snap(data))
    assert result.passed
    assert "au plus tard le lundi 6 juillet 2026" in result.reason


def test_delay_maximum_fail_date_a_date() -> None:
    data = {"date_lancement": "2026-05-04", "date_signature": "2026-07-06"}
    result = run("delay", {**WITHIN, "method": "date-a-date"}, snap(data))
    assert not result.passed
    assert "ne respecte pas le délai : au plus tard le vendredi 3 juillet 2026" in result.reason
    assert "de date à date" in result.reason


def test_delay_missing_start_fails_clearly() -> None:
    result = run("delay", STANDSTILL, snap({"date_signature": "2026-05-06"}))
    assert not result.passed
    assert result.reason == (
        "le champ « date_envoi_lettres » n'est pas renseigné : le délai de 11 jours "
        "calendaires ne peut pas être calculé"
    )


def test_delay_missing_act_gives_the_date_to_respect() -> None:
    result = run("delay", STANDSTILL, snap({"date_envoi_lettres": "2026-04-24"}))
    assert not result.passed
    assert result.reason.startswith(
        "le champ « date_signature » n'est pas renseigné ; il doit être au plus tôt le "
        "mercredi 6 mai 2026"
    )


def test_delay_invalid_period_gives_a_line() -> None:
    controls = """\
    - control: delay
      params:
        from_field: date_lancement
        to_field: date_lancement
        period: 35 jours
        kind: minimum
    """
    (problem,) = problems_of(controls)
    assert problem.field == "transitions[0].controls[0].params.period"
    assert problem.line == line_with(controls, "period:")
    assert "La durée « 35 jours » n'est pas reconnue" in problem.message


def test_delay_invalid_kind_calendar_and_method_are_all_reported() -> None:
    controls = """\
    - control: delay
      params:
        from_field: date_lancement
        to_field: date_lancement
        period: 35d
        kind: au_moins
        calendar: XX
        method: julien
    """
    found = {p.field.rsplit(".", 1)[1]: p for p in problems_of(controls)}
    assert set(found) == {"kind", "calendar", "method"}
    assert found["kind"].line == line_with(controls, "kind:")
    assert "minimum" in found["kind"].message
    assert found["calendar"].line == line_with(controls, "calendar:")
    assert "La méthode de calcul « julien » est inconnue" in found["method"].message
