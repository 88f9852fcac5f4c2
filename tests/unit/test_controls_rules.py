"""The ``rule`` and ``threshold`` controls: CEL conditions and dated legal thresholds.

Every test runs twice: rules on their fast path (the default), and on the interpreter alone.
"""

from __future__ import annotations

from datetime import date

import pytest

from engine import rules
from engine.control_catalogue import compiled_rule
from tests.unit.test_controls_data import line_with, problems_of, run, snap


@pytest.fixture(autouse=True, params=["fast path", "interpreter"])
def rule_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Rules evaluated with their fast path, or with celpy's interpreter alone."""
    monkeypatch.setattr(rules, "FAST_PATH", request.param == "fast path")
    return str(request.param)


# ----------------------------------------------------------------------------------- rule


def test_rule_pass_with_a_parameter_at_the_opening_date() -> None:
    params = {"expression": 'montant_estime < param("dispense_fournitures_services")'}
    # opened 2026-05-04: the threshold is 60 000 € from 2026-04-01
    result = run("rule", params, snap({"montant_estime": "50000.00"}))
    assert result.passed
    assert result.clause == "8.5.1"
    assert "vérifiée" in result.reason
    assert "date d'ouverture du dossier (2026-05-04)" in result.reason


def test_rule_fail_says_the_rule_does_not_hold() -> None:
    params = {"expression": 'montant_estime < param("dispense_fournitures_services")'}
    result = run("rule", params, snap({"montant_estime": "60000.00"}))
    assert not result.passed
    assert result.reason.startswith("règle « montant_estime < param(")
    assert "non vérifiée" in result.reason


def test_rule_reference_date_field_changes_the_parameter() -> None:
    params = {
        "expression": 'montant_estime < param("dispense_fournitures_services")',
        "reference_date_field": "date_lancement",
    }
    # launched 2026-03-15: the threshold was still 40 000 €
    data = {"montant_estime": "50000.00", "date_lancement": "2026-03-15"}
    result = run("rule", params, snap(data))
    assert not result.passed
    assert "date_lancement (2026-03-15)" in result.reason


def test_rule_missing_reference_date_fails_clearly() -> None:
    params = {"expression": "true", "reference_date_field": "date_lancement"}
    result = run("rule", params, snap({}))
    assert not result.passed
    assert "le champ « date_lancement » (date de référence) n'est pas renseigné" in result.reason


def test_rule_on_a_missing_field_fails_without_crashing() -> None:
    result = run("rule", {"expression": "montant_estime > 0"}, snap({}))
    assert not result.passed
    assert "montant_estime" in result.reason
    assert "ne peut pas être évaluée" in result.reason


def test_rule_is_compiled_once_per_expression() -> None:
    assert compiled_rule("1 < 2") is compiled_rule("1 < 2")


def test_rule_invalid_params_give_a_line() -> None:
    controls = """\
    - control: rule
      params:
        expression: "montant_estime <"
    """
    (problem,) = problems_of(controls)
    assert problem.field == "transitions[0].controls[0].params.expression"
    assert problem.line == line_with(controls, "expression:")
    assert "Règle invalide" in problem.message
    assert "contrôle « rule »" in problem.message


def test_rule_without_expression_is_refused() -> None:
    controls = """\
    - control: rule
      params: {reference_date_field: date_lancement}
    """
    (problem,) = problems_of(controls)
    assert problem.field == "transitions[0].controls[0].params.expression"
    assert "paramètre obligatoire « expression » manquant" in problem.message


# ------------------------------------------------------------------------------ threshold

THRESHOLD = {
    "field": "montant_estime",
    "table": "dispense_fournitures_services",
    "comparison": "below",
}


def test_threshold_pass_names_value_period_and_source() -> None:
    result = run("threshold", THRESHOLD, snap({"montant_estime": "59999.99"}))
    assert result.passed
    assert result.reason.startswith("montant_estime = 59\u202f999,99 € inférieur au seuil")
    assert "inférieur au seuil" in result.reason
    assert "de 60\u202f000,00 €, applicable à partir du 2026-04-01" in result.reason
    assert "source : Décret n° 2025-1386" in result.reason


def test_threshold_fail_at_the_threshold() -> None:
    result = run("threshold", THRESHOLD, snap({"montant_estime": "60000.00"}))
    assert not result.passed
    assert result.reason.startswith("montant_estime = 60\u202f000,00 € n'est pas inférieur au")


def test_threshold_uses_the_reference_date_field() -> None:
    params = {**THRESHOLD, "reference_date_field": "date_lancement"}
    data = {"montant_estime": "50000.00", "date_lancement": "2026-01-15"}
    result = run("threshold", params, snap(data))
    assert not result.passed
    assert "40\u202f000,00 €, applicable du 2024-01-01 au 2026-03-31" in result.reason


def test_threshold_other_comparisons() -> None:
    data = snap({"montant_estime": "60000.00"})
    assert run("threshold", {**THRESHOLD, "comparison": "below_or_equal"}, data).passed
    assert run("threshold", {**THRESHOLD, "comparison": "at_least"}, data).passed
    assert not run("threshold", {**THRESHOLD, "comparison": "above"}, data).passed


def test_threshold_missing_amount_fails_clearly() -> None:
    result = run("threshold", THRESHOLD, snap({}))
    assert not result.passed
    assert result.reason == (
        "le champ « montant_estime » n'est pas renseigné : comparaison impossible"
    )


def test_threshold_without_a_value_on_the_date_fails_clearly() -> None:
    result = run(
        "threshold", THRESHOLD, snap({"montant_estime": "1.00"}, opened_at=date(2020, 1, 1))
    )
    assert not result.passed
    assert "ne s'applique le 2020-01-01" in result.reason


def test_threshold_invalid_params_give_a_line() -> None:
    controls = """\
    - control: threshold
      params:
        field: montant_estime
        table: dispense_fournitures_services
        comparison: under
    """
    (problem,) = problems_of(controls)
    assert problem.field == "transitions[0].controls[0].params.comparison"
    assert problem.line == line_with(controls, "comparison:")
    assert "valeur « under » non reconnue" in problem.message
    assert "below_or_equal" in problem.message


def test_threshold_unknown_table_fails_with_a_suggestion() -> None:
    params = {**THRESHOLD, "table": "dispense_fourniture_services"}
    result = run("threshold", params, snap({"montant_estime": "1.00"}))
    assert not result.passed
    assert "vouliez-vous dire « dispense_fournitures_services »" in result.reason
