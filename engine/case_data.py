"""Case inputs checked before anything is written: typed field values, document fingerprints."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from engine.definition import WorkflowDef
from engine.errors import InvalidValue
from engine.values import parse_value

CHUNK = 1 << 20
CODE_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
"""Codes chosen by users: document types, declaration types, checklist items."""


def check_code(value: str, field: str, what: str, example: str) -> None:
    """Refuse a code that is not lower-case letters, digits and underscores, in French."""
    if not CODE_PATTERN.match(value):
        raise InvalidValue(
            field,
            f"{what} « {value} » invalide : minuscules, chiffres et _, par exemple {example}.",
        )


def parse_case_values(definition: WorkflowDef, values: Mapping[str, str]) -> dict[str, Any]:
    """Parse ``FIELD=VALUE`` texts against the definition's field types (empty text: clear)."""
    parsed: dict[str, Any] = {}
    for name, raw in values.items():
        field = definition.fields.get(name)
        if field is None:
            known = ", ".join(sorted(definition.fields)) or "aucun"
            raise InvalidValue(
                name,
                f"Champ « {name} » inconnu de la procédure « {definition.id} » "
                f"(champs connus : {known}).",
            )
        parsed[name] = None if raw.strip() == "" else parse_value(field, raw, name=name)
    return parsed


def refuse_fixed(definition: WorkflowDef, names: Iterable[str]) -> None:
    """Refuse changing a field the definition fixes when the case is opened."""
    for name in names:
        field = definition.fields.get(name)
        if field is not None and field.fixed:
            raise InvalidValue(
                name,
                f"Le champ « {name} » ({field.label}) est fixé à l'ouverture du dossier : il ne "
                "peut plus être modifié.",
            )


def fingerprint(path: Path) -> tuple[int, str]:
    """The size in bytes and the SHA-256 (hex) of a file, read in chunks."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as stream:
        while chunk := stream.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()
