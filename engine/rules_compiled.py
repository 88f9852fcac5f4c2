"""The fast path of rules: a rule's parse tree translated once into nested Python closures.

celpy's interpreter (used by :mod:`engine.rules`) walks lark's parse tree on every
evaluation, through CEL's deep grammar (a comparison is some twenty nested nodes, each
dispatched by name). :func:`translate` walks the tree once, when the rule is compiled, and
returns a :class:`Program`: closures that do at each node what the interpreter does there,
in the same order, calling the same operator and function objects (the table handed over by
:mod:`engine.rules`) with the same values, and turning the same exceptions into CEL error
values at the same nodes. No Python source is generated: nothing here calls Python's
``eval``, ``exec`` or ``compile()``; a name can still only be a case field, a variable of a
list macro, the ``dossier`` map or a function of that table.

The fast path answers only when it is sure to give the interpreter's answer:

- a construct it does not translate (a macro with other than two arguments, a name of
  celpy's protobuf annotations, a tree deeper than :data:`MAX_DEPTH`...) leaves the rule
  without a fast path: the interpreter evaluates it, always;
- at run time it abandons — :meth:`Program.run` returns ``None`` and the caller evaluates
  with the interpreter — when the result is an error or not a boolean (the interpreter then
  gives the authoritative ``RuleError`` and its French message), on any exception other
  than those the interpreter turns into an error value at that node (it meets them too),
  and wherever the interpreter's behaviour would depend on what an error says or where it
  is raised (an error inside a map literal, an error in the body of ``map``, ``filter`` or
  ``exists_one``, which the interpreter raises through every enclosing node).

CEL errors are values here as in the interpreter (one shared :class:`CELEvalError`, whose
text never reaches a message), so ``&&``, ``||``, ``?:`` and ``has()`` absorb them exactly
as celpy does; both sides of ``&&`` and ``||`` are evaluated, as the interpreter does.

What a rule reads of a case is read from the same tree by :mod:`engine.rules_reading`. See
docs/rules.md, "How rules are evaluated".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import celpy
from celpy import celtypes
from celpy.evaluation import Activation, CELEvalError, Evaluator, NameContainer

from engine.rules_closures import (
    CALL_CAUGHT,
    ERROR,
    FALSE,
    MACROS,
    TRUE,
    Abandon,
    Caught,
    Node,
    Scope,
    binary,
    call,
    field,
)
from engine.rules_reading import COMPREHENSIONS, DATA_MAP, ident_name, quoted

MAX_DEPTH = 150
"""Deepest parse tree given a fast path. The interpreter needs about five Python frames per
level of the tree; at this depth it stays far below the recursion limit (2 500 at least,
celpy's), so the fast path never answers where the interpreter would run out of stack."""

_MAP_KEY = "#" + DATA_MAP  # neither a field read by name nor a variable: not an identifier
_RESERVED = frozenset(name.split(".")[0] for name in celpy.googleapis)
"""Roots of celpy's protobuf annotations (``google``): the interpreter resolves them to
name containers before any field, so they get no fast path."""
_MACRO_NAMES = frozenset({*COMPREHENSIONS, "reduce", "min"})
"""Every method name celpy's interpreter treats as a macro."""
_RELATION = {
    "relation_lt": "_<_",
    "relation_le": "_<=_",
    "relation_gt": "_>_",
    "relation_ge": "_>=_",
    "relation_eq": "_==_",
    "relation_ne": "_!=_",
    "relation_in": "_in_",
}
_ADDITION = {"addition_add": "_+_", "addition_sub": "_-_"}
_MULTIPLICATION = {
    "multiplication_mul": "_*_",
    "multiplication_div": "_/_",
    "multiplication_mod": "_%_",
}
_UNARY = {"unary_not": "!_", "unary_neg": "-_"}


class _Unsupported(Exception):
    """A construct the translation does not cover: the rule gets no fast path."""


@dataclass(frozen=True, slots=True)
class Program:
    """A rule translated to closures; :meth:`run` answers or abandons."""

    root: Node
    whole_map: bool

    def run(self, values: Scope) -> bool | None:
        """The rule's answer on ``values`` (the converted fields), or ``None`` to abandon.

        ``None`` means: evaluate with the interpreter, which gives the authoritative result
        or error. The parameter lookup of ``param()`` is bound by the caller, as for the
        interpreter. ``values`` is not modified.
        """
        scope = {**values, _MAP_KEY: cases_map(values)} if self.whole_map else values
        try:
            result = self.root(scope)
        except Exception:  # Abandon, or an exception the interpreter meets as well
            return None
        return bool(result) if isinstance(result, celtypes.BoolType) else None


def cases_map(values: Mapping[str, Any]) -> celtypes.MapType:
    """The ``dossier`` map of the converted fields ``values``."""
    return celtypes.MapType({celtypes.StringType(k): v for k, v in values.items()})


def translate(
    ast: celpy.Expression[Any], functions: Mapping[str, Callable[..., Any]]
) -> Program | None:
    """The fast path of ``ast``, calling ``functions`` (the interpreter's table); ``None``
    when the tree uses something the translation does not cover."""
    if _depth(ast) > MAX_DEPTH:
        return None
    translator = _Translator(functions)
    try:
        root = translator.node(ast, frozenset())
    except (_Unsupported, RecursionError):
        return None
    return Program(root, translator.whole_map)


def _depth(ast: celpy.Expression[Any]) -> int:
    deepest = 0
    stack: list[tuple[Any, int]] = [(ast, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, celpy.Expression):
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in node.children)
    return deepest


def _single(tree: Any) -> Any:
    """The first node under ``tree`` that has not exactly one child (chains collapse)."""
    while isinstance(tree, celpy.Expression) and len(tree.children) == 1:
        tree = tree.children[0]
    return tree


class _Translator:
    """Builds the closures of one tree; ``bound`` holds the list-macro variables in scope."""

    def __init__(self, functions: Mapping[str, Callable[..., Any]]) -> None:
        self.functions = functions
        self.whole_map = False

    def node(self, tree: Any, bound: frozenset[str]) -> Node:
        """The closure of ``tree``."""
        if not isinstance(tree, celpy.Expression):
            raise _Unsupported(tree)
        children = tree.children
        if len(children) == 1 and tree.data in _CHAINS:
            return self.node(children[0], bound)  # the interpreter's ``values[0]``
        build = _BUILDERS.get(tree.data)
        if build is None:
            raise _Unsupported(tree.data)
        return build(self, tree, bound)

    def function(self, name: str) -> Callable[..., Any]:
        """The function the interpreter would call for ``name``."""
        function = self.functions.get(name)
        if function is None:
            raise _Unsupported(name)  # the interpreter: "undeclared reference"
        return function

    def arguments(self, tree: Any, bound: frozenset[str]) -> list[Node]:
        """The closures of an optional ``exprlist``."""
        if tree is None:
            return []
        if tree.data != "exprlist":
            raise _Unsupported(tree.data)
        return [self.node(child, bound) for child in tree.children]

    # --- expr, ||, &&, relations, arithmetic, unary

    def conditional(self, tree: Any, bound: frozenset[str]) -> Node:
        """``c ? a : b``: the branch Python's truth of ``c`` picks, then ``_?_:_``."""
        if len(tree.children) != 3:
            raise _Unsupported(tree.data)
        test, yes, no = (self.node(child, bound) for child in tree.children)
        choose = self.function("_?_:_")

        def conditional(scope: Scope) -> Any:
            condition = test(scope)
            try:
                if condition:
                    left, right = yes(scope), FALSE
                else:
                    left, right = FALSE, no(scope)
            except TypeError as error:  # the interpreter would make it an error value
                raise Abandon from error
            try:
                return choose(condition, left, right)
            except TypeError:
                return ERROR

        return conditional

    def logical(self, tree: Any, bound: frozenset[str]) -> Node:
        """``a || b``, ``a && b``: both sides evaluated, as the interpreter does."""
        name = "_||_" if tree.data == "conditionalor" else "_&&_"
        left, right = (self.node(child, bound) for child in tree.children)
        return binary(self.function(name), left, right, (TypeError,))

    def operation(self, tree: Any, bound: frozenset[str]) -> Node:
        """A relation, an addition or a multiplication: ``left op right``."""
        operator_tree, right_tree = tree.children
        names, caught = _OPERATIONS[tree.data]
        (left_tree,) = operator_tree.children
        left, right = self.node(left_tree, bound), self.node(right_tree, bound)
        return binary(self.function(names[operator_tree.data]), left, right, caught)

    def unary(self, tree: Any, bound: frozenset[str]) -> Node:
        """``!x``, ``-x``."""
        operator_tree, operand_tree = tree.children
        function = self.function(_UNARY[operator_tree.data])
        operand = self.node(operand_tree, bound)

        def unary(scope: Scope) -> Any:
            value = operand(scope)
            try:
                return function(value)
            except (TypeError, ValueError):
                return ERROR

        return unary

    # --- members: e.f, e.f(args), e[i]

    def member_dot(self, tree: Any, bound: frozenset[str]) -> Node:
        """``e.f``: a key of a map (``dossier.f`` reads the field directly)."""
        member_tree, name_token = tree.children
        name = str(name_token)
        if DATA_MAP not in bound and ident_name(member_tree) == DATA_MAP:
            return field(name)
        member = self.node(member_tree, bound)

        def member_dot(scope: Scope) -> Any:
            value = member(scope)
            if isinstance(value, CELEvalError):
                return value
            if isinstance(value, NameContainer | celtypes.MessageType):
                raise Abandon
            if isinstance(value, celtypes.MapType):
                try:
                    return value[name]
                except KeyError:
                    return ERROR
            return ERROR  # no field selection on this value

        return member_dot

    def member_dot_arg(self, tree: Any, bound: frozenset[str]) -> Node:
        """``e.f(args)``: a list macro or a method (a function taking ``e`` first)."""
        member_tree, name_token, *rest = tree.children
        name = str(name_token)
        member = self.node(member_tree, bound)
        if name in _MACRO_NAMES:
            return self.macro(name, member, rest[0] if rest else None, bound)
        function = self.function(name)
        arguments = self.arguments(rest[0] if rest else None, bound)

        def method(scope: Scope) -> Any:
            value = member(scope)
            values = [argument(scope) for argument in arguments]
            if isinstance(value, CELEvalError):
                return value
            for argument in values:
                if isinstance(argument, CELEvalError):
                    return argument
            try:
                return function(value, *values)
            except CALL_CAUGHT:
                return ERROR

        return method

    def member_index(self, tree: Any, bound: frozenset[str]) -> Node:
        """``e[i]`` (``dossier["f"]`` reads the field directly)."""
        member_tree, index_tree = tree.children
        if DATA_MAP not in bound and ident_name(member_tree) == DATA_MAP:
            key = quoted(index_tree)
            if key is not None:
                return field(key)
        member, index = self.node(member_tree, bound), self.node(index_tree, bound)
        return binary(self.function("_[_]"), member, index, (TypeError, KeyError, IndexError))

    def macro(self, name: str, member: Node, arguments: Any, bound: frozenset[str]) -> Node:
        """``e.all(v, body)``, ``exists``, ``exists_one``, ``map``, ``filter``."""
        if name not in COMPREHENSIONS or arguments is None or len(arguments.children) != 2:
            raise _Unsupported(name)  # the interpreter fails on these, or they are refused
        variable_tree, body_tree = arguments.children
        variable = ident_name(variable_tree)
        if variable is None or variable in _RESERVED:
            raise _Unsupported(name)
        body = self.node(body_tree, bound | {variable})
        return MACROS[name](member, "." + variable, body)

    # --- primaries: literals, names, calls, lists, maps

    def literal(self, tree: Any, bound: frozenset[str]) -> Node:
        """A literal, converted once by celpy's own code."""
        try:
            value = Evaluator(tree, Activation()).literal(tree)
        except Exception as error:  # the interpreter would fail on every evaluation
            raise _Unsupported(tree) from error
        if isinstance(value, CELEvalError):
            raise _Unsupported(tree)
        return lambda scope: value

    def ident(self, tree: Any, bound: frozenset[str]) -> Node:
        """A name: a list-macro variable, the map, a field, or else a function of the table."""
        name = str(tree.children[0])
        if name in _RESERVED:
            raise _Unsupported(name)
        if name in bound:
            key = "." + name
            return lambda scope: scope[key]
        if name == DATA_MAP:
            self.whole_map = True
            return lambda scope: scope[_MAP_KEY]
        fallback = self.functions.get(name, ERROR)  # ``int`` in ``type(x) == int``

        def ident(scope: Scope) -> Any:
            return scope.get(name, fallback)

        return ident

    def ident_arg(self, tree: Any, bound: frozenset[str]) -> Node:
        """``f(args)``, and the macros ``has(e.f)`` and ``dyn(e)``."""
        name_token, *rest = tree.children
        name = str(name_token)
        arguments_tree = rest[0] if rest else None
        if name in ("has", "dyn"):
            if arguments_tree is None or len(arguments_tree.children) != 1:
                raise _Unsupported(name)
            return self.has_or_dyn(name, arguments_tree.children[0], bound)
        return call(self.function(name), self.arguments(arguments_tree, bound))

    def has_or_dyn(self, name: str, argument: Any, bound: frozenset[str]) -> Node:
        """``has(e)``: whether ``e`` is not an error (``has(dossier.f)``: whether f is set)."""
        if name == "dyn":
            return self.node(argument, bound)
        member = _single(argument)
        if (
            isinstance(member, celpy.Expression)
            and member.data == "member_dot"
            and DATA_MAP not in bound
            and ident_name(member.children[0]) == DATA_MAP
        ):
            field = str(member.children[1])
            return lambda scope: TRUE if field in scope else FALSE
        value = self.node(argument, bound)
        return lambda scope: FALSE if isinstance(value(scope), CELEvalError) else TRUE

    def paren_expr(self, tree: Any, bound: frozenset[str]) -> Node:
        """``(e)``."""
        (inner,) = tree.children
        return self.node(inner, bound)

    def list_lit(self, tree: Any, bound: frozenset[str]) -> Node:
        """``[a, b]``: the first error among the items, else the list."""
        items = self.arguments(tree.children[0] if tree.children else None, bound)

        def list_lit(scope: Scope) -> Any:
            values = [item(scope) for item in items]
            for value in values:
                if isinstance(value, CELEvalError):
                    return value
            return celtypes.ListType(values)

        return list_lit

    def map_lit(self, tree: Any, bound: frozenset[str]) -> Node:
        """``{k: v}``; abandons when an entry is an error or fails (its text would matter)."""
        entries = tree.children[0].children if tree.children else []
        nodes = [self.node(entry, bound) for entry in entries]

        def map_lit(scope: Scope) -> Any:
            try:
                values = [node(scope) for node in nodes]
            except Exception as error:
                raise Abandon from error
            if any(isinstance(value, CELEvalError) for value in values):
                raise Abandon
            result = celtypes.MapType()
            try:
                for key, value in zip(values[0::2], values[1::2], strict=True):
                    if key in result:
                        raise ValueError(key)  # a duplicate key, as celpy's mapinits
                    result[key] = value
            except (ValueError, TypeError):
                return ERROR
            return result

        return map_lit


_CHAINS = frozenset(
    {
        "expr",
        "conditionalor",
        "conditionaland",
        "relation",
        "addition",
        "multiplication",
        "unary",
        "member",
        "primary",
    }
)
"""Nodes that, with one child, are that child's value."""

_OPERATIONS: dict[str, tuple[dict[str, str], Caught]] = {
    "relation": (_RELATION, (TypeError,)),
    "addition": (_ADDITION, (TypeError, ValueError, OverflowError)),
    "multiplication": (
        _MULTIPLICATION,
        (TypeError, ZeroDivisionError, ValueError, OverflowError),
    ),
}

_BUILDERS: dict[str, Callable[[_Translator, Any, frozenset[str]], Node]] = {
    "expr": _Translator.conditional,
    "conditionalor": _Translator.logical,
    "conditionaland": _Translator.logical,
    "relation": _Translator.operation,
    "addition": _Translator.operation,
    "multiplication": _Translator.operation,
    "unary": _Translator.unary,
    "member_dot": _Translator.member_dot,
    "member_dot_arg": _Translator.member_dot_arg,
    "member_index": _Translator.member_index,
    "literal": _Translator.literal,
    "ident": _Translator.ident,
    "ident_arg": _Translator.ident_arg,
    "paren_expr": _Translator.paren_expr,
    "list_lit": _Translator.list_lit,
    "map_lit": _Translator.map_lit,
}
