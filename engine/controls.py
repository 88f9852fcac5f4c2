"""Controls: the check signature, their registry, and evaluation of every control of a step.

A control looks at a read-only snapshot of the case and returns a ``ControlResult`` with a
French reason. Every control of a transition is evaluated on every attempt, without
short-circuit, so that the audit trail records each result. A control that raises is a bug
(``ControlError``), never a finding. The catalogue of built-in controls grows in
``engine.control_catalogue``; plugins register through the ``jalon.controls`` entry point.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from engine.actors import Actor
from engine.definition import ControlRef, Severity
from engine.errors import ControlError


@dataclass(frozen=True, slots=True)
class DocumentView:
    """A document of the case as controls see it."""

    doc_type: str
    name: str
    sha256: str


@dataclass(slots=True)
class CaseSnapshot:
    """What a control may look at: the case as it is before the step, and who acts."""

    reference: str
    state: str
    data: Mapping[str, Any]
    actor: Actor
    now: datetime
    _load_documents: Callable[[], Sequence[DocumentView]] = field(repr=False)
    _documents: Sequence[DocumentView] | None = field(default=None, repr=False)

    @property
    def documents(self) -> Sequence[DocumentView]:
        """The case's documents, loaded on first use only (most controls do not need them)."""
        if self._documents is None:
            self._documents = tuple(self._load_documents())
        return self._documents


class ControlResult(NamedTuple):
    """The outcome of one control: passed or not, why, and what failing means."""

    control: str
    passed: bool
    severity: Severity
    clause: str | None
    reason: str

    @property
    def blocks(self) -> bool:
        """True when this result stops the step."""
        return not self.passed and self.severity is Severity.BLOCKING

    def as_payload(self) -> dict[str, Any]:
        """The result as it is written in the audit trail."""
        return {
            "control": self.control,
            "passed": self.passed,
            "severity": self.severity.value,
            "clause": self.clause,
            "reason": self.reason,
        }


Check = Callable[[Mapping[str, Any], CaseSnapshot], tuple[bool, str]]
"""A control's logic: (params, snapshot) -> (passed, French reason)."""


@dataclass(frozen=True, slots=True)
class ControlSpec:
    """A control of the catalogue: its name, default ISO clause, what it checks."""

    name: str
    clause: str | None
    summary: str
    check: Check


_REGISTRY: dict[str, ControlSpec] = {}


def register(spec: ControlSpec) -> ControlSpec:
    """Add a control to the catalogue (a second one with the same name is refused)."""
    if spec.name in _REGISTRY and _REGISTRY[spec.name] is not spec:
        raise ValueError(f"a control named {spec.name!r} is already registered")
    _REGISTRY[spec.name] = spec
    return spec


def catalogue() -> Mapping[str, ControlSpec]:
    """Every registered control, by name."""
    return dict(_REGISTRY)


def evaluate(refs: Sequence[ControlRef], snapshot: CaseSnapshot) -> tuple[ControlResult, ...]:
    """Evaluate every control of ``refs`` (no short-circuit) and return all results."""
    results = []
    for ref in refs:
        spec = _REGISTRY.get(ref.control)
        if spec is None:
            raise ControlError(f"Contrôle inconnu « {ref.control} » : définition non validée ?")
        try:
            passed, reason = spec.check(ref.params, snapshot)
        except Exception as error:
            raise ControlError(
                f"Le contrôle « {ref.control} » a échoué sur une erreur interne : {error}"
            ) from error
        if not passed and ref.message:
            reason = f"{ref.message} ({reason})"
        results.append(
            ControlResult(ref.control, passed, ref.severity, ref.clause or spec.clause, reason)
        )
    return tuple(results)
