"""The fast path of rules (engine/rules_compiled.py) against celpy's interpreter, the reference.

The fast path may only answer when it gives the interpreter's answer; everywhere else it
abandons and ``Rule.evaluate`` hands over to the interpreter. Checked here three ways:

- every test of ``test_rules.py`` runs again in this module with ``Rule.evaluate`` replaced by
  a differential check (the interpreter's outcome is returned; the fast path's answer, when it
  gives one, must be the same);
- property tests generate expressions from a small grammar over generated case data (amounts,
  integers, texts, dates, lists, booleans, missing fields) and compare the three ways of
  evaluating a rule;
- examples pin down the semantics covered and the bail-outs.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from engine import rules, rules_compiled, rules_reading
from engine.definition import FieldDef, FieldType
from engine.errors import EngineError
from engine.parameters import ParameterBook, ParameterMissing
from engine.rules import TYPE_NAMES, ParameterLookup, Rule, RuleError, RuleSyntaxError
from tests.unit import test_rules as reference

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ParameterBook.load(ROOT / "workflows" / "parameters")
ON = date(2026, 5, 1)
EVALUATE = Rule.evaluate
"""The real ``Rule.evaluate`` (this module's fixture replaces it by :func:`differential`)."""
WARM_UP = Rule.compile("true", where="import")
"""Builds celpy's environment (which raises the recursion limit) before any property test."""

# --------------------------------------------------- the rule tests again, differentially


class _Replay:
    """A parameter lookup answering each (table, date) once, then replaying the answer.

    The interpreter and the fast path then read the same values without the lookup seeing
    two evaluations (some tests record its calls).
    """

    def __init__(self, params: ParameterLookup) -> None:
        self.params = params
        self.answers: dict[tuple[str, date], Decimal | EngineError] = {}

    def value(self, table_id: str, on: date) -> Decimal:
        if (table_id, on) not in self.answers:
            try:
                self.answers[table_id, on] = self.params.value(table_id, on)
            except EngineError as error:
                self.answers[table_id, on] = error
        answer = self.answers[table_id, on]
        if isinstance(answer, EngineError):
            raise answer
        return answer


def outcome(evaluation: Callable[[], bool | None]) -> tuple[str, object]:
    """``("ok", result)`` or ``("error", message)``."""
    try:
        return "ok", evaluation()
    except RuleError as error:
        return "error", error.message


def differential(
    rule: Rule,
    data: Mapping[str, Any],
    *,
    params: ParameterLookup,
    on: date,
    fields: Mapping[str, FieldDef] | None = None,
) -> bool:
    """``Rule.evaluate`` for the reference tests: the interpreter's result or very error,
    checked against the fast path's answer when it gives one."""
    replay = _Replay(params)
    answer = outcome(lambda: rule.evaluate_fast(data, params=replay, on=on, fields=fields))
    expected = outcome(lambda: rule.interpret(data, params=replay, on=on, fields=fields))
    assert answer in {("ok", None), expected}, rule.expression
    return rule.interpret(data, params=replay, on=on, fields=fields)  # its result or error


@pytest.fixture(autouse=True)
def _differential(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every ``Rule.evaluate`` of this module's reference tests checks the fast path."""
    monkeypatch.setattr(Rule, "evaluate", differential)


for _name, _test in vars(reference).items():
    if _name.startswith("test_") and callable(_test):
        globals()[_name] = _test  # collected here again, under the fixture above


def test_the_reference_tests_are_collected_again() -> None:
    """The loop above really brings test_rules.py's tests into this module."""
    names = [name for name in vars(reference) if name.startswith("test_")]
    assert len(names) >= 30
    assert all(globals()[name] is getattr(reference, name) for name in names)


def test_the_differential_check_raises_the_interpreters_error() -> None:
    """The error raised by the check is word for word the interpreter's."""
    rule = Rule.compile("montant > 1", where="essai.yaml:3")
    with pytest.raises(RuleError) as caught:
        rule.evaluate({}, params=SHIPPED, on=ON)
    with pytest.raises(RuleError) as reference_error:
        rule.interpret({}, params=SHIPPED, on=ON)
    assert caught.value.message == reference_error.value.message


# ------------------------------------------------------------------------- helpers


class Parameters:
    """Two tables: ``seuil`` (changing on 1 April 2026) and ``pourcentage``; others fail."""

    def value(self, table_id: str, on: date) -> Decimal:
        if table_id == "seuil":
            return Decimal("40000") if on < date(2026, 4, 1) else Decimal("60000")
        if table_id == "pourcentage":
            return Decimal("10")
        raise ParameterMissing(table_id, on, f"Aucune valeur de « {table_id} » le {on}.")


PARAMS = Parameters()


def three_ways(rule: Rule, data: Mapping[str, Any], **options: Any) -> tuple[Any, ...]:
    """The interpreter's outcome, the fast path's answer, and ``evaluate``'s outcome."""
    options = {"params": PARAMS, "on": ON, **options}
    interpreter = outcome(lambda: rule.interpret(data, **options))
    fast = outcome(lambda: rule.evaluate_fast(data, **options))
    evaluated = outcome(lambda: EVALUATE(rule, data, **options))
    return interpreter, fast, evaluated


def check(rule: Rule, data: Mapping[str, Any], **options: Any) -> str:
    """Assert the fast path agrees (or abandons) and ``evaluate`` is the interpreter; say which."""
    interpreter, fast, evaluated = three_ways(rule, data, **options)
    assert evaluated == interpreter, rule.expression
    if fast == ("ok", None):
        return "abandoned" if rule._fast is not None else "no fast path"
    assert fast == interpreter, rule.expression
    return "answered"


def fast(expression: str, data: Mapping[str, Any] | None = None) -> bool | None:
    return Rule.compile(expression, where="essai").evaluate_fast(data or {}, params=PARAMS, on=ON)


def interpreted(expression: str, data: Mapping[str, Any] | None = None) -> tuple[str, object]:
    rule = Rule.compile(expression, where="essai")
    return outcome(lambda: rule.interpret(data or {}, params=PARAMS, on=ON))


# ------------------------------------------------------------- what the fast path covers

DATA: dict[str, Any] = {
    "nature": "fournitures",
    "objet": "Fournitures de bureau",
    "montant": "59999.99",
    "montant_initial": "100000.00",
    "modifications": "9999.99",
    "offres": 3,
    "urgence": False,
    "d1": "2026-05-04",
    "d2": "2026-06-08",
    "lots": ["10000.00", "35000.50"],
    "noms": ["Lot 1", "Lot 2"],
}


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ('nature == "fournitures"', True),
        ('montant < param("seuil")', True),
        ('nature == "travaux" ? montant < param("seuil") : montant < 60000', True),
        ('has(dossier.montant) && montant >= param("seuil")', False),
        ('!has(dossier.absent) || absent > param("seuil")', True),
        ("jours_entre(d1, d2) >= 35", True),
        ('modifications * 100 < montant_initial * param("pourcentage")', True),
        ('lots.all(m, m < 40000) && d1.getFullYear() == date("2026-01-01").getFullYear()', True),
        ('lots.exists(m, m > 30000) && noms.exists_one(n, n.endsWith("2"))', True),
        ('size(lots.filter(m, m > decimal("10000.00"))) == 1', True),
        ("lots.map(m, m * 2)[1] == 70001", True),
        ('objet.startsWith("Fourniture") && objet.contains("bureau")', True),
        ('objet.matches("^F.*u$") || !urgence', True),
        ('"Lot 2" in noms && !("Lot 3" in noms)', True),
        ("offres % 2 == 1 && offres / 2 == 1 && -offres < 0 && offres - 1 == 2", True),
        ('int("3") == offres && string(offres) == "3" && uint(offres) == 3u', True),
        ("type(offres) == int && type(nature) == string", True),
        ('dossier["montant"] == montant && dossier.offres == 3', True),
        ('[1, 2][1] == 2 && {"a": 1}["a"] == 1 && size({"a": 1, "b": 2}) == 2', True),
        ("b'ab' == b'ab' && 2.5 > 1.5 && null == null && dyn(offres) == 3", True),
        ('d1 < d2 && d1 >= date("2026-04-01") && timestamp("2026-05-04T00:00:00Z") == d1', True),
        ('param("seuil", "2026-03-31") == 40000', True),
    ],
)
def test_typical_rules_are_answered_by_the_fast_path(expression: str, expected: bool) -> None:
    """Each construct of docs/rules.md is translated and answered without the interpreter."""
    assert fast(expression, DATA) is expected
    assert interpreted(expression, DATA) == ("ok", expected)


def test_every_example_of_the_documentation_has_a_fast_path() -> None:
    """The rules of docs/rules.md are all translated, and answered on shipped tables."""
    text = (ROOT / "docs" / "rules.md").read_text(encoding="utf-8")
    examples = re.findall(r"```cel\n(.*?)\n```", text, re.DOTALL)
    data = {
        "montant_estime": "150000.00",
        "montant_modifications": "1000.00",
        "montant_initial": "100000.00",
        "montant_attribue": "50000.00",
        "montant_avenants": "1000.00",
        "nature": "travaux",
        "date_envoi_avis": "2026-05-04",
        "date_limite_reception": "2026-06-15",
        "date_envoi_rejets": "2026-05-04",
        "date_signature": "2026-05-20",
        "date_notification": "2026-06-01",
        "date_lancement": "2026-05-04",
        "rejets_electroniques": True,
        "attribue_par_cao": False,
        "supports_publicite": ["boamp"],
        "montants_lots": ["10000.00"],
    }
    for example in examples:
        rule = Rule.compile(example, where="docs/rules.md")
        assert rule._fast is not None, example
        assert check(rule, data, params=SHIPPED) == "answered", example


# ----------------------------------------------------------------- CEL's error values


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("false && 1 / 0 == 1", False),
        ("1 / 0 == 1 && false", False),
        ("true || 1 / 0 == 1", True),
        ("1 / 0 == 1 || true", True),
        ("absent > 1 || true", True),
        ("has(dossier.absent) && absent > 1", False),
        ("has(absent)", False),
        ("has(dossier.offres)", True),
        ("[1, 2].all(x, 2 / (x - 1) > 0) || true", True),
        ("[0, 1].exists(x, 1 / x == 1)", True),
        ("[0, 1].all(x, 1 / x == 1)", None),
        ("false ? 1 / 0 == 1 : true", True),
        ('false && param("inconnu") > 1', False),
    ],
)
def test_errors_are_absorbed_exactly_as_the_interpreter_does(
    expression: str, expected: bool | None
) -> None:
    """``false && error`` is false, ``error || true`` is true; an error result abandons."""
    assert fast(expression, DATA) is expected
    rule = Rule.compile(expression, where="essai")
    assert check(rule, DATA) == ("answered" if expected is not None else "abandoned")


@pytest.mark.parametrize(
    "expression",
    [
        "absent > 1",  # a missing field: the interpreter's message names it
        "nature == 1",  # a type mismatch
        "montant * 1.5 > 1",  # a double next to an amount: Jalon's French message
        "montant",  # not a boolean
        "1 == 1u",  # CEL's int and uint do not compare
        "1 == 1.0",  # ... nor int and double
        '{"a": 1 / 0}["a"] == 1',  # an error inside a map literal
        "lots.map(m, m / 0) == []",  # a list macro's error, raised by the interpreter
        "false && lots.map(m, m / 0) == []",  # ... through && as well
        "false && offres.all(x, true)",  # an exception of celpy (not iterable), through &&
        "(1 / 0 == 1) ? true : false",  # an error as the condition
        "int(1.0 / 0.0) == 1",  # an exception celpy does not catch (OverflowError)
        '{"a": 1, "a": 2} == {}',  # a duplicate key
        'param("inconnu") > 1',  # a missing parameter: the table's own explanation
    ],
)
def test_the_fast_path_abandons_and_the_interpreter_gives_its_error(expression: str) -> None:
    """No answer from the fast path; ``evaluate`` raises the interpreter's very RuleError."""
    rule = Rule.compile(expression, where="essai")
    assert rule._fast is not None
    assert check(rule, DATA) == "abandoned"
    assert interpreted(expression, DATA)[0] == "error"


@pytest.mark.parametrize(
    "expression",
    [
        "google == 1",  # celpy's protobuf annotations resolve before any field
        "dyn(1, 2) == 1",  # a macro with another number of arguments
        "has(offres, nature)",
        "[1].all(x) == true",
        "[1].map(x, x, x) == [1]",
        "[1].all(x + 1, true)",
        "offres.has(nature)",  # a macro name as a method: "undeclared reference"
        "9223372036854775808 > 1",  # a literal celpy cannot convert
        "(" * 20 + "offres" + ")" * 20 + " == 3",  # deeper than MAX_DEPTH
    ],
)
def test_constructs_the_translation_leaves_to_the_interpreter(expression: str) -> None:
    """These rules get no fast path; ``evaluate`` is then the interpreter alone."""
    rule = Rule.compile(expression, where="essai")
    assert rule._fast is None
    assert check(rule, DATA) == "no fast path"


# ------------------------------------------------------------------ names and the map


@pytest.mark.parametrize(
    ("expression", "data", "expected"),
    [
        ('type == "ouvert"', {"type": "ouvert"}, True),  # a field named like a CEL type
        ("type(offres) == int", {"offres": 1}, True),  # ... and the type itself
        ("size == size", {}, True),  # an unset name that is a function: the function
        ("lots.all(offres, offres > 0) && offres == 3", {"lots": [1], "offres": 3}, True),
        ("lots.all(dossier, dossier > 0)", {"lots": [1]}, True),  # a variable named dossier
        ('dossier.dossier == "x" && size(dossier) == 1', {"dossier": "x"}, True),
        ('"montant" in dossier && size(dossier) == 2', {"montant": "1.00", "n": 1}, True),
        ('dossier[nom] == "1.00"', {"nom": "x", "x": "1.00"}, None),  # a decimal, not a text
        ("lots.exists(l, lots.exists(l, l == 2))", {"lots": [1, 2]}, True),  # shadowing
    ],
)
def test_names_resolve_as_in_the_interpreter(
    expression: str, data: dict[str, Any], expected: bool | None
) -> None:
    """Fields, type names, functions, list-macro variables and the map, in celpy's order."""
    assert fast(expression, data) is expected
    check(Rule.compile(expression, where="essai"), data)


def test_only_the_fields_a_rule_reads_are_converted() -> None:
    """An unread field of an unsupported type no longer stops a rule that does not read it;
    a rule that reads the map as a whole converts every field."""
    data = {"x": 2, "y": 1.5}
    assert EVALUATE(Rule.compile("x > 1", where="e"), data, params=PARAMS, on=ON) is True
    with pytest.raises(RuleError, match="ne peut pas lire le dossier"):
        EVALUATE(Rule.compile("size(dossier) > 1", where="e"), data, params=PARAMS, on=ON)


def test_reads_finds_fields_variables_and_the_whole_map() -> None:
    """What rules_reading.reads gives engine.rules (field_names hides type names)."""
    reads = rules_reading.reads
    tree = Rule.compile('lots.all(l, l < n) && has(dossier.a) && dossier["b"] > int', where="e")
    assert reads(tree._ast) == rules_reading.Reads(("lots", "n", "a", "b", "int"), False)
    assert tree.field_names() == ("lots", "n", "a", "b")
    assert reads(Rule.compile("size(dossier) > 0", where="e")._ast).whole_map
    assert reads(Rule.compile("dossier[k] > 0", where="e")._ast) == rules_reading.Reads(
        ("k",), True
    )
    names = {"bool", "bytes", "double", "duration", "int", "list", "map", "null_type"}
    assert names | {"string", "timestamp", "type", "uint"} == TYPE_NAMES


# -------------------------------------------------------- param(), threads, reentrancy


def test_param_reads_the_lookup_and_date_of_its_own_evaluation() -> None:
    """``param()`` is one function for the process; its lookup and date are per evaluation,
    per thread, and restored after a nested evaluation."""
    rule = Rule.compile('param("seuil") == 60000', where="e")

    class Nested:
        def value(self, table_id: str, on: date) -> Decimal:
            inner = Rule.compile('param("seuil") == 40000', where="inner")
            assert EVALUATE(inner, {}, params=PARAMS, on=date(2026, 1, 1)) is True
            return PARAMS.value(table_id, on)

    assert EVALUATE(rule, {}, params=Nested(), on=ON) is True
    assert rule.interpret({}, params=Nested(), on=ON) is True

    def one(day: date) -> bool:
        return EVALUATE(rule, {}, params=PARAMS, on=day)

    days = [date(2026, 3, 31), date(2026, 4, 1)] * 50
    with ThreadPoolExecutor(max_workers=4) as pool:
        assert list(pool.map(one, days)) == [day >= date(2026, 4, 1) for day in days]


def test_the_shared_activation_keeps_nothing_from_one_case_to_the_next() -> None:
    """The interpreter's base activation is built once; each case's values stay its own."""
    rule = Rule.compile("x > 1", where="e")
    assert rule.interpret({"x": 2}, params=PARAMS, on=ON) is True
    with pytest.raises(RuleError, match="« x » n'est pas renseigné"):
        rule.interpret({}, params=PARAMS, on=ON)


def test_the_switch_forces_the_interpreter(monkeypatch: pytest.MonkeyPatch) -> None:
    """``rules.FAST_PATH = False``: ``evaluate`` never calls the fast path."""
    calls: list[object] = []
    monkeypatch.setattr(rules_compiled.Program, "run", lambda self, values: calls.append(1))
    rule = Rule.compile("1 < 2", where="e")
    monkeypatch.setattr(rules, "FAST_PATH", False)
    assert EVALUATE(rule, {}, params=PARAMS, on=ON) is True
    assert calls == []
    monkeypatch.setattr(rules, "FAST_PATH", True)
    assert EVALUATE(rule, {}, params=PARAMS, on=ON) is True  # run() gave None: interpreter
    assert calls == [1]


# ------------------------------------------------------------------- property tests

FIELDS = {
    "montant": FieldDef(type=FieldType.AMOUNT, label="Montant"),
    "plafond": FieldDef(type=FieldType.AMOUNT, label="Plafond"),
    "n": FieldDef(type=FieldType.INTEGER, label="N"),
    "m": FieldDef(type=FieldType.INTEGER, label="M"),
    "nature": FieldDef(type=FieldType.TEXT, label="Nature"),
    "objet": FieldDef(type=FieldType.TEXT, label="Objet"),
    "d1": FieldDef(type=FieldType.DATE, label="D1"),
    "d2": FieldDef(type=FieldType.DATE, label="D2"),
    "flag": FieldDef(type=FieldType.BOOLEAN, label="Flag"),
    "lots": FieldDef(type=FieldType.LIST, label="Lots", items=FieldType.AMOUNT),
    "noms": FieldDef(type=FieldType.LIST, label="Noms", items=FieldType.TEXT),
}
"""The fields of the generated cases; ``libre`` has no definition (read by its form)."""

AMOUNTS = st.one_of(
    st.sampled_from(["0.00", "0.10", "0.20", "0.30", "40000.00", "59999.99", "60000.00"]),
    st.integers(0, 10**10).map(lambda cents: f"{cents // 100}.{cents % 100:02d}"),
)
INTEGERS = st.one_of(st.integers(-3, 5), st.integers(-(2**63), 2**63 - 1))
TEXTS = st.sampled_from(["", "a", "travaux", "fournitures", "Fournitures de bureau", "é"])
DATES = st.dates(date(2025, 1, 1), date(2027, 12, 31)).map(date.isoformat)
VALUES = {
    "montant": AMOUNTS,
    "plafond": AMOUNTS,
    "n": INTEGERS,
    "m": INTEGERS,
    "nature": TEXTS,
    "objet": TEXTS,
    "d1": DATES,
    "d2": DATES,
    "flag": st.booleans(),
    "lots": st.lists(AMOUNTS, max_size=3),
    "noms": st.lists(TEXTS, max_size=3),
    "libre": st.one_of(AMOUNTS, DATES, TEXTS, st.integers(-3, 3), st.booleans()),
}
CASES = st.fixed_dictionaries({name: st.none() | values for name, values in VALUES.items()})
"""Case data: each field set or missing (``None``)."""

ATOMS = [
    *("montant", "plafond", "n", "m", "nature", "objet", "d1", "d2", "flag", "lots", "noms"),
    *("libre", "absent", "l", "dossier", "dossier.n", 'dossier["montant"]', "lots[0]"),
    *("0", "1", "-3", "60000", "2u", "1.5", "true", "false", "null", '"travaux"', "'a'", '""'),
    *('decimal("0.30")', 'param("seuil")', 'param("inconnu")', 'param("seuil", d1)'),
    *("size(lots)", "size(objet)", "jours_entre(d1, d2)", "d1.getFullYear()", "int(n)"),
    *('date("2026-04-01")', "string(n)", "has(dossier.montant)", "has(dossier.flag)"),
    *('"travaux" in noms', 'objet.startsWith("F")', 'objet.contains("a")', "type(n) == int"),
    *("[1, 2]", "[]", '{"k": n}', "{}", "dyn(flag)"),
]
BINARY = ["&&", "||", "==", "!=", "<", "<=", ">", ">=", "+", "-", "*", "/", "%", "in"]
MACROS = ["all", "exists", "exists_one", "map", "filter"]


def _expressions(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(st.sampled_from(["!", "-"]), inner).map(lambda t: f"{t[0]}({t[1]})"),
        st.tuples(inner, st.sampled_from(BINARY), inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(inner, inner, inner).map(lambda t: f"({t[0]} ? {t[1]} : {t[2]})"),
        st.tuples(st.sampled_from(["lots", "noms", "[n, m]"]), st.sampled_from(MACROS), inner).map(
            lambda t: f"{t[0]}.{t[1]}(l, {t[2]})"
        ),
        st.tuples(inner, inner).map(lambda t: f"[{t[0]}, {t[1]}]"),
        st.tuples(inner, inner).map(lambda t: f"{t[0]}[{t[1]}]"),
        inner.map(lambda e: f"has({e})"),
        inner.map(lambda e: f"size({e})"),
        inner.map(lambda e: f'{{"k": {e}}}.k'),
    )


EXPRESSIONS = st.recursive(st.sampled_from(ATOMS), _expressions, max_leaves=8)
COMPARISONS = st.tuples(
    EXPRESSIONS, st.sampled_from(["==", "!=", "<", "<=", ">", ">="]), EXPRESSIONS
).map(lambda t: f"{t[0]} {t[1]} {t[2]}")


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expression=st.one_of(EXPRESSIONS, COMPARISONS), data=CASES, typed=st.booleans())
def test_the_fast_path_gives_the_interpreters_answer_or_abandons(
    expression: str, data: dict[str, Any], typed: bool
) -> None:
    """On generated rules and cases: when the fast path answers, it is the interpreter's
    answer; ``evaluate`` always gives exactly the interpreter's result or message."""
    try:
        rule = Rule.compile(expression, where="h")
    except RuleSyntaxError:
        event("does not compile")
        return
    event(check(rule, data, fields=FIELDS if typed else None))


NUMBERS = ["montant", "plafond", "n", "m", "0", "1", "60000", 'decimal("0.30")', 'param("seuil")']
NUMBERS += ["size(lots)", "jours_entre(d1, d2)", "d1.getFullYear()", "-n", "dossier.m"]
BOOLEANS = ["flag", "true", "false", "has(dossier.montant)", '"travaux" in noms', "d1 < d2"]
BOOLEANS += ['objet.startsWith("F")', "lots.all(l, l < plafond)", "lots.exists(l, l > n)"]
BOOLEANS += ['nature == "travaux"', "noms.exists_one(s, s == objet)"]


def _typed(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    number = st.sampled_from(NUMBERS)
    arithmetic = st.tuples(number, st.sampled_from(["+", "-", "*"]), number)
    return st.one_of(
        inner.map(lambda e: f"!({e})"),
        st.tuples(inner, st.sampled_from(["&&", "||"]), inner).map(" ".join),
        st.tuples(inner, inner, inner).map(lambda t: f"({t[0]} ? {t[1]} : {t[2]})"),
        st.tuples(arithmetic.map(" ".join), st.sampled_from(["<", ">=", "=="]), number).map(
            " ".join
        ),
    )


TYPED = st.recursive(st.sampled_from(BOOLEANS), _typed, max_leaves=6)
FULL_CASES = st.fixed_dictionaries(
    {**{name: VALUES[name] for name in FIELDS}, "n": st.integers(-999, 999), "m": st.integers(0, 9)}
)
"""Cases with every field set, small integers (no overflow)."""


@settings(max_examples=200, deadline=None)
@given(expression=TYPED, data=FULL_CASES)
def test_well_typed_rules_on_complete_cases_never_leave_the_fast_path(
    expression: str, data: dict[str, Any]
) -> None:
    """Rules that compare numbers, dates and texts of the right types, on cases where every
    field is set, are answered by the fast path itself — and as the interpreter answers."""
    rule = Rule.compile(expression, where="h")
    interpreter, answer, _ = three_ways(rule, data, fields=FIELDS)
    assert interpreter[0] == "ok", (expression, interpreter)
    assert answer == interpreter
