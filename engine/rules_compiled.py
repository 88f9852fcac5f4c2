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

This module also reads the tree for :mod:`engine.rules`: the fields a rule reads
(:func:`reads`), quoted table ids and literal texts. See docs/rules.md, "How rules are
evaluated".
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import reduce
from typing import Any

import celpy
from celpy import celtypes
from celpy.evaluation import Activation, CELEvalError, Evaluator, NameContainer, eval_error

DATA_MAP = "dossier"
"""Name of the map holding every field of the case (``has(dossier.champ)``)."""

COMPREHENSIONS = frozenset({"all", "exists", "exists_one", "map", "filter"})
"""The list macros whose first argument names a variable (``lots.all(l, l != "")``)."""

MAX_DEPTH = 150
"""Deepest parse tree given a fast path. The interpreter needs about five Python frames per
level of the tree; at this depth it stays far below the recursion limit (2 500 at least,
celpy's), so the fast path never answers where the interpreter would run out of stack."""

TABLE_ID = re.compile(r"""(["'])([a-z][a-z0-9_]*)\1""")
"""A quoted identifier: a table id in ``param("…")``, a key in ``dossier["…"]``."""

Scope = dict[str, Any]
"""What closures read: the case's fields by name, list-macro variables under ``"." + name``
and, when the rule reads the map as a whole, the ``dossier`` map under ``_MAP_KEY``."""

Node = Callable[[Scope], Any]
"""One translated node: the CEL value (or CEL error value) of its sub-expression."""

_MAP_KEY = "#" + DATA_MAP  # neither a field read by name nor a variable: not an identifier
_ERROR = CELEvalError("erreur CEL (chemin rapide)")
_TRUE = celtypes.BoolType(True)
_FALSE = celtypes.BoolType(False)
_RESERVED = frozenset(name.split(".")[0] for name in celpy.googleapis)
"""Roots of celpy's protobuf annotations (``google``): the interpreter resolves them to
name containers before any field, so they get no fast path."""
_MACRO_NAMES = frozenset({*COMPREHENSIONS, "reduce", "min"})
"""Every method name celpy's interpreter treats as a macro."""
_AND = eval_error("no such overload", TypeError)(celtypes.logical_and)
_OR = eval_error("no such overload", TypeError)(celtypes.logical_or)
"""The reductions of ``all()`` and ``exists()``, wrapped as celpy's interpreter wraps them."""

_Caught = tuple[type[Exception], ...]
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
_CALL_CAUGHT: _Caught = (ValueError, TypeError, AttributeError)
"""What celpy's interpreter turns into an error value around a function or method call; each
operator node has its own tuple below, copied from celpy's ``Evaluator``."""


class Abandon(Exception):
    """The fast path cannot be sure of the interpreter's answer: the interpreter decides."""


class _Unsupported(Exception):
    """A construct the translation does not cover: the rule gets no fast path."""


@dataclass(frozen=True, slots=True)
class Reads:
    """What a rule reads of a case (see :func:`reads`)."""

    names: tuple[str, ...]
    """Names read as fields, by name or through ``dossier.x`` / ``dossier["x"]``, in the
    order they are written, each once (CEL's type names included)."""
    whole_map: bool
    """The rule reads ``dossier`` as a whole (``size(dossier)``, ``dossier[nom]``): every
    field must be converted."""


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


def reads(ast: celpy.Expression[Any]) -> Reads:
    """The names ``ast`` reads as case fields and whether it reads the map as a whole.

    A field is a free name (``montant_estime``) or a member of the map of all fields
    (``dossier.montant_estime``, ``dossier["montant_estime"]``); the variables of the list
    macros (``l`` in ``lots.all(l, l != "")``) and ``dossier`` itself are not fields.
    Walked without recursion.
    """
    found: dict[str, None] = {}
    whole_map = False
    stack: list[tuple[Any, frozenset[str]]] = [(ast, frozenset())]
    while stack:
        node, bound = stack.pop()
        if not isinstance(node, celpy.Expression):
            continue  # a token: a method or member name, an operator, a literal's text
        children: list[Any] = list(node.children)
        if node.data == "ident":
            name = str(children[0])
            if name == DATA_MAP and name not in bound:
                whole_map = True
            elif name not in bound:
                found.setdefault(name)
            continue
        if node.data in ("member_dot", "member_index") and DATA_MAP not in bound:
            if ident_name(children[0]) == DATA_MAP:
                key = str(children[1]) if node.data == "member_dot" else quoted(children[1])
                if key is None:
                    whole_map = True  # dossier[an expression]: any field
                else:
                    found.setdefault(key)
                children = children[1:]
        elif node.data == "member_dot_arg" and str(children[1]) in COMPREHENSIONS:
            arguments = children[2].children if len(children) > 2 else []
            variable = ident_name(arguments[0]) if arguments else None
            inner = bound if variable is None else bound | {variable}
            stack.extend((argument, inner) for argument in reversed(arguments[1:]))
            children = children[:1]
        stack.extend((child, bound) for child in reversed(children))
    return Reads(tuple(found), whole_map)


def ident_name(tree: Any) -> str | None:
    """The name, when ``tree`` is a name alone (``montant`` but not ``montant + 1``)."""
    while isinstance(tree, celpy.Expression) and len(tree.children) == 1:
        if tree.data == "ident":
            return str(tree.children[0])
        tree = tree.children[0]
    return None


def quoted(tree: Any) -> str | None:
    """The text of a quoted identifier literal alone (``"montant"``), else ``None``."""
    match = TABLE_ID.fullmatch(literal_text(tree) or "")
    return match.group(2) if match is not None else None


def literal_text(tree: Any) -> str | None:
    """The text of a literal, when ``tree`` is that literal alone."""
    while isinstance(tree, celpy.Expression) and len(tree.children) == 1:
        if tree.data == "literal":
            return str(tree.children[0])
        tree = tree.children[0]
    return None


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
                    left, right = yes(scope), _FALSE
                else:
                    left, right = _FALSE, no(scope)
            except TypeError as error:  # the interpreter would make it an error value
                raise Abandon from error
            try:
                return choose(condition, left, right)
            except TypeError:
                return _ERROR

        return conditional

    def logical(self, tree: Any, bound: frozenset[str]) -> Node:
        """``a || b``, ``a && b``: both sides evaluated, as the interpreter does."""
        name = "_||_" if tree.data == "conditionalor" else "_&&_"
        left, right = (self.node(child, bound) for child in tree.children)
        return _binary(self.function(name), left, right, (TypeError,))

    def operation(self, tree: Any, bound: frozenset[str]) -> Node:
        """A relation, an addition or a multiplication: ``left op right``."""
        operator_tree, right_tree = tree.children
        names, caught = _OPERATIONS[tree.data]
        (left_tree,) = operator_tree.children
        left, right = self.node(left_tree, bound), self.node(right_tree, bound)
        return _binary(self.function(names[operator_tree.data]), left, right, caught)

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
                return _ERROR

        return unary

    # --- members: e.f, e.f(args), e[i]

    def member_dot(self, tree: Any, bound: frozenset[str]) -> Node:
        """``e.f``: a key of a map (``dossier.f`` reads the field directly)."""
        member_tree, name_token = tree.children
        name = str(name_token)
        if DATA_MAP not in bound and ident_name(member_tree) == DATA_MAP:
            return _field(name)
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
                    return _ERROR
            return _ERROR  # no field selection on this value

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
            except _CALL_CAUGHT:
                return _ERROR

        return method

    def member_index(self, tree: Any, bound: frozenset[str]) -> Node:
        """``e[i]`` (``dossier["f"]`` reads the field directly)."""
        member_tree, index_tree = tree.children
        if DATA_MAP not in bound and ident_name(member_tree) == DATA_MAP:
            key = quoted(index_tree)
            if key is not None:
                return _field(key)
        member, index = self.node(member_tree, bound), self.node(index_tree, bound)
        return _binary(self.function("_[_]"), member, index, (TypeError, KeyError, IndexError))

    def macro(self, name: str, member: Node, arguments: Any, bound: frozenset[str]) -> Node:
        """``e.all(v, body)``, ``exists``, ``exists_one``, ``map``, ``filter``."""
        if name not in COMPREHENSIONS or arguments is None or len(arguments.children) != 2:
            raise _Unsupported(name)  # the interpreter fails on these, or they are refused
        variable_tree, body_tree = arguments.children
        variable = ident_name(variable_tree)
        if variable is None or variable in _RESERVED:
            raise _Unsupported(name)
        body = self.node(body_tree, bound | {variable})
        return _MACROS[name](member, "." + variable, body)

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
        fallback = self.functions.get(name, _ERROR)  # ``int`` in ``type(x) == int``

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
        return _call(self.function(name), self.arguments(arguments_tree, bound))

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
            return lambda scope: _TRUE if field in scope else _FALSE
        value = self.node(argument, bound)
        return lambda scope: _FALSE if isinstance(value(scope), CELEvalError) else _TRUE

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
                return _ERROR
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

_OPERATIONS: dict[str, tuple[dict[str, str], _Caught]] = {
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


def _binary(function: Callable[..., Any], left: Node, right: Node, caught: _Caught) -> Node:
    def binary(scope: Scope) -> Any:
        a = left(scope)
        b = right(scope)
        try:
            return function(a, b)
        except caught:
            return _ERROR

    return binary


def _call(function: Callable[..., Any], arguments: list[Node]) -> Node:
    if len(arguments) == 1:
        (only,) = arguments

        def call_one(scope: Scope) -> Any:
            value = only(scope)
            if isinstance(value, CELEvalError):
                return value
            try:
                return function(value)
            except _CALL_CAUGHT:
                return _ERROR

        return call_one

    def call(scope: Scope) -> Any:
        values = [argument(scope) for argument in arguments]
        for value in values:
            if isinstance(value, CELEvalError):
                return value
        try:
            return function(*values)
        except _CALL_CAUGHT:
            return _ERROR

    return call


def _field(name: str) -> Node:
    """``dossier.name``: the field's value, or an error when it is not set."""
    return lambda scope: scope.get(name, _ERROR)


def _all(member: Node, key: str, body: Node) -> Node:
    return _reduction(member, key, body, _AND, _TRUE)


def _exists(member: Node, key: str, body: Node) -> Node:
    return _reduction(member, key, body, _OR, _FALSE)


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
        return _TRUE if sum(1 for _, value in pairs if value) == 1 else _FALSE

    return exists_one


_MACROS: dict[str, Callable[[Node, str, Node], Node]] = {
    "all": _all,
    "exists": _exists,
    "exists_one": _exists_one,
    "map": _map,
    "filter": _filter,
}
