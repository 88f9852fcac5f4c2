"""Registered definition versions: registration (immutable id+version) and compiled lookup.

A case runs on the definition version it was opened with; that version's source is stored in
the database at registration, so later edits of the YAML file never change a running case.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from engine.definition import WorkflowDef
from engine.errors import DefinitionConflict, DefinitionError, UnknownWorkflow
from engine.loader import load_definition_text
from engine.machine import CompiledWorkflow, compile_workflow
from storage.store import Tx, WorkflowRow


@dataclass(frozen=True, slots=True)
class Registration:
    """The outcome of registering a definition version."""

    workflow_id: str
    version: int
    digest: str
    created: bool


def check_registrable(existing: WorkflowRow | None, definition: WorkflowDef, digest: str) -> bool:
    """True when the version must be inserted, False when already there with the same content.

    Raises:
        DefinitionConflict: the same id and version are registered with another content.
    """
    if existing is None:
        return True
    if existing.digest != digest and not _same_content(existing, digest):
        raise DefinitionConflict(
            f"La version {definition.version} de « {definition.id} » est déjà enregistrée avec "
            f"un autre contenu (empreinte {existing.digest[:12]}…, la vôtre {digest[:12]}…) : "
            "une version enregistrée ne change plus, incrémentez « version »."
        )
    return False


def _same_content(existing: WorkflowRow, digest: str) -> bool:
    """True when the stored source has ``digest`` under today's digest rule.

    A digest recorded by an older release may have been computed differently (e.g. before
    optional keys with defaults were added to the model): the stored source is the truth.
    """
    try:
        stored = load_definition_text(existing.source, existing.source_path)
    except DefinitionError:
        return False
    return stored.digest() == digest


class CompiledCache:
    """Compiled workflows by (id, version), loaded from their registered source on first use."""

    def __init__(self) -> None:
        self._compiled: dict[tuple[str, int], CompiledWorkflow] = {}
        self._lock = threading.Lock()

    def get(self, tx: Tx, workflow_id: str, version: int) -> CompiledWorkflow:
        """The compiled workflow of a registered version (read through ``tx`` on a miss)."""
        key = (workflow_id, version)
        compiled = self._compiled.get(key)
        if compiled is not None:
            return compiled
        row = tx.workflow(workflow_id, version)
        if row is None:
            raise UnknownWorkflow(
                f"La version {version} de la procédure « {workflow_id} » n'est pas enregistrée."
            )
        compiled = compile_workflow(load_definition_text(row.source, row.source_path))
        with self._lock:
            self._compiled.setdefault(key, compiled)
        return self._compiled[key]
