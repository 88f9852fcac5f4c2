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
    NotAuthorized,
    TriggerNotAllowed,
)
from engine.machine import CompiledWorkflow


class Decision(NamedTuple):
    """The outcome of deciding a trigger: a destination, or a refusal; always every result."""

    trigger: str
    transition: TransitionDef | None
    dest: str | None
    results: tuple[ControlResult, ...]
    refusal: CommandRefused | None

    @property
    def allowed(self) -> bool:
        """True when the step may be taken."""
        return self.refusal is None


def roles_allow(transition: TransitionDef, actor: Actor) -> bool:
    """True when the transition names no role or the actor holds one of its roles."""
    return not transition.roles or bool(actor.roles & set(transition.roles))


def decide(workflow: CompiledWorkflow, snapshot: CaseSnapshot, trigger: str) -> Decision:
    """Decide whether ``trigger`` may fire on the case described by ``snapshot``."""
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
    failing = [result for result in results if result.blocks]
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
