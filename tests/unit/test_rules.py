"""Rules in CEL: compile errors, evaluation, missing fields, exact decimals, param() by date."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import celpy
import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.definition import FieldDef, FieldType
from engine.errors import EngineError, InvalidValue
from engine.parameters import ParameterBook, ParameterMissing
from engine.rules import MAX_LENGTH, DecimalValue, Rule, RuleError, RuleSyntaxError

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ParameterBook.load(ROOT / "workflows" / "parameters")
MAY_2026 = date(2026, 5, 1)


class FakeParameters:
    """A ParameterLookup of fixed values, changing on 1 April 2026; records its calls."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, date]] = []

    def value(self, table_id: str, on: date) -> Decimal:
        self.calls.append((table_id, on))
        if table_id == "seuil":
            return Decimal("40000") if on < date(2026, 4, 1) else Decimal("60000")
        if table_id == "pourcentage":
            return Decimal("10")
        raise ParameterMissing(table_id, on, f"Aucune valeur de « {table_id} » le {on}.")


def run(expression: str, data: dict[str, Any] | None = None, **options: Any) -> bool:
    options.setdefault("params", FakeParameters())
    options.setdefault("on", MAY_2026)
    return Rule.compile(expression, where="essai.yaml:3").evaluate(data or {}, **options)


def failure(expression: str, data: dict[str, Any] | None = None, **options: Any) -> str:
    with pytest.raises(RuleError) as caught:
        run(expression, data, **options)
    error = caught.value
    assert isinstance(error, EngineError)
    assert (error.expression, error.where) == (expression, "essai.yaml:3")
    assert error.message.startswith(f"La règle « {expression} » (essai.yaml:3) ")
    return error.message


def syntax_error(expression: str) -> str:
    with pytest.raises(RuleSyntaxError) as caught:
        Rule.compile(expression, where="essai.yaml:3")
    error = caught.value
    assert isinstance(error, InvalidValue)
    assert error.field == "essai.yaml:3"
    assert error.message.startswith("Règle invalide (essai.yaml:3) ")
    assert error.message.endswith(".")
    return error.message


# --- The examples of the brief, on the shipped tables ---


@pytest.mark.parametrize(
    ("amount", "on", "expected"),
    [
        ("150000.00", MAY_2026, True),
        ("216000.00", MAY_2026, False),
        ("220000.00", date(2025, 5, 1), True),
    ],
)
def test_amount_against_the_eu_threshold_of_the_day(amount: str, on: date, expected: bool) -> None:
    """216 000 € HT in 2026, 221 000 € HT in 2025: the threshold of the reference date."""
    rule = 'montant_estime < param("seuil_procedure_formalisee_fcs_collectivites")'
    assert run(rule, {"montant_estime": amount}, params=SHIPPED, on=on) is expected


@pytest.mark.parametrize(
    ("nature", "amount", "on", "expected"),
    [
        ("fournitures", "50000.00", date(2026, 3, 31), False),
        ("fournitures", "50000.00", date(2026, 4, 1), True),
        ("services", "39999.99", date(2026, 3, 31), True),
        ("services", "60000.00", date(2026, 4, 1), False),
        ("travaux", "99999.99", date(2026, 3, 31), True),
        ("travaux", "99999.99", date(2026, 4, 1), True),
        ("travaux", "100000.00", date(2026, 4, 1), False),
    ],
)
def test_dispense_depends_on_nature_and_on_the_1_april_2026_change(
    nature: str, amount: str, on: date, expected: bool
) -> None:
    """R2122-8: 100 000 € HT for works; 40 000 then 60 000 € HT for supplies and services."""
    rule = (
        'nature == "travaux" ? montant_estime < param("dispense_travaux")'
        ' : montant_estime < param("dispense_fournitures_services")'
    )
    data = {"nature": nature, "montant_estime": amount}
    assert run(rule, data, params=SHIPPED, on=on) is expected


def test_a_rule_lists_the_tables_it_reads() -> None:
    """Table ids are literals, so every rule's parameters are known when it is compiled."""
    rule = Rule.compile("a < param(\"seuil\") || b > param('pourcentage')", where="x")
    assert rule.parameters == frozenset({"seuil", "pourcentage"})
    assert Rule.compile("true", where="x").parameters == frozenset()


def test_a_compiled_rule_is_evaluated_many_times() -> None:
    """Compile once; each evaluation gets its own data, parameters and date."""
    rule = Rule.compile('montant < param("seuil")', where="x")
    params = FakeParameters()
    assert rule.evaluate({"montant": "50000.00"}, params=params, on=date(2026, 4, 1)) is True
    assert rule.evaluate({"montant": "50000.00"}, params=params, on=date(2026, 3, 31)) is False
    assert params.calls == [("seuil", date(2026, 4, 1)), ("seuil", date(2026, 3, 31))]


# --- Compile errors ---


@pytest.mark.parametrize(
    ("expression", "place"),
    [
        ("montant_estime <", "ligne 1, colonne 16"),
        ("a + (b", "ligne 1, colonne 6, près de « b »"),
        ('nature == "travaux" &&\n  montant >> 3', "ligne 2, colonne 12"),
        ("a ! b", "ligne 1, colonne 3, près de « ! b »"),
    ],
)
def test_syntax_errors_give_line_and_column_in_one_french_sentence(
    expression: str, place: str
) -> None:
    """A syntax error names where the rule is written and where in the text it breaks."""
    message = syntax_error(expression)
    assert f"erreur de syntaxe {place}" in message
    assert "\n" not in message


def test_empty_and_overlong_expressions_are_refused() -> None:
    """An empty rule, and one longer than MAX_LENGTH characters, do not compile."""
    assert "expression vide" in syntax_error("  ")
    assert "trop longue" in syntax_error("true && " * (MAX_LENGTH // 8 + 1) + "true")


@pytest.mark.parametrize(
    ("expression", "name"),
    [
        ("__import__('os')", "__import__"),
        ('eval("1")', "eval"),
        ('open("/etc/passwd") == ""', "open"),
        ('"abc".upper() == "ABC"', "upper"),
        ('dossier.keys() == ["a"]', "keys"),
        ("exec('x')", "exec"),
    ],
)
def test_unknown_functions_are_refused_at_compile_time(expression: str, name: str) -> None:
    """Only CEL's standard functions and Jalon's own are callable; no Python name is."""
    assert f"fonction « {name} » inconnue" in syntax_error(expression)


def test_close_function_names_are_suggested() -> None:
    """A misspelt function is answered with the right name."""
    assert "vouliez-vous dire « param » ?" in syntax_error('montant < parm("seuil")')


@pytest.mark.parametrize("expression", ["param(nature) > 1", 'param("Seuil") > 1', "param() > 1"])
def test_param_takes_a_table_id_in_quotes(expression: str) -> None:
    """A computed or malformed table id is refused: rules read known tables only."""
    assert "param() attend l'identifiant d'une table entre guillemets" in syntax_error(expression)


def test_message_construction_is_refused() -> None:
    """Protobuf message literals are outside the rule language."""
    assert "construction non autorisée" in syntax_error("google.protobuf.Int32Value{value: 1} == 1")


# --- No Python evaluation ---


def test_rules_run_on_celpys_interpreter_never_its_transpiler() -> None:
    """celpy's CompiledRunner would exec generated Python; rules never use it."""
    from engine import rules  # noqa: PLC0415 - reaching the private environment on purpose

    assert rules._environment().runner_class is celpy.InterpretedRunner


@pytest.mark.parametrize(
    "expression",
    [
        '"x".__class__ == 1',
        "dossier.__class__ == 1",
        'dossier["__class__"] == 1',
        "montant.real == 1",
    ],
)
def test_python_attributes_are_out_of_reach(expression: str) -> None:
    """Field selection never reaches Python attributes: it fails as a clean RuleError."""
    message = failure(expression, {"montant": "1.00"})
    assert "ne peut pas être évaluée" in message


# --- Evaluation, types and results ---


def test_values_of_every_stored_type_reach_cel_typed() -> None:
    """Texts, integers, booleans, amounts, dates and lists keep their meaning."""
    data = {
        "objet": "Fournitures de bureau",
        "offres_recues": 4,
        "urgence": False,
        "montant_estime": "45000.50",
        "date_envoi_avis": "2026-05-04",
        "lots": ["Lot 1", "Lot 2"],
        "montants_lots": ["10000.00", "35000.50"],
    }
    rule = (
        'objet.startsWith("Fournitures") && offres_recues >= 3 && !urgence'
        " && montant_estime == montants_lots[0] + montants_lots[1]"
        ' && date_envoi_avis >= date("2026-04-01") && date_envoi_avis.getDayOfWeek() == 1'
        ' && size(lots) == 2 && "Lot 2" in lots && montants_lots.all(m, m < 40000)'
    )
    assert run(rule, data) is True


def test_jours_entre_counts_calendar_days() -> None:
    """A reception period checked against the minimum of the day (35 days, AOO)."""
    rule = 'jours_entre(date_envoi_avis, date_limite_reception) >= param("delai_reception_aoo")'
    data = {"date_envoi_avis": "2026-05-01", "date_limite_reception": "2026-06-05"}
    assert run(rule, data, params=SHIPPED) is True
    data["date_limite_reception"] = "2026-06-04"
    assert run(rule, data, params=SHIPPED) is False
    assert run('jours_entre(date("2026-03-31"), date("2026-04-01")) == 1') is True


def test_field_types_from_the_definition_win_over_the_form_of_the_text() -> None:
    """Without field types a text shaped like an amount is an amount; with them it stays text."""
    fields = {"reference": FieldDef(type=FieldType.TEXT, label="Référence")}
    assert run('reference == "2024.10"', {"reference": "2024.10"}, fields=fields) is True
    assert "impossible entre un nombre décimal et un texte" in failure(
        'reference == "2024.10"', {"reference": "2024.10"}
    )
    amounts = {
        "montant": FieldDef(type=FieldType.AMOUNT, label="Montant"),
        "jours": FieldDef(type=FieldType.LIST, label="Dates", items=FieldType.DATE),
    }
    data = {"montant": "12", "jours": ["2026-01-01"]}
    assert run('montant == 12 && jours[0] == date("2026-01-01")', data, fields=amounts)


@pytest.mark.parametrize(
    ("expression", "kind"),
    [
        ("montant", "un nombre décimal « 150000.00 »"),
        ('nature + "s"', "un texte « travauxs »"),
        ("1 + 2", "un entier « 3 »"),
        ("[true]", "une liste"),
    ],
)
def test_a_result_that_is_not_a_boolean_is_an_error(expression: str, kind: str) -> None:
    """A rule must say true or false; anything else names the expression and what it gave."""
    message = failure(expression, {"montant": "150000.00", "nature": "travaux"})
    assert f"doit donner vrai ou faux, or elle donne {kind}" in message


def test_operations_between_incompatible_types_are_errors() -> None:
    """Comparing a text with a number is refused, not silently false."""
    assert "opération impossible" in failure("nature == 1", {"nature": "travaux"})
    assert "impossible entre un nombre décimal et un texte" in failure(
        'montant < "1000"', {"montant": "1.00"}
    )


def test_division_by_zero_is_an_error() -> None:
    """Integers and amounts alike."""
    assert "division par zéro" in failure("1 / 0 == 1")
    assert "division par zéro" in failure("montant / 0 == 1", {"montant": "1.00"})
    assert "division par zéro" in failure("montant % 0 == 1", {"montant": "1.00"})


def test_floats_in_case_data_are_refused() -> None:
    """Stored case data never holds floats; if one appears it is refused, not rounded."""
    assert "ne peut pas lire le dossier" in failure("x > 1", {"x": 1.5})


# --- Missing fields ---


def test_a_missing_field_is_a_french_error_naming_it() -> None:
    """Reading an absent field names it and says how to test for it."""
    message = failure('montant_estime < param("seuil")', {})
    assert "le champ « montant_estime » n'est pas renseigné" in message
    assert "has(dossier.montant_estime)" in message


def test_none_counts_as_absent() -> None:
    """A field set to None is not in the case's data."""
    assert run("has(dossier.montant)", {"montant": None}) is False
    assert "n'est pas renseigné" in failure("montant > 1", {"montant": None})


def test_has_tests_presence_and_guards_the_rest() -> None:
    """has(dossier.x) is false for an absent field; && and || absorb the error it guards."""
    assert run("has(dossier.montant)", {"montant": "1.00"}) is True
    assert run("has(dossier.montant) && montant > 10", {}) is False
    assert run("!has(dossier.montant) || montant > 10", {}) is True
    assert run('has(dossier.montant) ? montant > 10 : nature == "travaux"', {"nature": "travaux"})
    assert "le champ « absent » est absent" in failure("dossier.absent == 1")


# --- Exact decimals ---


def test_amounts_are_exact_where_doubles_are_not() -> None:
    """0.10 + 0.20 == 0.30 with amounts; the same sum in doubles is false, as in any language."""
    data = {"a": "0.10", "b": "0.20", "c": "0.30"}
    assert run("a + b == c", data) is True
    assert run("double(a) + double(b) == double(c)", data) is False


def test_amounts_combine_exactly_with_integers_on_both_sides() -> None:
    """An integer literal means euros; either side of the operator."""
    data = {"montant": "215999.99"}
    assert run("montant < 216000 && 216000 > montant", data) is True
    assert run('montant + decimal("0.01") == 216000', data) is True
    assert run('216000 - montant == decimal("0.01")', data) is True
    assert run('-montant < 0 && montant * 2 == decimal("431999.98")', data) is True
    assert run("montant <= 215999 || 215999 >= montant", data) is False


def test_doubles_never_mix_with_amounts() -> None:
    """A double literal next to an amount is refused with the exact way to write it."""
    message = failure("montant * 1.1 > 100", {"montant": "100.00"})
    assert "impossible entre un nombre décimal et un nombre à virgule flottante (double)" in message
    assert 'decimal("1.5")' in message
    assert run('montant * decimal("1.1") == decimal("110.000")', {"montant": "100.00"}) is True


def test_percentages_of_amounts_are_exact() -> None:
    """De minimis: cumulated modifications below 10 % of the initial amount (R2194-8)."""
    rule = 'modifications * 100 < montant_initial * param("pourcentage")'
    assert run(rule, {"modifications": "9999.99", "montant_initial": "100000.00"}) is True
    assert run(rule, {"modifications": "10000.00", "montant_initial": "100000.00"}) is False
    assert run("montant / 3 * 3 == montant", {"montant": "100.00"}) is False  # 34 digits, not ∞


def test_param_values_are_exact_decimals() -> None:
    """param() gives a DecimalValue equal to integers and decimals alike."""
    assert run('param("seuil") == 60000 && param("seuil") == decimal("60000.00")') is True
    assert str(DecimalValue("1.50")) == "1.50"
    assert repr(DecimalValue("1.50")) == "DecimalValue('1.50')"


@given(
    a=st.integers(min_value=0, max_value=10**15),
    b=st.integers(min_value=0, max_value=10**15),
)
def test_sums_and_comparisons_of_amounts_match_decimal_arithmetic(a: int, b: int) -> None:
    """For any two amounts in cents, CEL's sum and order are exactly Decimal's."""
    x, y = Decimal(a).scaleb(-2), Decimal(b).scaleb(-2)
    data = {"x": f"{x:.2f}", "y": f"{y:.2f}", "s": f"{x + y:.2f}"}
    assert run("x + y == s", data) is True
    assert run("x < y", data) is (x < y)


# --- param() by date ---


def test_param_reads_the_value_of_the_reference_date() -> None:
    """The rule's date picks the row; the two-argument form picks another date."""
    params = FakeParameters()
    assert run('param("seuil") == 40000', params=params, on=date(2026, 3, 31)) is True
    assert run('param("seuil") == 60000', params=params, on=date(2026, 4, 1)) is True
    assert run('param("seuil", date_lancement) == 40000', {"date_lancement": "2026-01-15"})
    assert run('param("seuil", "2026-04-01") == 60000') is True
    assert params.calls == [("seuil", date(2026, 3, 31)), ("seuil", date(2026, 4, 1))]


def test_a_missing_parameter_is_a_rule_error_naming_table_and_date() -> None:
    """No row on that date: the rule fails with the table's own French explanation."""
    message = failure(
        'montant < param("taux_bce_refinancement")',
        {"montant": "1.00"},
        params=SHIPPED,
        on=date(2018, 1, 1),  # no table has a row before 2019
    )
    assert "taux_bce_refinancement" in message
    assert "2018-01-01" in message
    assert "paramètre inconnu" not in message
    unknown = failure('param("seuil_inconnu") > 1', params=SHIPPED)
    assert "paramètre « seuil_inconnu » inconnu" in unknown


def test_an_unused_missing_parameter_does_not_fail() -> None:
    """Only the branch taken is evaluated; an error absorbed by && or || does not count."""
    assert run('false ? param("absent") > 1 : true') is True
    assert run('false && param("absent") > 1') is False


def test_every_example_of_the_documentation_compiles_and_reads_shipped_tables() -> None:
    """docs/rules.md shows only rules that compile, on tables that exist."""
    text = (ROOT / "docs" / "rules.md").read_text(encoding="utf-8")
    examples = re.findall(r"```cel\n(.*?)\n```", text, re.DOTALL)
    assert len(examples) >= 10
    shipped = {table.id for table in SHIPPED.tables()}
    for example in examples:
        assert Rule.compile(example, where="docs/rules.md").parameters <= shipped, example
