"""The closures of the rules' fast path: operators, calls, fields and list macros at run time.

:mod:`engine.rules_compiled` translates a rule's parse tree into these closures once; each does
at run time what celpy's interpreter does at that node (same functions, same caught
exceptions, CEL error values where it makes them).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import reduce
from typing import Any

from celpy import celtypes
from celpy.evaluation import CELEvalError, eval_error

Scope = dict[str, Any]
"""What closures read: the case's fields by name, list-macro variables under ``"." + name``
and, when the rule reads the map as a whole, the ``dossier`` map under a non-identifier key."""

Node = Callable[[Scope], Any]
"""One translated node: the CEL value (or CEL error value) of its sub-expression."""

ERROR = CELEvalError("erreur CEL (chemin rapide)")
TRUE = celtypes.BoolType(True)
FALSE = celtypes.BoolType(False)
AND = eval_error("no such overload", TypeError)(celtypes.logical_and)
OR = eval_error("no such overload", TypeError)(celtypes.logical_or)
"""The reductions of ``all()`` and ``exists()``, wrapped as celpy's interpreter wraps them."""

Caught = tuple[type[Exception], ...]
CALL_CAUGHT: Caught = (ValueError, TypeError, AttributeError)
"""What celpy's interpreter turns into an error value around a function or method call; each
operator node has its own tuple (in :mod:`engine.rules_compiled`), copied from celpy's
``Evaluator``."""


class Abandon(Exception):
    """The fast path cannot be sure of the interpreter's answer: the interpreter decides."""


def binary(function: Callable[..., Any], left: Node, right: Node, caught: Caught) -> Node:
    """An operator node: both sides evaluated, ``caught`` exceptions made an error value."""

    def binary(scope: Scope) -> Any:
        a = left(scope)
        b = right(scope)
        try:
            return function(a, b)
        except caught:
            return ERROR

    return binary


def call(function: Callable[..., Any], arguments: list[Node]) -> Node:
    """A function or method call: an error argument passes through, a failure is an error."""
    if len(arguments) == 1:
        (only,) = arguments

        def call_one(scope: Scope) -> Any:
            value = only(scope)
            if isinstance(value, CELEvalError):
                return value
            try:
                return function(value)
            except CALL_CAUGHT:
                return ERROR

        return call_one

    def call(scope: Scope) -> Any:
        values = [argument(scope) for argument in arguments]
        for value in values:
            if isinstance(value, CELEvalError):
                return value
        try:
            return function(*values)
        except CALL_CAUGHT:
            return ERROR

    return call


def field(name: str) -> Node:
    """``dossier.name``: the field's value, or an error when it is not set."""
    return lambda scope: scope.get(name, ERROR)


def _all(member: Node, key: str, body: Node) -> Node:
    return _reduction(member, key, body, AND, TRUE)


def _exists(member: Node, key: str, body: Node) -> Node:
    return _reduction(member, key, body, OR, FALSE)


def _reduction(
    member: Node, key: str, body: Node, combine: Callable[[Any, Any], Any], start: Any
) -> Node:
    """``all``/``exists``: every body evaluated, errors kept as values, then combined."""

    def reduction(scope: Scope) -> Any:
        items = member(scope)
        if isinstance(items, CELEvalError):
            return items
        local = dict(scope)

        def one(item: Any) -> Any:
            local[key] = item
            return body(local)

        return reduce(combine, map(one, items), start)

    return reduction


def _bodies(member: Node, key: str, body: Node) -> Callable[[Scope], Any]:
    """The (item, value of the body) pairs of ``map``, ``filter``, ``exists_one``; the
    interpreter raises a body's error through every enclosing node: abandon."""

    def bodies(scope: Scope) -> Any:
        items = member(scope)
        if isinstance(items, CELEvalError):
            return items
        local = dict(scope)
        pairs = []
        for item in items:
            local[key] = item
            value = body(local)
            if isinstance(value, CELEvalError):
                raise Abandon
            pairs.append((item, value))
        return pairs

    return bodies


def _map(member: Node, key: str, body: Node) -> Node:
    bodies = _bodies(member, key, body)

    def map_(scope: Scope) -> Any:
        pairs = bodies(scope)
        if isinstance(pairs, CELEvalError):
            return pairs
        return celtypes.ListType([value for _, value in pairs])

    return map_


def _filter(member: Node, key: str, body: Node) -> Node:
    bodies = _bodies(member, key, body)

    def filter_(scope: Scope) -> Any:
        pairs = bodies(scope)
        if isinstance(pairs, CELEvalError):
            return pairs
        return celtypes.ListType([item for item, value in pairs if value])

    return filter_


def _exists_one(member: Node, key: str, body: Node) -> Node:
    bodies = _bodies(member, key, body)

    def exists_one(scope: Scope) -> Any:
        pairs = bodies(scope)
        if isinstance(pairs, CELEvalError):
            return pairs
        return TRUE if sum(1 for _, value in pairs if value) == 1 else FALSE

    return exists_one


MACROS: dict[str, Callable[[Node, str, Node], Node]] = {
    "all": _all,
    "exists": _exists,
    "exists_one": _exists_one,
    "map": _map,
    "filter": _filter,
}
