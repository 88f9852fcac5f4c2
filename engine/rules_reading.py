"""What a rule reads of a case, read from its CEL parse tree: field names, quoted ids, literals.

Used by :mod:`engine.rules` (the fields to convert, ``Rule.field_names`` for validation, the
table ids of ``param()``) and by the fast path (:mod:`engine.rules_compiled`). Walked without
recursion, when a rule is compiled or validated, never when it is evaluated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import celpy

DATA_MAP = "dossier"
"""Name of the map holding every field of the case (``has(dossier.champ)``)."""

COMPREHENSIONS = frozenset({"all", "exists", "exists_one", "map", "filter"})
"""The list macros whose first argument names a variable (``lots.all(l, l != "")``)."""

TABLE_ID = re.compile(r"""(["'])([a-z][a-z0-9_]*)\1""")
"""A quoted identifier: a table id in ``param("…")``, a key in ``dossier["…"]``."""


@dataclass(frozen=True, slots=True)
class Reads:
    """What a rule reads of a case (see :func:`reads`)."""

    names: tuple[str, ...]
    """Names read as fields, by name or through ``dossier.x`` / ``dossier["x"]``, in the
    order they are written, each once (CEL's type names included)."""
    whole_map: bool
    """The rule reads ``dossier`` as a whole (``size(dossier)``, ``dossier[nom]``): every
    field must be converted."""


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
