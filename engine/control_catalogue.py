"""Built-in controls on the case's data: fields, documents, rules and thresholds.

Each control has a pydantic model of its parameters (unknown keys forbidden) and a check that
returns ``(passed, French reason)``. A field that is not set yet never crashes a check: the
control fails and says which field is missing. The delay control is in
``engine.controls_time`` and the controls on people (four-eyes, declarations, checklist) in
``engine.controls_people``, both imported here so that importing this module registers every
built-in control.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Iterator
from datetime import date
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from pydantic import Field, field_validator

import engine.controls_follow_up  # registers the follow-up controls
import engine.controls_people  # registers the controls on people
import engine.controls_time  # noqa: F401  (registers the delay control)
from engine.controls import (
    CaseSnapshot,
    ControlSpec,
    Params,
    field_date,
    is_missing,
    named,
    register,
)
from engine.definition import IDENTIFIER
from engine.errors import EngineError, InvalidValue
from engine.rules import Rule
from engine.validation import PathPart, Reference, ReferenceKind


@functools.lru_cache(maxsize=1024)
def compiled_rule(expression: str) -> Rule:
    """The compiled rule of ``expression``, compiled once per process (cache by text).

    Raises:
        RuleSyntaxError: The expression is not a valid rule.
    """
    return Rule.compile(expression, where="params.expression")


def rule_references(path: tuple[PathPart, ...], expression: str) -> Iterator[Reference]:
    """The fields a (valid) rule reads and the parameter tables it names, all at ``path``."""
    rule = compiled_rule(expression)
    for name in rule.field_names():
        yield Reference(path, ReferenceKind.FIELD, name)
    for table in sorted(rule.parameters):
        yield Reference(path, ReferenceKind.TABLE, table)


def _date_field(name: str | None, path: str) -> Iterator[Reference]:
    if name is not None:
        yield Reference((path,), ReferenceKind.DATE_FIELD, name)


def _rule_text(expression: str) -> str:
    try:
        compiled_rule(expression)
    except InvalidValue as error:
        raise ValueError(str(error)) from error
    return expression


def reference_date(snapshot: CaseSnapshot, field: str | None) -> tuple[date | None, str]:
    """The date for ``param()``: ``field``'s date, or the case's opening date; and its name."""
    if field is None:
        return snapshot.reference_date, f"date d'ouverture du dossier ({snapshot.reference_date})"
    try:
        day = field_date(snapshot, field)
    except ValueError:
        return None, f"le champ « {field} » ne contient pas une date"
    if day is None:
        return None, f"le champ « {field} » (date de référence) n'est pas renseigné"
    return day, f"{field} ({day.isoformat()})"


_THIN_SPACE = "\u202f"


def french_amount(value: Decimal) -> str:
    """``150000.00`` as ``150 000,00 €``."""
    whole, _, cents = f"{value:,.2f}".partition(".")
    return f"{whole.replace(',', _THIN_SPACE)},{cents} €"


# --------------------------------------------------------------------- required_fields


class RequiredFieldsParams(Params):
    """Parameters of ``required_fields``."""

    fields: list[str] = Field(min_length=1, description="Les champs qui doivent être renseignés.")
    when: str | None = Field(
        default=None,
        description="Condition CEL : les champs ne sont requis que lorsqu'elle est vraie.",
    )

    @field_validator("when")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        return None if value is None else _rule_text(value)

    def references(self) -> Iterator[Reference]:
        """The required fields; the fields and tables the condition reads."""
        yield from named("fields", self.fields, ReferenceKind.FIELD)
        if self.when is not None:
            yield from rule_references(("when",), self.when)


def _required_fields(params: RequiredFieldsParams, snapshot: CaseSnapshot) -> tuple[bool, str]:
    if params.when is not None:
        try:
            applies = compiled_rule(params.when).evaluate(
                snapshot.data,
                params=snapshot.parameters,
                on=snapshot.reference_date,
                fields=snapshot.fields,
            )
        except EngineError as error:
            return False, f"la condition « {params.when} » ne peut pas être évaluée : {error}"
        if not applies:
            return True, f"champs non requis : la condition « {params.when} » n'est pas remplie"
    missing = [name for name in params.fields if is_missing(snapshot.data.get(name))]
    if missing:
        return False, f"champ(s) non renseigné(s) : {', '.join(missing)}"
    return True, "tous les champs requis sont renseignés"


# ------------------------------------------------------------------ required_documents


class RequiredDocumentsParams(Params):
    """Parameters of ``required_documents``."""

    types: list[str] = Field(min_length=1, description="Les types de pièces à joindre.")
    min_count: dict[str, int] = Field(
        default_factory=dict,
        description="Nombre minimal de pièces par type (1 par défaut), ex. {offre: 3}.",
    )
    signed: list[str] = Field(
        default_factory=list,
        description="Types dont seules les pièces signées comptent (jalon case attach "
        "--signed-by), ex. [acte_engagement].",
    )

    @field_validator("min_count")
    @classmethod
    def _positive(cls, value: dict[str, int]) -> dict[str, int]:
        for doc_type, count in value.items():
            if count < 1:
                raise ValueError(f"le nombre minimal de « {doc_type} » doit être au moins 1")
        return value

    def references(self) -> Iterator[Reference]:
        """The document types required, listed or counted."""
        yield from named("types", self.types, ReferenceKind.DOCUMENT)
        for doc_type in self.min_count:
            yield Reference(("min_count", doc_type), ReferenceKind.DOCUMENT, doc_type)
        yield from named("signed", self.signed, ReferenceKind.DOCUMENT)


def _required_documents(
    params: RequiredDocumentsParams, snapshot: CaseSnapshot
) -> tuple[bool, str]:
    signed = frozenset(params.signed)
    counts: dict[str, int] = {}
    unsigned: set[str] = set()
    for document in snapshot.documents:
        if document.doc_type in signed and not document.signed_by:
            unsigned.add(document.doc_type)
            continue
        counts[document.doc_type] = counts.get(document.doc_type, 0) + 1
    wanted = dict.fromkeys([*params.types, *params.signed], 1) | params.min_count
    short = []
    for doc_type, needed in wanted.items():
        have = counts.get(doc_type, 0)
        if have < needed:
            label = f"{doc_type} signée" if doc_type in signed else doc_type
            detail = f" ({have} sur {needed})" if needed > 1 else ""
            present = " (jointe mais non signée)" if doc_type in unsigned else ""
            short.append(f"{label}{detail}{present}")
    if short:
        return False, f"pièce(s) manquante(s) : {', '.join(short)}"
    if signed:
        return True, "toutes les pièces requises sont jointes, signées quand il le faut"
    return True, "toutes les pièces requises sont jointes"


# ------------------------------------------------------------------------------- rule


class RuleParams(Params):
    """Parameters of ``rule``."""

    expression: str = Field(description="La condition CEL qui doit être vraie.")
    reference_date_field: str | None = Field(
        default=None,
        pattern=IDENTIFIER,
        description="Champ date donnant la date de param() (défaut : ouverture du dossier).",
    )

    @field_validator("expression")
    @classmethod
    def _compiles(cls, value: str) -> str:
        return _rule_text(value)

    def references(self) -> Iterator[Reference]:
        """The fields and tables the expression reads; the reference date field."""
        yield from rule_references(("expression",), self.expression)
        yield from _date_field(self.reference_date_field, "reference_date_field")


def _rule(params: RuleParams, snapshot: CaseSnapshot) -> tuple[bool, str]:
    on, told = reference_date(snapshot, params.reference_date_field)
    if on is None:
        return False, f"la règle ne peut pas être évaluée : {told}"
    try:
        holds = compiled_rule(params.expression).evaluate(
            snapshot.data, params=snapshot.parameters, on=on, fields=snapshot.fields
        )
    except EngineError as error:
        return False, str(error)
    verdict = "vérifiée" if holds else "non vérifiée"
    return holds, f"règle « {params.expression} » {verdict} (date de référence : {told})"


# -------------------------------------------------------------------------- threshold


class Comparison(StrEnum):
    """How an amount is compared with a threshold."""

    BELOW = "below"
    BELOW_OR_EQUAL = "below_or_equal"
    AT_LEAST = "at_least"
    ABOVE = "above"


_COMPARED: dict[Comparison, tuple[str, Callable[[Decimal, Decimal], bool]]] = {
    Comparison.BELOW: ("inférieur au", operator.lt),
    Comparison.BELOW_OR_EQUAL: ("inférieur ou égal au", operator.le),
    Comparison.AT_LEAST: ("supérieur ou égal au", operator.ge),
    Comparison.ABOVE: ("supérieur au", operator.gt),
}


class ThresholdParams(Params):
    """Parameters of ``threshold``."""

    field: str = Field(pattern=IDENTIFIER, description="Le champ montant comparé.")
    table: str = Field(pattern=IDENTIFIER, description="La table de paramètres du seuil.")
    comparison: Comparison = Field(
        description="below, below_or_equal, at_least ou above (montant par rapport au seuil)."
    )
    reference_date_field: str | None = Field(
        default=None,
        pattern=IDENTIFIER,
        description="Champ date donnant la date du seuil (défaut : ouverture du dossier).",
    )

    def references(self) -> Iterator[Reference]:
        """The amount (or integer) field, the table and the reference date field."""
        yield Reference(("field",), ReferenceKind.NUMBER_FIELD, self.field)
        yield Reference(("table",), ReferenceKind.TABLE, self.table)
        yield from _date_field(self.reference_date_field, "reference_date_field")


def _threshold(params: ThresholdParams, snapshot: CaseSnapshot) -> tuple[bool, str]:
    raw = snapshot.data.get(params.field)
    if is_missing(raw):
        return False, f"le champ « {params.field} » n'est pas renseigné : comparaison impossible"
    try:
        amount = Decimal(str(raw))
    except InvalidOperation:
        return False, f"le champ « {params.field} » ne contient pas un montant (« {raw} »)"
    on, told = reference_date(snapshot, params.reference_date_field)
    if on is None:
        return False, f"le seuil ne peut pas être déterminé : {told}"
    try:
        table = snapshot.parameters.table(params.table)
        row = snapshot.parameters.row(params.table, on)
    except EngineError as error:
        return False, str(error)
    words, compare = _COMPARED[params.comparison]
    holds = compare(amount, row.value)
    source = row.source.split(" ; ")[0].strip() or "source non indiquée"
    negation = "" if holds else "n'est pas "
    return holds, (
        f"{params.field} = {french_amount(amount)} {negation}{words} seuil « {table.label} » "
        f"({params.table}) de {french_amount(row.value)}, applicable {row.period} "
        f"(date de référence : {told} ; source : {source})"
    )


REQUIRED_FIELDS = register(
    ControlSpec(
        name="required_fields",
        clause="8.5.1",
        summary="Les champs listés sont renseignés (éventuellement sous condition « when »).",
        check=_required_fields,
        params=RequiredFieldsParams,
    )
)
REQUIRED_DOCUMENTS = register(
    ControlSpec(
        name="required_documents",
        clause="7.5.3",
        summary="Les pièces des types listés sont jointes au dossier (en nombre suffisant).",
        check=_required_documents,
        params=RequiredDocumentsParams,
    )
)
RULE = register(
    ControlSpec(
        name="rule",
        clause="8.5.1",
        summary="Une règle CEL sur les champs du dossier et les paramètres datés est vraie.",
        check=_rule,
        params=RuleParams,
    )
)
THRESHOLD = register(
    ControlSpec(
        name="threshold",
        clause="8.5.1",
        summary="Un montant du dossier est comparé à un seuil daté des tables de paramètres.",
        check=_threshold,
        params=ThresholdParams,
    )
)


# ---------------------------------------------------------------------------------- plugins
# Last, once every built-in control is registered (a plugin cannot take a built-in's name):
# the controls of the installed ``jalon.controls`` plugins. A bad plugin is left out with a
# French warning on standard error instead of failing this import (every command imports it,
# ``jalon --help`` included); a definition naming one of its controls is then refused.
from engine.control_plugins import load_plugins  # noqa: E402  (plugins come after the built-ins)

load_plugins(strict=False)
