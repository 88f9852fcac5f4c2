"""Taking a step: decide, raise non-conformities, move the clocks, record — in one transaction.

Mixed into ``Engine``. ``fire`` is the officers' command; ``_step_in`` is the same step inside
a transaction the caller holds (the scheduler's escalations use it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from engine.actors import SYSTEM, Actor
from engine.case import Decision, decide
from engine.clock_effects import apply_step_clocks
from engine.engine_parts import EngineCore
from engine.facts import case_entry
from engine.machine import CompiledWorkflow
from engine.nonconformity import NcDraft, drafts_for_step, nc_definition, open_in
from engine.views import FireOutcome
from storage.audit import Entry
from storage.canonical import utc_text
from storage.errors import StaleRecord
from storage.store import CaseRow, Tx

_REGISTERED: set[tuple[str, str, int, str]] = set()
"""(database, workflow, version, digest) of the non-conformity workflows this process has seen
registered."""


class StepTaken(NamedTuple):
    """A step written in a transaction: the decision, its entry and what it raised."""

    decision: Decision
    entry: Entry
    payload: dict[str, Any]
    nonconformities: list[str]


class StepCommands:
    """Mixin of ``Engine``: firing a trigger on a case."""

    def fire(
        self: EngineCore,
        reference: str,
        trigger: str,
        actor: Actor,
        expected_version: int | None = None,
        *,
        derogation: str | None = None,
    ) -> FireOutcome:
        """Take the step ``trigger`` if allowed and every blocking control holds.

        ``derogation`` is the written justification of a derogation: the step then passes
        despite failing blocking controls if ``actor`` holds the workflow's derogation
        authority, and each derogated control raises a concession. Failing non-blocking
        controls raise non-conformities; the step starts, stops, interrupts or restarts the
        clocks its definition says. All of it commits in the step's own transaction.
        """
        with self._command("case.fire", actor, case=reference, trigger=trigger) as log:
            with self.store.write() as tx:
                case, compiled = self._load(tx, reference, expected_version)
                step = self._step_in(tx, case, compiled, trigger, actor, derogation)
            self._history.committed(step.entry, actor.user, "case.transition", step.payload)
            decision = step.decision
            log.info(
                "case.fired",
                from_state=case.state,
                to_state=decision.dest,
                derogated=decision.derogated,
                nonconformities=len(step.nonconformities),
            )
        assert decision.dest is not None
        states = compiled.definition.states
        return FireOutcome(
            reference,
            trigger,
            case.state,
            decision.dest,
            states[case.state].label,
            states[decision.dest].label,
            case.version + 1,
            decision.results,
            tuple(step.nonconformities),
            decision.derogated,
            tuple(step.payload.get("clocks", ())),
        )

    def _step_in(
        self: EngineCore,
        tx: Tx,
        case: CaseRow,
        compiled: CompiledWorkflow,
        trigger: str,
        actor: Actor,
        derogation: str | None = None,
        *,
        uncommitted: bool = False,
    ) -> StepTaken:
        """Decide and write the step inside ``tx``; raise the refusal when it is refused.

        ``uncommitted``: ``tx`` has already written to the case (the scheduler's escalation
        after a missed clock), so the snapshot does not use the shared history cache.
        """
        snapshot = self._snapshot(tx, case, compiled, actor, uncommitted=uncommitted)
        decision = decide(compiled, snapshot, trigger, derogation)
        if decision.refusal is not None:
            decision.refusal.details["controls"] = [r.as_payload() for r in decision.results]
            raise decision.refusal
        assert decision.dest is not None
        assert decision.transition is not None
        payload: dict[str, Any] = {
            "trigger": trigger,
            "roles": sorted(actor.roles),
            "controls": [result.as_payload() for result in decision.results],
        }
        raised: list[str] = []
        if not all(result.passed for result in decision.results):
            justification = derogation if decision.derogated else None
            drafts = drafts_for_step(decision.transition, decision.results, actor, justification)
            raised = self._raise_in(tx, case, case.head_seq + 1, drafts, actor)
            payload["nonconformities"] = raised
        if decision.derogated:
            payload["derogation"] = {
                "authorised_by": actor.user,
                "justification": (derogation or "").strip(),
                "controls": [r.control for r in decision.results if r.blocks],
            }
        definition = compiled.definition
        if definition.clocks:
            facts = apply_step_clocks(
                tx,
                definition,
                case.id,
                trigger,
                case.state,
                decision.dest,
                snapshot.data,
                snapshot.now,
                snapshot.parameters,
            )
            if facts:
                payload["clocks"] = facts
        at = utc_text(snapshot.now)
        entry = case_entry(case, at, actor, "case.transition", payload, to_state=decision.dest)
        closed_at = at if compiled.is_final(decision.dest) else None
        tx.record_step(
            case, entry, state=decision.dest, data=case.data, updated_at=at, closed_at=closed_at
        )
        return StepTaken(decision, entry, payload, raised)

    def _ensure_nc_workflow(self: EngineCore) -> None:
        """Register the non-conformity workflow in a transaction of its own, once per process.

        Commands that may raise non-conformities in bulk (the scheduler's sweep) call it first,
        so that concurrent processes do not all try to register it inside their own work.
        """
        definition, text, path = nc_definition(self.catalogue)
        key = (self.store.database.url, definition.id, definition.version, definition.digest())
        if key in _REGISTERED:
            return
        for _attempt in range(3):
            try:
                with self.store.write() as tx:
                    self._register_in(tx, definition, text, path, SYSTEM)
            except StaleRecord:
                continue  # registered by another process meanwhile: check again
            _REGISTERED.add(key)
            return

    def _raise_in(
        self: EngineCore,
        tx: Tx,
        source: CaseRow,
        source_seq: int,
        drafts: Sequence[NcDraft],
        actor: Actor,
    ) -> list[str]:
        """Open each draft non-conformity on ``source`` inside ``tx``; return their references."""
        if not drafts:
            return []
        definition, text, path = nc_definition(self.catalogue)
        key = (self.store.database.url, definition.id, definition.version, definition.digest())
        if key not in _REGISTERED:  # registered versions never change nor go away
            self._register_in(tx, definition, text, path, actor)
        now = self.clock.now()
        return [open_in(tx, definition, source, source_seq, d, actor, now) for d in drafts]
