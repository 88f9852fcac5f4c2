"""Typed case values: what officers may type, the canonical form stored, the French refusals."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.definition import FieldDef, FieldType
from engine.errors import InvalidValue
from engine.values import check_value, parse_value

TEXT = FieldDef(type=FieldType.TEXT, label="Objet")
INTEGER = FieldDef(type=FieldType.INTEGER, label="Nombre d'offres")
AMOUNT = FieldDef(type=FieldType.AMOUNT, label="Montant estimé")
DATE = FieldDef(type=FieldType.DATE, label="Date d'envoi")
BOOLEAN = FieldDef(type=FieldType.BOOLEAN, label="Clause sociale")
ENUM = FieldDef(type=FieldType.ENUM, label="Nature", values=["fournitures", "services", "travaux"])
LOTS = FieldDef(type=FieldType.LIST, items=FieldType.TEXT, label="Lots")
AMOUNTS = FieldDef(type=FieldType.LIST, items=FieldType.AMOUNT, label="Montants des lots")
NATURES = FieldDef(
    type=FieldType.LIST, items=FieldType.ENUM, label="Natures", values=["services", "travaux"]
)


def french_amount(value: Decimal) -> str:
    """Format like a French officer: '150 000,50' (space thousands, comma decimals)."""
    units, cents = f"{value:.2f}".split(".")
    groups: list[str] = []
    while units:
        groups.insert(0, units[-3:])
        units = units[:-3]
    return " ".join(groups) + "," + cents


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("150000", "150000.00"),
        ("150 000,50", "150000.50"),
        ("150000.5", "150000.50"),
        ("150 000 €", "150000.00"),
        ("150\u202f000,50\u00a0€", "150000.50"),
        ("  0,05 ", "0.05"),
        ("EUR 12", "12.00"),
    ],
)
def test_amounts_are_read_exactly(raw: str, stored: str) -> None:
    """Amounts in French or plain style are stored as strings with exactly two decimals."""
    assert parse_value(AMOUNT, raw) == stored


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("-5", "négatif"),
        ("1,234", "deux décimales"),
        ("12.345", "deux décimales"),
        ("douze", "attendu"),
        ("1.000,50", "attendu"),
        ("1e5", "attendu"),
        ("", "attendu"),
        ("9" * 16, "trop grand"),
    ],
)
def test_bad_amounts_are_refused(raw: str, reason: str) -> None:
    """Negative amounts, more than two decimals and non-numbers are refused in French."""
    with pytest.raises(InvalidValue) as caught:
        parse_value(AMOUNT, raw, name="montant_estime")
    assert caught.value.field == "montant_estime"
    assert "« Montant estimé »" in caught.value.message
    assert reason in caught.value.message


@given(st.decimals(min_value=0, max_value=Decimal("999999999999.99"), places=2))
def test_french_amounts_round_trip(value: Decimal) -> None:
    """Any two-decimal amount written the French way parses back to the same exact value."""
    assert parse_value(AMOUNT, french_amount(value)) == f"{value:.2f}"
    assert Decimal(parse_value(AMOUNT, french_amount(value))) == value


@given(st.decimals(min_value=0, max_value=Decimal("999999999999.99"), places=2))
def test_plain_amounts_round_trip(value: Decimal) -> None:
    """The stored form is itself accepted and stable (parse is idempotent)."""
    stored = parse_value(AMOUNT, f"{value}")
    assert parse_value(AMOUNT, stored) == stored
    assert check_value(AMOUNT, Decimal(stored)) == stored


@pytest.mark.parametrize(
    ("value", "stored"),
    [(Decimal("1E+2"), "100.00"), (Decimal("12.500"), "12.50"), (12, "12.00"), (0.1, "0.10")],
)
def test_typed_amounts(value: Any, stored: str) -> None:
    """check_value takes Decimal, int and float amounts when they are exact to the cent."""
    assert check_value(AMOUNT, value) == stored


@pytest.mark.parametrize("value", [True, Decimal("1.005"), Decimal("NaN"), 1e30, [1]])
def test_bad_typed_amounts(value: Any) -> None:
    """Booleans, sub-cent, non-finite and non-numeric values are not amounts."""
    with pytest.raises(InvalidValue):
        check_value(AMOUNT, value)


@pytest.mark.parametrize(
    ("raw", "stored"),
    [("2025-03-31", "2025-03-31"), ("31/03/2025", "2025-03-31"), ("1/2/2025", "2025-02-01")],
)
def test_dates(raw: str, stored: str) -> None:
    """Dates are read as YYYY-MM-DD or DD/MM/YYYY and stored as YYYY-MM-DD."""
    assert parse_value(DATE, raw) == stored


@pytest.mark.parametrize("raw", ["2025-02-30", "31/13/2025", "20250331", "demain", "2025-3-1"])
def test_bad_dates(raw: str) -> None:
    """Impossible dates and other forms are refused, naming the expected form."""
    with pytest.raises(InvalidValue, match="AAAA-MM-JJ"):
        parse_value(DATE, raw)


def test_typed_dates() -> None:
    """check_value takes date objects but not datetimes."""
    assert check_value(DATE, date(2025, 1, 2)) == "2025-01-02"
    with pytest.raises(InvalidValue):
        check_value(DATE, datetime(2025, 1, 2, 10, 0))


@pytest.mark.parametrize(
    ("raw", "stored"),
    [("oui", True), ("Non", False), ("true", True), ("FALSE", False), ("vrai", True),
     ("faux", False), ("1", True), ("0", False)],
)  # fmt: skip
def test_booleans(raw: str, stored: bool) -> None:
    """Booleans accept oui/non, true/false, vrai/faux and 1/0, in any case."""
    assert parse_value(BOOLEAN, raw) is stored


def test_bad_boolean() -> None:
    """Anything else is refused; an int is never a boolean."""
    with pytest.raises(InvalidValue, match="oui ou non"):
        parse_value(BOOLEAN, "peut-être")
    with pytest.raises(InvalidValue):
        check_value(BOOLEAN, 1)
    assert check_value(BOOLEAN, False) is False


def test_integers() -> None:
    """Integers accept spaces between thousands; booleans and decimals are refused."""
    assert parse_value(INTEGER, "1 200") == 1200
    assert parse_value(INTEGER, "-3") == -3
    assert check_value(INTEGER, 4) == 4
    for bad in ("1,5", "douze", ""):
        with pytest.raises(InvalidValue, match="nombre entier"):
            parse_value(INTEGER, bad)
    with pytest.raises(InvalidValue):
        check_value(INTEGER, True)


def test_text_is_stripped() -> None:
    """Text is kept as typed, without surrounding spaces."""
    assert parse_value(TEXT, "  Travaux de voirie ") == "Travaux de voirie"


def test_enum() -> None:
    """An enum value must be one of the field's values; case is forgiven."""
    assert parse_value(ENUM, "travaux") == "travaux"
    assert parse_value(ENUM, "Travaux") == "travaux"
    with pytest.raises(InvalidValue) as caught:
        parse_value(ENUM, "prestations")
    assert "fournitures, services, travaux" in caught.value.message


def test_lists() -> None:
    """Lists are comma-separated (semicolons when items hold commas) or a JSON array."""
    assert parse_value(LOTS, "Lot 1, Lot 2 ,") == ["Lot 1", "Lot 2"]
    assert parse_value(LOTS, '["Lot 1, voirie", "Lot 2"]') == ["Lot 1, voirie", "Lot 2"]
    assert parse_value(LOTS, "") == []
    assert parse_value(AMOUNTS, "1 000,50; 2 000") == ["1000.50", "2000.00"]
    assert parse_value(AMOUNTS, "[1000.5, 2000]") == ["1000.50", "2000.00"]
    assert parse_value(NATURES, "services, Travaux") == ["services", "travaux"]
    assert check_value(NATURES, ("travaux",)) == ["travaux"]


def test_bad_lists() -> None:
    """A bad item or a malformed JSON array refuses the whole list."""
    with pytest.raises(InvalidValue, match="services, travaux"):
        parse_value(NATURES, "services, fournitures")
    with pytest.raises(InvalidValue, match="JSON"):
        parse_value(LOTS, '["Lot 1"')
    with pytest.raises(InvalidValue):
        parse_value(LOTS, "[1, [2]]")


def test_message_names_the_label_by_default() -> None:
    """Without a name, the error's field is the field's label."""
    with pytest.raises(InvalidValue) as caught:
        parse_value(DATE, "hier")
    assert caught.value.field == "Date d'envoi"
    assert caught.value.message.startswith("Valeur invalide pour « Date d'envoi »")
