"""Workflow definitions: frozen pydantic models of a procedure, and their content digest.

A definition is parsed from YAML by ``engine.loader`` (which adds file and line to every
problem), checked for structure here (pydantic, unknown keys forbidden) and for meaning by
``engine.validation`` (unknown or unreachable states, exits, duplicate triggers...).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator

from storage.canonical import canonical_json

IDENTIFIER = r"^[a-z][a-z0-9_]*$"
"""Ids of workflows, fields, states and triggers: lower-case ASCII, digits and underscores."""


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class FieldType(StrEnum):
    """The types a case field can have."""

    TEXT = "text"
    INTEGER = "integer"
    AMOUNT = "amount"
    DATE = "date"
    BOOLEAN = "boolean"
    ENUM = "enum"
    LIST = "list"


class FieldDef(_Frozen):
    """A typed field of a case's data (``montant_estime``, ``date_envoi_avis``...)."""

    type: FieldType
    label: str = Field(description="Libellé affiché aux agents (en français).")
    description: str | None = None
    values: list[str] | None = Field(
        default=None, description="Allowed values of an enum field, or of a list of enums."
    )
    items: FieldType | None = Field(
        default=None, description="Type of the elements of a list field (not list itself)."
    )
    fixed: bool = Field(
        default=False,
        description="Set when the case is opened and never changed afterwards.",
    )


class StateDef(_Frozen):
    """A state (step) of a procedure."""

    label: str = Field(description="Libellé de l'étape (en français).")
    description: str | None = None
    initial: bool = False
    final: bool = False
    legal_basis: list[str] = Field(
        default_factory=list, description="Articles that govern this step (e.g. 'CCP R2182-1')."
    )
    documents: list[str] = Field(
        default_factory=list, description="Document types expected during this step."
    )
    role: str | None = Field(default=None, description="The role that acts in this step.")


class Severity(StrEnum):
    """What a failing control does to the step."""

    BLOCKING = "blocking"
    NON_BLOCKING = "non_blocking"


class NcSeverity(StrEnum):
    """How serious a non-conformity is (the auditors' scale)."""

    MAJOR = "major"
    MINOR = "minor"
    OBSERVATION = "observation"


class ControlRef(_Frozen):
    """A control attached to a transition: which check, with which parameters and message."""

    control: Annotated[str, Field(pattern=IDENTIFIER, description="Name in the catalogue.")]
    clause: str | None = Field(default=None, description="ISO 9001 clause, e.g. '8.5.1'.")
    severity: Severity = Severity.BLOCKING
    nc_severity: NcSeverity | None = Field(
        default=None,
        description=(
            "Severity of the non-conformity raised when the control fails and the step passes "
            "anyway (non-blocking control, or derogation); default: minor for a non-blocking "
            "control, major for a derogated blocking one."
        ),
    )
    params: dict[str, Any] = Field(default_factory=dict)
    message: str | None = Field(default=None, description="Message (en français) on failure.")


class TransitionDef(_Frozen):
    """A step from one or several source states to a destination, fired by a trigger."""

    trigger: Annotated[str, Field(pattern=IDENTIFIER)]
    source: str | list[str] = Field(description="One state, or a list of states.")
    dest: str
    label: str = Field(description="Libellé de l'action (en français).")
    description: str | None = None
    roles: list[str] = Field(
        default_factory=list, description="Roles allowed to fire it; empty means any role."
    )
    controls: list[ControlRef] = Field(default_factory=list)

    @field_validator("source")
    @classmethod
    def _source_not_empty(cls, value: str | list[str]) -> str | list[str]:
        if isinstance(value, list) and not value:
            raise ValueError("source must name at least one state")
        return value

    @property
    def sources(self) -> tuple[str, ...]:
        """The source states as a tuple, whether one or several were written."""
        return (self.source,) if isinstance(self.source, str) else tuple(self.source)


class ClockKind(StrEnum):
    """What a clock enforces."""

    LEGAL_MAXIMUM = "legal_maximum"
    """A time limit not to exceed (award notice within 30 days): missing it is a
    non-conformity."""
    LEGAL_MINIMUM = "legal_minimum"
    """A period to wait (standstill): an act before its end is refused by ``clock_elapsed``."""
    INTERNAL_TARGET = "internal_target"
    """The buyer's own commitment (pay in 20 days): missing it is recorded, minor by default."""


class Interruption(StrEnum):
    """What happens when an interrupted clock starts again."""

    NONE = "none"
    """The clock cannot be interrupted."""
    RESTART = "restart"
    """A fresh full period from the restart (the payment period, CCP R2192-29), or the balance
    left at the interruption when it is longer (``keep_longer_balance``)."""
    RESUME = "resume"
    """The time left at the interruption runs again from the restart."""


class DurationVariant(_Frozen):
    """A duration that applies when a condition on the case holds (first match wins)."""

    when: str = Field(description="CEL condition on the case's data, e.g. reception_electronique.")
    duration: str = Field(description="The period then: 30d, 10wd, 2m…")


class ClockEvents(_Frozen):
    """Where a clock starts or stops: steps taken (triggers) or steps entered (states)."""

    triggers: list[str] = Field(default_factory=list)
    states: list[str] = Field(default_factory=list)


class MissedDef(_Frozen):
    """What a missed clock does besides its audit entry."""

    nc_severity: NcSeverity | None = Field(
        default=None,
        description="Severity of the non-conformity (default: major for a legal maximum, "
        "minor for an internal target).",
    )
    clause: str = Field(default="8.5.1", description="ISO 9001 clause of that non-conformity.")
    notify: list[str] = Field(default_factory=list, description="Roles to notify.")
    escalate: str | None = Field(
        default=None,
        description="A trigger the engine takes (actor jalon, role system) when it is missed.",
    )


class LatePaymentDef(_Frozen):
    """Late-payment interest computed when a payment clock stops after its due time."""

    amount_field: str = Field(description="The amount field the interest is computed on.")
    base: Literal["HT", "TTC"] = Field(
        default="TTC", description="Which amount it is ([UNSURE] in law: a choice of the buyer)."
    )
    day_count: Literal["fixe", "exact"] = "fixe"
    paid_on_field: str | None = Field(
        default=None, description="A date field giving the payment day (else the day it stops)."
    )


class ClockDef(_Frozen):
    """A named legal or internal time limit of the procedure."""

    label: str = Field(description="Libellé du délai (en français).")
    kind: ClockKind
    legal_basis: list[str] = Field(default_factory=list)
    duration: str = Field(description="The period: 30d, 10wd (working days), 2w, 2m, 1y.")
    variants: list[DurationVariant] = Field(
        default_factory=list, description="Durations chosen by conditions on the case's data."
    )
    duration_table: str | None = Field(
        default=None,
        description="A parameter table giving the duration in days on the start date "
        "(overrides duration and variants).",
    )
    method: str = Field(default="reg1182", description="reg1182 or date-a-date.")
    calendar: str = Field(default="FR", description="The public-holiday calendar.")
    start: ClockEvents
    start_field: str | None = Field(
        default=None,
        description="A date field giving the day of the start event (else the day it starts).",
    )
    stop: ClockEvents = Field(default_factory=ClockEvents)
    warnings: list[str] = Field(
        default_factory=list, description="Warnings before the due time: 5d, 1d…"
    )
    interruption: Interruption = Interruption.NONE
    interrupt_on: list[str] = Field(default_factory=list, description="Triggers that interrupt.")
    resume_on: list[str] = Field(default_factory=list, description="Triggers that restart it.")
    max_interruptions: Annotated[int, Field(ge=0)] = 1
    keep_longer_balance: bool = Field(
        default=True,
        description="restart: keep the balance left at the interruption when longer than the "
        "full period (CCP R2192-29).",
    )
    on_missed: MissedDef = Field(default_factory=MissedDef)
    late_payment: LatePaymentDef | None = Field(
        default=None,
        description="Compute and record the late-payment interest (CCP R2192-31) and the "
        "indemnity when the clock stops late.",
    )


class WorkflowDef(_Frozen):
    """A whole procedure: identity, version, typed fields, states and transitions."""

    id: Annotated[str, Field(pattern=IDENTIFIER)]
    version: Annotated[int, Field(ge=1)]
    title: str
    owner: str = Field(description="The process owner (pilote de processus).")
    code: Annotated[
        str, Field(pattern=r"^[A-Z][A-Z0-9]{1,7}$", description="Short code used in references.")
    ]
    description: str | None = None
    legal_references: list[str] = Field(default_factory=list)
    derogation_roles: list[str] = Field(
        default_factory=list,
        description=(
            "Roles holding the authority to pass a step despite failing blocking controls, "
            "with a written justification; empty means no derogation is possible."
        ),
    )
    fields: dict[str, FieldDef] = Field(default_factory=dict)
    states: dict[str, StateDef]
    transitions: list[TransitionDef]
    clocks: dict[str, ClockDef] = Field(
        default_factory=dict, description="Named time limits, started and stopped by steps."
    )

    @property
    def initial_state(self) -> str:
        """The name of the initial state (validation guarantees there is exactly one)."""
        return next(name for name, state in self.states.items() if state.initial)

    @property
    def final_states(self) -> frozenset[str]:
        """The names of the final states."""
        return frozenset(name for name, state in self.states.items() if state.final)

    _digest: str | None = PrivateAttr(default=None)

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """A copy (``update`` applied); its digest is computed anew."""
        copied = super().model_copy(update=update, deep=deep)
        copied._digest = None
        return copied

    def digest(self) -> str:
        """SHA-256 of the canonical JSON of the definition: its content, not its formatting.

        Computed once per object (the model is frozen): a step that opens non-conformities
        names their workflow's digest for each of them.
        """
        if self._digest is None:
            self._digest = content_digest(self)
        return self._digest


def content_digest(definition: WorkflowDef) -> str:
    """Return the SHA-256 hex digest of ``definition``'s canonical JSON.

    Keys left at their default value are omitted, so that a new optional key of the format
    does not change the digest of the definitions that do not use it.
    """
    body = canonical_json(definition.model_dump(mode="json", exclude_defaults=True))
    return hashlib.sha256(body.encode("utf-8")).hexdigest()
