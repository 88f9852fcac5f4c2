"""The pure decision of a step: may this trigger fire now, which controls fail, where it goes.

Nothing here reads the database or the clock: the service gives a snapshot and ``now``, and
writes whatever the decision says. A refusal is returned as data (with every control result)
so that the service can record it before raising it.
"""

from __future__ import annotations

from typing import NamedTuple

from engine.actors import Actor
from engine.controls import CaseSnapshot, ControlResult, evaluate
from engine.definition import TransitionDef
from engine.errors import (
    CaseClosed,
    CommandRefused,
    ControlsFailed,
    DerogationRefused,
    NotAuthorized,
    TriggerNotAllowed,
)
from engine.machine import CompiledWorkflow

MIN_JUSTIFICATION = 10
"""Fewest characters of a derogation's justification (a word or two explains nothing)."""


class Decision(NamedTuple):
    """The outcome of deciding a trigger: a destination, or a refusal; always every result.

    ``derogated`` is true when blocking controls failed and the step passes anyway on the
    actor's derogation (authority held, justification written).
    """

    trigger: str
    transition: TransitionDef | None
    dest: str | None
    results: tuple[ControlResult, ...]
    refusal: CommandRefused | None
    derogated: bool = False

    @property
    def allowed(self) -> bool:
        """True when the step may be taken."""
        return self.refusal is None


def roles_allow(transition: TransitionDef, actor: Actor) -> bool:
    """True when the transition names no role or the actor holds one of its roles."""
    return not transition.roles or bool(actor.roles & set(transition.roles))


def decide(
    workflow: CompiledWorkflow,
    snapshot: CaseSnapshot,
    trigger: str,
    justification: str | None = None,
) -> Decision:
    """Decide whether ``trigger`` may fire on the case described by ``snapshot``.

    ``justification`` asks for a derogation: if blocking controls fail, the step passes when
    the actor holds one of the workflow's ``derogation_roles`` and the justification is
    written; otherwise the derogation is refused. It never bypasses the step's roles.
    """
    state_label = workflow.definition.states[snapshot.state].label
    if workflow.is_final(snapshot.state):
        refusal: CommandRefused = CaseClosed(
            f"Le dossier {snapshot.reference} est clos (« {state_label} ») : "
            "aucune étape ne peut plus être franchie.",
            reference=snapshot.reference,
        )
        return Decision(trigger, None, None, (), refusal)
    transition = workflow.transition(snapshot.state, trigger)
    if transition is None:
        try:
            workflow.next_state(snapshot.state, trigger)
        except TriggerNotAllowed as error:
            error.reference = snapshot.reference
            return Decision(trigger, None, None, (), error)
        raise AssertionError("machine allowed a trigger the definition does not have")
    results = evaluate(transition.controls, snapshot)
    if not roles_allow(transition, snapshot.actor):
        held = ", ".join(sorted(snapshot.actor.roles)) or "aucun rôle"
        refusal = NotAuthorized(
            f"« {transition.label} » est réservé aux rôles {', '.join(transition.roles)} ; "
            f"{snapshot.actor.user} agit avec : {held}.",
            reference=snapshot.reference,
        )
        return Decision(trigger, transition, None, results, refusal)
    return _weigh_controls(workflow, snapshot, transition, results, justification)


def _weigh_controls(
    workflow: CompiledWorkflow,
    snapshot: CaseSnapshot,
    transition: TransitionDef,
    results: tuple[ControlResult, ...],
    justification: str | None,
) -> Decision:
    """The decision once roles allow the step: controls hold, are derogated, or refuse it."""
    trigger = transition.trigger
    failing = [result for result in results if result.blocks]
    if failing and justification is not None:
        refusal = _derogation_refusal(workflow, snapshot, transition, justification)
        if refusal is not None:
            return Decision(trigger, transition, None, results, refusal)
        dest = workflow.next_state(snapshot.state, trigger)
        return Decision(trigger, transition, dest, results, None, derogated=True)
    if failing:
        reasons = " ; ".join(f"{r.control} : {r.reason}" for r in failing)
        refusal = ControlsFailed(
            f"« {transition.label} » refusé : {len(failing)} contrôle(s) bloquant(s) non "
            f"satisfait(s) — {reasons}.",
            reference=snapshot.reference,
        )
        return Decision(trigger, transition, None, results, refusal)
    dest = workflow.next_state(snapshot.state, trigger)
    return Decision(trigger, transition, dest, results, None)


def _derogation_refusal(
    workflow: CompiledWorkflow,
    snapshot: CaseSnapshot,
    transition: TransitionDef,
    justification: str,
) -> CommandRefused | None:
    """Why the derogation asked for cannot be granted, or None when it can."""
    authority = workflow.definition.derogation_roles
    if not authority:
        return DerogationRefused(
            f"La procédure « {workflow.definition.id} » ne prévoit aucune dérogation : "
            f"« {transition.label} » exige que tous ses contrôles bloquants soient satisfaits.",
            reference=snapshot.reference,
        )
    if not snapshot.actor.roles & set(authority):
        return DerogationRefused(
            f"Dérogation refusée : {snapshot.actor.user} ne détient pas l'autorité de déroger "
            f"sur cette procédure (rôles habilités : {', '.join(authority)}).",
            reference=snapshot.reference,
        )
    if len(justification.strip()) < MIN_JUSTIFICATION:
        return DerogationRefused(
            "Dérogation refusée : la justification écrite est obligatoire (au moins "
            f"{MIN_JUSTIFICATION} caractères expliquant pourquoi l'étape doit passer).",
            reference=snapshot.reference,
        )
    return None
