"""Commands of the non-conformity register: open one by hand, list, show, find similar ones.

Mixed into ``Engine``. The lifecycle steps of a non-conformity are ordinary steps of its case
(``Engine.fire``, ``set_values``, ``attach``): its workflow is ``workflows/non_conformite.yaml``.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.actors import Actor
from engine.engine_parts import EngineCore
from engine.errors import UnknownCase
from engine.facts import case_entry
from engine.nonconformity import NC_WORKFLOW, NcDraft, check_manual
from engine.views import CaseView
from storage.nonconformity_index import (
    NcLink,
    NcRow,
    link_of,
    list_nonconformities,
    similar_nonconformities,
)
from storage.store import Tx


@dataclass(frozen=True, slots=True)
class NonconformityView:
    """A non-conformity: its own case (state, data, steps available) and where it comes from."""

    case: CaseView
    origin: NcRow
    similar: tuple[NcRow, ...]


class NonconformityCommands:
    """Mixin of ``Engine``: the register of non-conformities (ISO 9001 §8.7, §10.2)."""

    def open_nonconformity(
        self: EngineCore,
        reference: str,
        *,
        clause: str,
        severity: str,
        finding: str,
        actor: Actor,
        origin: str = "manual",
        trigger: str | None = None,
    ) -> CaseView:
        """Open a non-conformity on case ``reference`` by hand (internal audit, complaint...).

        The fact ``case.nonconformity_raised`` is appended to the case's chain (even a closed
        case: an audit finds faults after the fact); its state, data and version stay as they
        are. The non-conformity's own case starts its lifecycle at « Détectée ».
        """
        with self._command("nc.open", actor, case=reference) as log:
            severity, text = check_manual(clause, severity, origin, finding)
            with self.store.write() as tx:
                case = self._case(tx, reference)
                draft = NcDraft(
                    trigger, None, clause.strip(), severity, origin, "nonconformity", text
                )
                seq = case.head_seq + 1
                (opened,) = self._raise_in(tx, case, seq, [draft], actor)
                entry = case_entry(
                    case,
                    self._now(),
                    actor,
                    "case.nonconformity_raised",
                    {"nonconformity": opened, **draft._asdict()},
                )
                tx.append_entry(entry)
                tx.move_case_head(case, entry)
            log.info("nc.opened", nonconformity=opened, clause=clause, severity=severity)
        return self.show(opened)

    def nonconformities(
        self: EngineCore,
        *,
        state: str | None = None,
        severity: str | None = None,
        clause: str | None = None,
        workflow: str | None = None,
        origin: str | None = None,
        nature: str | None = None,
        control: str | None = None,
        source: str | None = None,
        limit: int = 1000,
    ) -> list[NcRow]:
        """Non-conformities matching every filter given, newest first."""
        filters = {
            "state": state,
            "severity": severity,
            "clause": clause,
            "workflow_id": workflow,
            "origin": origin,
            "nature": nature,
            "control": control,
            "source": source,
        }
        with self.store.read() as tx:
            return list_nonconformities(tx, filters, limit)

    def nonconformity(self: EngineCore, reference: str) -> NonconformityView:
        """A non-conformity with its origin and the similar ones of other cases (§10.2.1 b)."""
        with self.store.read() as tx:
            link = _link(self, tx, reference)
            (origin,) = list_nonconformities(tx, {"reference": reference})
            similar = similar_nonconformities(tx, link.control, link.clause, link.source_case_id)
        return NonconformityView(self.show(reference), origin, tuple(similar))

    def require_nonconformity(self: EngineCore, reference: str) -> None:
        """Refuse a reference that is not a non-conformity (``UnknownCase``), reading no more."""
        with self.store.read() as tx:
            _link(self, tx, reference)


def _link(engine: EngineCore, tx: Tx, reference: str) -> NcLink:
    case = engine._case(tx, reference)
    link = link_of(tx, case.id) if case.workflow_id == NC_WORKFLOW else None
    if link is None:
        raise UnknownCase(f"« {reference} » n'est pas une non-conformité.")
    return link
