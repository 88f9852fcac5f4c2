"""Rules written by process owners: CEL expressions on case data, exact amounts, dated parameters.

A rule is a CEL expression (https://cel.dev) compiled once (``Rule.compile``) and evaluated on
a case's data (``Rule.evaluate``). celpy's *interpreter* is the reference — never its
transpiler, which would ``exec`` Python — so a rule only calls functions checked at compile
time; a fast path (engine/rules_compiled.py) answers instead when it is sure to agree with it.
Amounts and parameter values are exact decimals (:class:`DecimalValue`), never CEL doubles:
the arithmetic and comparison operators combine decimals with CEL integers exactly and refuse
doubles. Dates are CEL timestamps at midnight UTC. celpy is imported only here and in
engine/rules_compiled.py. See docs/rules.md.
"""

from __future__ import annotations

import difflib
import functools
import operator
import re
import sys
from collections import ChainMap
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Context, Decimal, DecimalException, InvalidOperation
from typing import Any, Protocol, TypeVar

import celpy
from celpy import celtypes
from celpy.celparser import CELParseError
from celpy.evaluation import Activation, CELEvalError, base_functions, boolean

from engine.definition import FieldDef
from engine.definition import FieldType as Type
from engine.errors import EngineError, InvalidValue
from engine.rules_compiled import Program, cases_map, translate
from engine.rules_reading import DATA_MAP, Reads, quoted, reads

MAX_LENGTH = 4000
"""Longest expression accepted, in characters."""

FAST_PATH = True
"""Whether ``Rule.evaluate`` tries a rule's fast path; False: the interpreter alone (debugging)."""

FUNCTIONS = ("param", "decimal", "date", "jours_entre")
"""The functions Jalon adds to CEL's standard ones."""

_CONTEXT = Context(prec=34, traps=[InvalidOperation])
"""Decimal arithmetic of rules: 34 significant digits (IEEE decimal128), half-even rounding."""

_AMOUNT_TEXT = re.compile(r"\d{1,18}\.\d{2}")
_DATE_TEXT = re.compile(r"\d{4}-\d{2}-\d{2}")
_DECIMAL_TEXT = re.compile(r"-?\d{1,30}(\.\d{1,30})?")
_MACROS = ("has", "dyn", "all", "exists", "exists_one", "map", "filter")
_ALLOWED = frozenset(
    name for name in (*base_functions, *FUNCTIONS, *_MACROS) if name[0].isalpha()
) - {"null_type"}
_REFUSED = frozenset({"member_object", "dot_ident", "dot_ident_arg"})
TYPE_NAMES = frozenset(name for name, kind in base_functions.items() if isinstance(kind, type))
"""CEL's type names (celpy's conversions that are types: ``int``, ``null_type``...), which a
rule may read as values (``type(offres) == int``)."""


_T = TypeVar("_T")


class ParameterLookup(Protocol):
    """What rules need of the parameter tables: the exact value of a table on a date."""

    def value(self, table_id: str, on: date) -> Decimal:
        """The value of ``table_id`` on ``on``; raises an ``EngineError`` when there is none."""
        ...


_Fields = Mapping[str, FieldDef] | None
_Binding = tuple[ParameterLookup, date]
_Path = Callable[[dict[str, Any]], _T]


class RuleSyntaxError(InvalidValue):
    """A rule's expression cannot be compiled; ``field`` is where it was written."""

    code = "regle_invalide"


class RuleError(EngineError):
    """A rule failed while evaluated, or did not give true or false."""

    code = "erreur_regle"

    def __init__(self, rule: Rule, detail: str) -> None:
        self.expression = rule.expression
        self.where = rule.where
        super().__init__(f"La règle « {_shown(rule.expression)} » ({rule.where}) {detail}.")


class DecimalValue(Decimal):
    """An exact decimal number in CEL: amounts in euros and parameter values."""

    def __repr__(self) -> str:
        return f"DecimalValue('{self}')"


class _Problem(ValueError):
    """Raised inside a CEL function or operator: celpy makes it an error value; French text."""


class _TypeProblem(TypeError):
    """A type mismatch inside a CEL operator (celpy catches TypeError there); French text."""


@dataclass(frozen=True, slots=True)
class Rule:
    """A compiled rule: its text, where it was written, and the parameter tables it reads."""

    expression: str
    where: str
    parameters: frozenset[str]
    _ast: celpy.Expression[Any]
    _reads: Reads = field(compare=False, repr=False)
    _runner: celpy.InterpretedRunner = field(compare=False, repr=False)
    _fast: Program | None = field(compare=False, repr=False)

    @classmethod
    def compile(cls, expression: str, *, where: str) -> Rule:
        """Parse ``expression``, check that it calls only allowed functions, translate it.

        Args:
            expression: The CEL text.
            where: Where the rule is written (file and field), named in every error.

        Raises:
            RuleSyntaxError: The text is not CEL, calls an unknown function, or gives
                ``param()`` something else than a table id in quotes.
        """
        if len(expression) > MAX_LENGTH:
            detail = f"trop longue ({len(expression)} caractères, {MAX_LENGTH} au plus)"
            raise _syntax_error(where, expression, detail)
        try:
            ast = _environment().compile(expression)
        except CELParseError as error:
            detail = _syntax_place(expression, error.line, error.column)
            raise _syntax_error(where, expression, detail) from error
        except RecursionError as error:
            raise _syntax_error(where, expression, "expression trop imbriquée") from error
        parameters = _check_tree(ast, where, expression)
        fast = translate(ast, ChainMap(_FUNCTIONS, base_functions))  # the activation's lookup
        runner = _Interpreter(_environment(), ast, _FUNCTIONS)
        return cls(expression, where, parameters, ast, reads(ast), runner, fast)

    def field_names(self) -> tuple[str, ...]:
        """The case fields the rule reads, in the order they are written, each once.

        A field is a free name (``montant_estime``) or a member of the map of all fields
        (``dossier.montant_estime``, ``dossier["montant_estime"]``); the variables of the list
        macros (``l`` in ``lots.all(l, l != "")``), ``dossier`` itself and CEL's type names
        (:data:`TYPE_NAMES`) are not fields. Read from the tree when the rule is compiled.
        """
        return tuple(n for n in self._reads.names if n != DATA_MAP and n not in TYPE_NAMES)

    def evaluate(
        self, data: Mapping[str, Any], *, params: ParameterLookup, on: date, fields: _Fields = None
    ) -> bool:
        """Evaluate the rule on a case's data: on its fast path, or else the interpreter.

        Args:
            data: The case's data in its stored forms (amounts ``"150000.00"``, dates
                ``"2026-05-01"``, integers, booleans, texts, lists); ``None`` means absent.
                Only the fields the rule reads are converted (all if it reads ``dossier``).
            params: The parameter tables read by ``param()``.
            on: The reference date of ``param("table")`` (e.g. the consultation's launch).
            fields: The definition's fields; without them, a text in the stored form of an
                amount (``"150000.00"``) or a date (``"2026-05-01"``) is read as one.

        Raises:
            RuleError: A field is missing, a parameter has no value, an operation is
                impossible, or the result is not a boolean.
        """
        return self._bound(data, fields, (params, on), self._answer)

    def interpret(
        self, data: Mapping[str, Any], *, params: ParameterLookup, on: date, fields: _Fields = None
    ) -> bool:
        """:meth:`evaluate` on celpy's interpreter alone, the reference (tests, debugging)."""
        return self._bound(data, fields, (params, on), self._interpret)

    def evaluate_fast(
        self, data: Mapping[str, Any], *, params: ParameterLookup, on: date, fields: _Fields = None
    ) -> bool | None:
        """The fast path's answer alone; ``None`` when the rule has none or it abandons."""
        return self._bound(data, fields, (params, on), self._fast_answer)

    def _bound(
        self, data: Mapping[str, Any], fields: _Fields, binding: _Binding, path: _Path[_T]
    ) -> _T:
        """``path`` on the fields the rule reads, as CEL values, with ``param()`` bound."""
        names = self._reads.names
        pairs = data.items() if self._reads.whole_map else [(n, data.get(n)) for n in names]
        try:
            values = {n: _to_cel(v, *_types(fields, n)) for n, v in pairs if v is not None}
        except _Problem as problem:
            raise RuleError(self, f"ne peut pas lire le dossier : {problem}") from problem
        bound = _BINDING.set(binding)
        try:
            return path(values)
        finally:
            _BINDING.reset(bound)

    def _answer(self, values: dict[str, Any]) -> bool:
        answer = self._fast.run(values) if FAST_PATH and self._fast is not None else None
        return self._interpret(values) if answer is None else answer

    def _fast_answer(self, values: dict[str, Any]) -> bool | None:
        return None if self._fast is None else self._fast.run(values)

    def _interpret(self, values: dict[str, Any]) -> bool:
        """celpy's interpreter on the converted ``values``; ``param()`` is already bound."""
        names = self._reads.names
        top = {n: values[n] for n in names if n in values} if self._reads.whole_map else values
        try:
            result = self._runner.evaluate({**top, DATA_MAP: cases_map(values)})
        except CELEvalError as error:
            raise RuleError(self, f"ne peut pas être évaluée : {_explain(error)}") from error
        except RecursionError as error:
            raise RuleError(self, "ne peut pas être évaluée : calcul trop imbriqué") from error
        except Exception as error:  # a failure of celpy itself must still name the rule
            raise RuleError(self, f"ne peut pas être évaluée : erreur interne ({error})") from error
        if not isinstance(result, celtypes.BoolType):
            shown = str(result) if len(str(result)) <= 60 else str(result)[:57] + "..."
            detail = f"doit donner vrai ou faux, or elle donne {_kind(result)} « {shown} »"
            raise RuleError(self, detail)
        return bool(result)


class _Interpreter(celpy.InterpretedRunner):
    """celpy's interpreter, from one base activation per process (celpy clones it per case)."""

    @staticmethod
    @functools.cache
    def new_activation() -> Activation:
        """CEL's annotations and Jalon's function table (``param()`` reads ``_BINDING``)."""
        env = _environment()
        return Activation(package=env.package, annotations=env.annotations, functions=_FUNCTIONS)


@functools.cache
def _environment() -> celpy.Environment:
    """The process's CEL environment, on the interpreter (used to parse); celpy sets the
    recursion limit to 2500 when it builds one: a higher limit set by the application is kept."""
    limit = sys.getrecursionlimit()
    environment = celpy.Environment(runner_class=celpy.InterpretedRunner)
    sys.setrecursionlimit(max(limit, sys.getrecursionlimit()))
    return environment


def _syntax_error(where: str, expression: str, detail: str) -> RuleSyntaxError:
    return RuleSyntaxError(where, f"Règle invalide ({where}) « {_shown(expression)} » : {detail}.")


def _shown(expression: str) -> str:
    """The expression on one line, cut after 150 characters, for messages."""
    text = " ".join(expression.split())
    return text if len(text) <= 150 else text[:149] + "…"


def _syntax_place(expression: str, line: int | None, column: int | None) -> str:
    if not expression.strip():
        return "expression vide"
    if line is None or column is None:
        return "erreur de syntaxe"
    lines = expression.splitlines()
    text = lines[line - 1] if 0 < line <= len(lines) else ""
    near = text[column - 1 : column + 11].strip()
    what = f"près de « {near} »" if near else "fin de l'expression inattendue"
    return f"erreur de syntaxe ligne {line}, colonne {column}, {what}"


def _check_tree(ast: celpy.Expression[Any], where: str, expression: str) -> frozenset[str]:
    """Refuse unknown functions and computed table ids; return the table ids read."""
    parameters: set[str] = set()
    for node in ast.iter_subtrees():
        if node.data in _REFUSED:
            raise _syntax_error(where, expression, "construction non autorisée dans une règle")
        if node.data not in ("ident_arg", "member_dot_arg"):
            continue
        name = str(node.children[0 if node.data == "ident_arg" else 1])
        if name not in _ALLOWED:
            close = difflib.get_close_matches(name, sorted(_ALLOWED), n=1)
            hint = f" (vouliez-vous dire « {close[0]} » ?)" if close else ""
            detail = f"fonction « {name} » inconnue{hint} ; les fonctions permises sont dans "
            raise _syntax_error(where, expression, detail + "docs/rules.md")
        if name == "param" and node.data == "ident_arg":
            table = quoted(node.children[1].children[0]) if len(node.children) > 1 else None
            if table is None:
                detail = "param() attend l'identifiant d'une table entre guillemets"
                raise _syntax_error(where, expression, detail + ', par exemple param("seuil_decp")')
            parameters.add(table)
    return frozenset(parameters)


def _types(fields: Mapping[str, FieldDef] | None, name: str) -> tuple[Type | None, Type | None]:
    definition = fields.get(name) if fields is not None else None
    return (definition.type, definition.items) if definition is not None else (None, None)


def _to_cel(value: Any, kind: Type | None, items: Type | None = None) -> Any:
    """A stored case value as a CEL value, by its field type or, without one, its form."""
    if isinstance(value, str):
        if kind is Type.AMOUNT or (kind is None and _AMOUNT_TEXT.fullmatch(value)):
            return _decimal(value)
        if kind is Type.DATE or (kind is None and _DATE_TEXT.fullmatch(value)):
            return _date(value)
        return celtypes.StringType(value)
    if isinstance(value, list | tuple):
        return celtypes.ListType([_to_cel(item, items) for item in value])
    if isinstance(value, Mapping):
        pairs = ((celtypes.StringType(k), _to_cel(v, None)) for k, v in value.items())
        return celtypes.MapType({key: item for key, item in pairs if item is not None})
    scalar = next((make for kind_, make in _SCALARS if isinstance(value, kind_)), None)
    if scalar is None:
        raise _Problem(f"valeur de type {type(value).__name__} non prise en charge (inexacte ?)")
    return scalar(value)


def _timestamp(day: date) -> celtypes.TimestampType:
    return celtypes.TimestampType(datetime(day.year, day.month, day.day, tzinfo=UTC))


_SCALARS: tuple[tuple[type, Callable[[Any], Any]], ...] = (
    (bool, celtypes.BoolType),
    (int, celtypes.IntType),
    (Decimal, DecimalValue),
    (date, _timestamp),
)


def _decimal(value: Any) -> DecimalValue:
    """``decimal(x)``: an exact decimal from a text (``"1.5"``), an integer or a decimal."""
    if isinstance(value, Decimal):
        return DecimalValue(value)
    if isinstance(value, celtypes.IntType | celtypes.UintType):
        return DecimalValue(int(value))
    if isinstance(value, str) and _DECIMAL_TEXT.fullmatch(value.strip()):
        return DecimalValue(value.strip())
    if isinstance(value, float):
        raise _TypeProblem(f'{value} est un double, inexact : écrivez decimal("{value}")')
    raise _Problem(f'« {value} » n\'est pas un nombre décimal (chiffres et un point : "1.5")')


def _date(value: Any) -> celtypes.TimestampType:
    """``date("2026-04-01")``: a date, as a CEL timestamp at midnight UTC."""
    if isinstance(value, celtypes.TimestampType):
        return value
    if isinstance(value, str) and _DATE_TEXT.fullmatch(value):
        try:
            return _timestamp(date.fromisoformat(value))
        except ValueError:
            pass
    raise _Problem(f"« {value} » n'est pas une date au format AAAA-MM-JJ")


def _days_between(start: Any, end: Any) -> celtypes.IntType:
    """``jours_entre(a, b)``: calendar days from ``a`` to ``b`` (negative if ``b`` is before)."""
    return celtypes.IntType((_date(end) - _date(start)).days)


def _param(table_id: Any, day: Any = None) -> DecimalValue:
    """``param("table")``: the table's value on the date bound to the evaluation, or ``day``."""
    params, on = _BINDING.get()
    when = on if day is None else _date(day).date()
    try:
        return DecimalValue(params.value(str(table_id), when))
    except EngineError as error:
        message = error.message.rstrip(".")
        raise _Problem(message[:1].lower() + message[1:]) from error


def _exact(value: Any) -> Decimal | None:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, celtypes.IntType | celtypes.UintType):
        return Decimal(int(value))
    return None


def _decimal_operator(symbol: str, exact: Callable[[Decimal, Decimal], Any]) -> Callable[..., Any]:
    """CEL's operator ``symbol``, computed exactly when a decimal takes part, else celpy's.

    A comparison's ``exact`` is Python's operator: celpy's own (``bool_lt``...) is
    ``boolean(operator.lt)``, whose wrapper it rebuilds on every call; it is built here once.
    """
    compares = symbol in ("<", "<=", ">", ">=", "==", "!=")
    base = boolean(exact) if compares else base_functions[f"_{symbol}_"]

    def cel_operator(left: Any, right: Any) -> Any:
        if isinstance(left, CELEvalError) or isinstance(right, CELEvalError):
            return left if isinstance(left, CELEvalError) else right
        if not isinstance(left, Decimal) and not isinstance(right, Decimal):
            return base(left, right)
        a, b = _exact(left), _exact(right)
        if a is None or b is None:
            hint = ""
            if isinstance(left, float) or isinstance(right, float):
                hint = ' ; écrivez les nombres à virgule avec decimal("1.5") plutôt que 1.5'
            raise _TypeProblem(
                f"« {symbol} » impossible entre {_kind(left)} et {_kind(right)}{hint}"
            )
        try:
            result = exact(a, b)
        except DecimalException as error:
            raise _Problem(f"calcul impossible ({symbol})") from error
        return DecimalValue(result) if isinstance(result, Decimal) else celtypes.BoolType(result)

    return cel_operator


def _negate(value: Any) -> Any:
    return DecimalValue(-value) if isinstance(value, Decimal) else base_functions["-_"](value)


def _divided(operation: Callable[[Decimal, Decimal], Decimal]) -> Callable[..., Decimal]:
    def divide(a: Decimal, b: Decimal) -> Decimal:
        if not b:
            raise ZeroDivisionError("division par zéro")  # celpy: "divide by zero"
        return operation(a, b)

    return divide


_OPERATORS: dict[str, Callable[..., Any]] = {
    "_+_": _decimal_operator("+", _CONTEXT.add),
    "_-_": _decimal_operator("-", _CONTEXT.subtract),
    "_*_": _decimal_operator("*", _CONTEXT.multiply),
    "_/_": _decimal_operator("/", _divided(_CONTEXT.divide)),
    "_%_": _decimal_operator("%", _divided(_CONTEXT.remainder)),
    "_<_": _decimal_operator("<", operator.lt),
    "_<=_": _decimal_operator("<=", operator.le),
    "_>_": _decimal_operator(">", operator.gt),
    "_>=_": _decimal_operator(">=", operator.ge),
    "_==_": _decimal_operator("==", operator.eq),
    "_!=_": _decimal_operator("!=", operator.ne),
    "-_": _negate,
}

_FUNCTIONS: dict[str, Callable[..., Any]] = {
    **_OPERATORS,
    "decimal": _decimal,
    "date": _date,
    "jours_entre": _days_between,
    "param": _param,
}
"""Jalon's functions and exact operators, the same for every evaluation and both paths."""
_BINDING: ContextVar[_Binding] = ContextVar("jalon_rule_parameters")
"""The parameter lookup and reference date of the evaluation under way, read by ``param()``."""


_KINDS: tuple[tuple[type, str], ...] = (
    (celtypes.BoolType, "un booléen"),
    (Decimal, "un nombre décimal"),
    (int, "un entier"),
    (float, "un nombre à virgule flottante (double)"),
    (str, "un texte"),
    (celtypes.TimestampType, "une date"),
    (celtypes.DurationType, "une durée"),
    (list, "une liste"),
    (dict, "un bloc (map)"),
)


def _kind(value: Any) -> str:
    """What ``value`` is, in French, for messages."""
    return next((name for kind, name in _KINDS if isinstance(value, kind)), "une valeur")


_EXPLANATIONS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"no such member in mapping: '([^']*)'"), "le champ « {0} » est absent"),
    (re.compile(r"does not support field selection"), "cette valeur n'a pas de champs"),
    (re.compile(r"divide by zero"), "division par zéro"),
    (re.compile(r"overflow"), "nombre hors limites"),
    (re.compile(r"no such key"), "clé absente"),
    (re.compile(r"overload"), "opération impossible entre ces types de valeurs"),
)


def _explain(error: CELEvalError) -> str:
    """A French explanation of a CEL evaluation error, with its column when known."""
    if isinstance(error.__cause__, _Problem | _TypeProblem):
        return str(error.__cause__)
    args = error.args
    where = f" (colonne {error.column})" if error.column else ""
    if len(args) > 2 and args[1] is KeyError and isinstance(args[2], tuple) and args[2]:
        name = args[2][0]
        return f"le champ « {name} » n'est pas renseigné (testez has({DATA_MAP}.{name})){where}"
    text = str(args[0]) if args else ""
    for pattern, french in _EXPLANATIONS:
        found = pattern.search(text)
        if found is not None:
            return french.format(*found.groups()) + where
    return f"erreur d'évaluation ({text.splitlines()[0][:120] if text else '?'}){where}"
