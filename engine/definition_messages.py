"""Translate pydantic's validation errors on a workflow definition into French, at their place.

``engine.loader`` validates the data read from YAML with :class:`WorkflowDef`; this module turns
each pydantic error into a field path (the file's own keys, without the tags pydantic adds for
the alternatives of a union) and one French sentence a process owner can act on.
"""

from __future__ import annotations

import difflib
import typing
from datetime import date
from typing import Any

from pydantic import BaseModel, ValidationError

from engine.definition import IDENTIFIER, WorkflowDef
from engine.validation import PathPart, field_path

_NOUNS = {
    "string_type": "un texte",
    "int_type": "un nombre entier",
    "float_type": "un nombre",
    "bool_type": "un booléen (true ou false)",
    "list_type": "une liste (éléments précédés de « - »)",
    "dict_type": "un bloc de clés et de valeurs (clé: valeur)",
    "model_type": "un bloc de clés et de valeurs (clé: valeur)",
    "model_attributes_type": "un bloc de clés et de valeurs (clé: valeur)",
}
_PATTERNS = {
    IDENTIFIER: "un identifiant : lettres minuscules sans accent, chiffres et « _ », "
    "en commençant par une lettre (ex. « date_envoi_avis »)",
    WorkflowDef.model_fields["code"].metadata[0].pattern: "un code de 2 à 8 majuscules ou "
    "chiffres, en commençant par une lettre (ex. « MAPA »)",
}
_VALUE_ERRORS = {"source must name at least one state": "doit nommer au moins une étape"}
_SCALARS = (str, int, float, bool, date)

Located = tuple[tuple[PathPart, ...], str, str]
"""A pydantic error placed in the file: field path parts, dotted field, French message."""


def located_errors(error: ValidationError, data: Any) -> list[Located]:
    """Translate every error of ``error`` into French, at its place in the data read.

    The alternatives of a union (``source: str | list[str]``) appear in pydantic's locations
    as tags that are not in the data: they are dropped, and the alternatives' complaints about
    one value are merged into one message.

    Args:
        error: What ``WorkflowDef.model_validate(data)`` raised.
        data: The data that was validated (to tell the file's keys from union tags).

    Returns:
        One ``(path parts, dotted field, message)`` per distinct problem, in pydantic's order.
    """
    merged: dict[tuple[PathPart, ...], list[str]] = {}
    deep_unions: set[tuple[PathPart, ...]] = set()
    plain: list[tuple[tuple[PathPart, ...], dict[str, Any]]] = []
    for details in error.errors(include_url=False):
        item: dict[str, Any] = dict(details)
        loc, union_at = _clean_loc(item["loc"], data, item["type"])
        if union_at is not None and len(loc) > union_at:
            deep_unions.add(loc[:union_at])
        if union_at is not None and len(loc) == union_at and item["type"] in _NOUNS:
            merged.setdefault(loc, []).append(_NOUNS[item["type"]])
            if len(merged[loc]) == 1:
                plain.append((loc, {"type": "__union__"}))
            continue
        plain.append((loc, item))
    out: list[Located] = []
    for loc, found in plain:
        written, shown = _as_written(loc, data)
        if found["type"] == "__union__":
            if loc in deep_unions:
                continue
            nouns = " ou ".join(dict.fromkeys(merged[loc]))
            message = f"doit être {nouns}{_shown(_value_at(data, loc))}"
        else:
            message = _french(found, written)
        out.append((loc, field_path(*shown), message))
    return out


def _clean_loc(
    loc: tuple[int | str, ...], data: Any, kind: str
) -> tuple[tuple[PathPart, ...], int | None]:
    kept: list[PathPart] = []
    union_at: int | None = None
    current = data
    for position, part in enumerate(loc):
        if _has(current, part):
            current = current[part]
        elif position == len(loc) - 1 and kind == "missing":
            pass
        else:
            if union_at is None and part != "[key]":
                union_at = len(kept)
            continue
        kept.append(part)
    return tuple(kept), union_at


def _has(container: Any, part: PathPart) -> bool:
    if isinstance(container, dict):
        return part in container
    return isinstance(container, list) and isinstance(part, int) and 0 <= part < len(container)


def _as_written(loc: tuple[PathPart, ...], data: Any) -> tuple[tuple[Any, ...], list[PathPart]]:
    """Return the path with the data's own keys, and the path to display.

    pydantic reports a ``true`` mapping key as ``1``; the display path writes mapping keys
    that YAML did not read as text (numbers, booleans) as text.
    """
    parts: list[Any] = []
    shown: list[PathPart] = []
    for part in loc:
        if isinstance(data, dict) and not isinstance(part, str):
            part = next((key for key in data if key == part), part)  # noqa: PLW2901
            shown.append(str(part))
        else:
            shown.append(part)
        parts.append(part)
        data = data[part] if _has(data, part) else None
    return tuple(parts), shown


def _value_at(data: Any, loc: tuple[PathPart, ...]) -> Any:
    for part in loc:
        data = data[part]
    return data


def _shown(value: Any) -> str:
    if not isinstance(value, _SCALARS):
        return ""
    text = str(value)
    text = text if len(text) <= 60 else text[:57] + "..."
    hint = " ; mettez-la entre guillemets si c'est un texte" if not isinstance(value, str) else ""
    return f" (valeur lue : « {text} »{hint})"


_TEMPLATES = {
    "missing": "clé obligatoire « {name} » manquante",
    "int_parsing": "« {value} » n'est pas un nombre entier",
    "int_from_float": "doit être un nombre entier, sans décimale (valeur lue : {value})",
    "bool_parsing": "doit valoir true ou false (valeur lue : « {value} »)",
    "enum": "valeur « {value} » non reconnue ; valeurs possibles : {expected}",
    "literal_error": "valeur « {value} » non reconnue ; valeurs possibles : {expected}",
    "string_pattern_mismatch": "« {value} » invalide : doit être {wanted}",
    "greater_than_equal": "doit être supérieur ou égal à {ge} (valeur lue : {value})",
    "greater_than": "doit être strictement supérieur à {gt} (valeur lue : {value})",
    "less_than_equal": "doit être inférieur ou égal à {le} (valeur lue : {value})",
    "less_than": "doit être strictement inférieur à {lt} (valeur lue : {value})",
    "string_too_short": "ne doit pas être vide",
    "too_short": "ne doit pas être vide",
}


def _french(item: dict[str, Any], loc: tuple[Any, ...]) -> str:
    kind: str = item["type"]
    ctx: dict[str, Any] = item.get("ctx") or {}
    value = item.get("input")
    name = loc[-1] if loc else ""
    if "[key]" in item["loc"]:
        read = "un booléen (on, off, yes, no…)" if isinstance(name, bool) else "un nombre"
        return f"le nom « {name} » est lu comme {read} : mettez-le entre guillemets"
    if kind == "extra_forbidden":
        return f"clé inconnue « {name} »{_allowed_keys(loc[:-1], str(name))}"
    if kind in _NOUNS:
        return f"doit être {_NOUNS[kind]}{_shown(value)}"
    if kind == "value_error":
        text = str(ctx.get("error", item.get("msg", "")))
        return _VALUE_ERRORS.get(text, text)
    if kind in _TEMPLATES:
        pattern = str(ctx.get("pattern", ""))
        return _TEMPLATES[kind].format_map(
            {
                **ctx,
                "name": name,
                "value": value,
                "expected": str(ctx.get("expected", "")).replace(" or ", " ou "),
                "wanted": _PATTERNS.get(pattern, f"une valeur au format {pattern}"),
            }
        )
    return str(item.get("msg", kind))


def _allowed_keys(parent: tuple[PathPart, ...], name: str) -> str:
    model = _model_at(parent)
    if model is None:
        return ""
    keys = list(model.model_fields)
    close = difflib.get_close_matches(name, keys, n=1, cutoff=0.6)
    hint = f" (vouliez-vous dire « {close[0]} » ?)" if close else ""
    return f"{hint} ; clés possibles : {', '.join(keys)}"


def _model_at(loc: tuple[PathPart, ...]) -> type[BaseModel] | None:
    annotation: Any = WorkflowDef
    for part in loc:
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            field = annotation.model_fields.get(str(part))
            if field is None:
                return None
            annotation = field.annotation
        elif typing.get_origin(annotation) in (list, dict):
            annotation = typing.get_args(annotation)[-1]
        else:
            return None
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None
