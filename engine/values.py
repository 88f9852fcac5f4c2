"""Typed values of case fields: read what an officer typed, keep one canonical form.

Canonical forms stored in case data (and hashed into the audit trail, so no floats):

========  ==========================  ==========================================
type      accepted input               stored as
========  ==========================  ==========================================
text      any text                     ``str`` (surrounding spaces removed)
integer   ``12``, ``1 200``            ``int``
amount    ``150000``, ``150 000,50``,  ``str`` with exactly two decimals,
          ``150000.5``, ``150 000 €``  ``"150000.50"`` (never negative)
date      ``2025-03-31``, ``31/03/2025``  ``str`` ``"2025-03-31"``
boolean   oui/non, true/false, vrai/   ``bool``
          faux, 1/0
enum      one of the field's values    ``str``
list      ``a, b`` (``;`` if an item   ``list`` of the items' canonical forms
          has a comma) or ``["a"]``
========  ==========================  ==========================================
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from engine.definition import FieldDef, FieldType
from engine.errors import InvalidValue

_SPACES = re.compile(r"[\s\u00a0\u202f\u2009]+")
_AMOUNT = re.compile(r"(\d+)(?:[.,](\d{1,2}))?")
_MAX_AMOUNT_DIGITS = 15
_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_FRENCH_DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")
_REJECTED = object()
_TRUE = frozenset({"true", "oui", "vrai", "1"})
_FALSE = frozenset({"false", "non", "faux", "0"})

_EXPECTED = {
    FieldType.TEXT: "un texte",
    FieldType.INTEGER: "un nombre entier, par exemple 12 ou 1 200",
    FieldType.AMOUNT: "un montant en euros positif avec au plus deux décimales, par exemple "
    "150000, 150 000,50 ou 150 000 €",
    FieldType.DATE: "une date au format AAAA-MM-JJ ou JJ/MM/AAAA, par exemple 2025-03-31",
    FieldType.BOOLEAN: "oui ou non (ou true/false, vrai/faux, 1/0)",
}


def parse_value(field: FieldDef, raw: str, *, name: str | None = None) -> Any:
    """Read the text an officer typed for ``field``; return the canonical value.

    Args:
        field: The field's definition.
        raw: The text typed (CLI option, form input).
        name: The field's name in the definition, used in the error (defaults to its label).

    Returns:
        The canonical value (see the module's table).

    Raises:
        InvalidValue: ``raw`` does not fit the field's type; the message names the field's
            label and the expected form, in French.
    """
    return _PARSERS[field.type](field, raw.strip(), name or field.label)


def check_value(field: FieldDef, value: Any, *, name: str | None = None) -> Any:
    """Check an already-typed value (JSON, Python) for ``field``; return the canonical value.

    Text is read as :func:`parse_value` reads it; ``bool`` is never taken for a number;
    ``date`` objects are accepted for dates, ``int`` and ``Decimal`` for amounts.

    Args:
        field: The field's definition.
        value: The value to check.
        name: The field's name in the definition, used in the error (defaults to its label).

    Returns:
        The canonical value.

    Raises:
        InvalidValue: ``value`` does not fit the field's type.
    """
    who = name or field.label
    if isinstance(value, str):
        return parse_value(field, value, name=who)
    kind = field.type
    result: Any = _REJECTED
    if kind is FieldType.LIST and isinstance(value, list | tuple):
        item = _item_field(field, who)
        result = [check_value(item, element, name=who) for element in value]
    elif isinstance(value, bool):
        result = value if kind is FieldType.BOOLEAN else _REJECTED  # never a number
    elif kind is FieldType.INTEGER and isinstance(value, int):
        result = value
    elif kind is FieldType.AMOUNT and isinstance(value, Decimal) and value.is_finite():
        result = _parse_amount(field, _plain_decimal(value), who)
    elif kind is FieldType.AMOUNT and isinstance(value, int | float):
        result = _parse_amount(field, repr(value), who)
    elif kind is FieldType.DATE and isinstance(value, date) and not isinstance(value, datetime):
        result = value.isoformat()
    if result is _REJECTED:
        raise _invalid(field, who, repr(value))
    return result


def _plain_decimal(value: Decimal) -> str:
    """Positional notation, without trailing zeros past the cents (``1E+2`` -> ``100``)."""
    cents = value.quantize(Decimal("0.01")) if abs(value) < Decimal(10) ** 20 else value
    return format(cents if cents == value else value, "f")


def _invalid(field: FieldDef, who: str, shown: str, reason: str | None = None) -> InvalidValue:
    expected = _expected(field)
    why = f" : {reason}" if reason else ""
    return InvalidValue(
        who,
        f"Valeur invalide pour « {field.label} » ({shown}){why} ; attendu : {expected}.",
    )


def _expected(field: FieldDef) -> str:
    if field.type is FieldType.ENUM:
        return "l'une des valeurs " + ", ".join(field.values or [])
    if field.type is FieldType.LIST:
        inner = _EXPECTED.get(field.items or FieldType.TEXT, "des valeurs")
        if field.items is FieldType.ENUM:
            inner = "des valeurs parmi " + ", ".join(field.values or [])
        return f"une liste séparée par des virgules ou des points-virgules ({inner})"
    return _EXPECTED[field.type]


def _parse_text(field: FieldDef, raw: str, who: str) -> str:
    return raw


def _parse_integer(field: FieldDef, raw: str, who: str) -> int:
    compact = _SPACES.sub("", raw)
    if not re.fullmatch(r"[+-]?\d{1,18}", compact):
        raise _invalid(field, who, f"« {raw} »")
    return int(compact)


def _parse_amount(field: FieldDef, raw: str, who: str) -> str:
    compact = _SPACES.sub("", raw)
    for currency in ("€", "EUR", "eur"):
        compact = compact.removesuffix(currency).removeprefix(currency)
    if compact.startswith("-"):
        raise _invalid(field, who, f"« {raw} »", "un montant ne peut pas être négatif")
    compact = compact.removeprefix("+")
    match = _AMOUNT.fullmatch(compact)
    if match is None:
        decimals = re.fullmatch(r"\d+[.,]\d{3,}", compact)
        reason = "deux décimales au plus (milliers séparés par une espace)" if decimals else None
        raise _invalid(field, who, f"« {raw} »", reason)
    units, cents = match.group(1), match.group(2) or ""
    if len(units.lstrip("0")) > _MAX_AMOUNT_DIGITS:
        raise _invalid(field, who, f"« {raw} »", "montant trop grand")
    return f"{Decimal(f'{units}.{cents or 0}'):.2f}"  # exact: only digits reach Decimal


def _parse_date(field: FieldDef, raw: str, who: str) -> str:
    match = _ISO_DATE.fullmatch(raw)
    parts: tuple[str, str, str] | None = None
    if match is not None:
        parts = (match.group(1), match.group(2), match.group(3))
    else:
        french = _FRENCH_DATE.fullmatch(raw)
        if french is not None:
            parts = (french.group(3), french.group(2), french.group(1))
    if parts is None:
        raise _invalid(field, who, f"« {raw} »")
    try:
        return date(int(parts[0]), int(parts[1]), int(parts[2])).isoformat()
    except ValueError as error:
        raise _invalid(field, who, f"« {raw} »", "cette date n'existe pas") from error


def _parse_boolean(field: FieldDef, raw: str, who: str) -> bool:
    word = raw.lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise _invalid(field, who, f"« {raw} »")


def _parse_enum(field: FieldDef, raw: str, who: str) -> str:
    values = field.values or []
    if raw in values:
        return raw
    folded = [value for value in values if value.casefold() == raw.casefold()]
    if len(folded) == 1:
        return folded[0]
    raise _invalid(field, who, f"« {raw} »")


def _item_field(field: FieldDef, who: str) -> FieldDef:
    if field.items is None or field.items is FieldType.LIST:
        raise _invalid(field, who, "définition", "le type des éléments de la liste est invalide")
    return FieldDef(type=field.items, label=field.label, values=field.values)


def _parse_list(field: FieldDef, raw: str, who: str) -> list[Any]:
    item = _item_field(field, who)
    if raw.startswith("["):
        try:
            elements = json.loads(raw)
        except json.JSONDecodeError as error:
            raise _invalid(field, who, f"« {raw} »", "liste JSON mal formée") from error
        if not isinstance(elements, list):
            raise _invalid(field, who, f"« {raw} »")
        return [check_value(item, element, name=who) for element in elements]
    if not raw:
        return []
    separator = ";" if ";" in raw else ","
    pieces = [piece.strip() for piece in raw.split(separator)]
    return [parse_value(item, piece, name=who) for piece in pieces if piece]


_PARSERS: dict[FieldType, Callable[[FieldDef, str, str], Any]] = {
    FieldType.TEXT: _parse_text,
    FieldType.INTEGER: _parse_integer,
    FieldType.AMOUNT: _parse_amount,
    FieldType.DATE: _parse_date,
    FieldType.BOOLEAN: _parse_boolean,
    FieldType.ENUM: _parse_enum,
    FieldType.LIST: _parse_list,
}
