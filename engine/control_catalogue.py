"""Built-in controls of the catalogue (the first two; issue #3 completes it)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.controls import CaseSnapshot, ControlSpec, register


def _required_fields(params: Mapping[str, Any], snapshot: CaseSnapshot) -> tuple[bool, str]:
    missing = [
        name for name in params.get("fields", []) if snapshot.data.get(name) in (None, "", [])
    ]
    if missing:
        return False, f"champ(s) non renseigné(s) : {', '.join(missing)}"
    return True, "tous les champs requis sont renseignés"


def _required_documents(params: Mapping[str, Any], snapshot: CaseSnapshot) -> tuple[bool, str]:
    present = {document.doc_type for document in snapshot.documents}
    missing = [doc_type for doc_type in params.get("types", []) if doc_type not in present]
    if missing:
        return False, f"pièce(s) manquante(s) : {', '.join(missing)}"
    return True, "toutes les pièces requises sont jointes"


REQUIRED_FIELDS = register(
    ControlSpec(
        name="required_fields",
        clause="8.5.1",
        summary="Les champs listés (params.fields) sont renseignés.",
        check=_required_fields,
    )
)
REQUIRED_DOCUMENTS = register(
    ControlSpec(
        name="required_documents",
        clause="7.5.3",
        summary="Les pièces des types listés (params.types) sont jointes au dossier.",
        check=_required_documents,
    )
)
