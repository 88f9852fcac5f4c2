"""Read-only views the service returns to its callers (CLI, later the HTTP API)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from engine.controls import ControlResult
from engine.definition import WorkflowDef
from storage.store import CaseRow, DocumentRow


@dataclass(frozen=True, slots=True)
class AvailableStep:
    """A transition that can be attempted from the current state, with a preview of its controls."""

    trigger: str
    label: str
    dest: str
    dest_label: str
    roles: tuple[str, ...]
    roles_ok: bool
    results: tuple[ControlResult, ...]

    @property
    def failing(self) -> tuple[ControlResult, ...]:
        """The controls that would fail if the step were attempted now."""
        return tuple(result for result in self.results if not result.passed)


@dataclass(frozen=True, slots=True)
class CaseView:
    """A case as shown to a user: state, data, documents, the steps available now."""

    row: CaseRow
    definition: WorkflowDef
    data: dict[str, Any]
    documents: tuple[DocumentRow, ...] = ()
    steps: tuple[AvailableStep, ...] = field(default=())

    @property
    def reference(self) -> str:
        """The case's reference, e.g. ``AMP-2026-AOO-0042``."""
        return self.row.reference

    @property
    def state_label(self) -> str:
        """The French label of the current state."""
        return self.definition.states[self.row.state].label


class FireOutcome(NamedTuple):
    """The result of a step that was taken."""

    reference: str
    trigger: str
    from_state: str
    to_state: str
    from_label: str
    to_label: str
    version: int
    results: tuple[ControlResult, ...]
    nonconformities: tuple[str, ...] = ()
    """References of the non-conformities the step raised (failing non-blocking or derogated
    controls)."""
    derogated: bool = False
    """True when the step passed on a derogation."""
    clocks: tuple[dict[str, Any], ...] = ()
    """What the step did to the case's clocks (started, stopped, interrupted, restarted)."""
