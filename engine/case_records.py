"""Commands that record a fact on a case without moving it: documents, declarations, ticks."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from engine.actors import Actor
from engine.case_data import check_code, fingerprint
from engine.engine_parts import EngineCore
from engine.errors import InvalidValue
from engine.facts import case_entry
from engine.machine import CompiledWorkflow
from engine.views import CaseView
from storage.store import CaseRow, DocumentRow, Tx

BuildFact = Callable[[Tx, CaseRow, CompiledWorkflow, str], tuple[dict[str, Any], str]]
"""Writes what goes with a fact and returns (payload, case data after the fact)."""


class _EngineParts(EngineCore, Protocol):
    """What these commands use of the Engine they are mixed into."""

    def _record_fact(
        self,
        reference: str,
        actor: Actor,
        expected_version: int | None,
        kind: str,
        build: BuildFact,
    ) -> str: ...


class CaseRecords:
    """Mixin of ``Engine``: each command appends one fact, bumps the version, keeps the state."""

    def attach(
        self: _EngineParts,
        reference: str,
        path: Path,
        doc_type: str,
        actor: Actor,
        expected_version: int | None = None,
        signed_by: str | None = None,
    ) -> DocumentRow:
        """Record a document (name, type, size, SHA-256, location); the file stays where it is.

        ``signed_by`` records who signed it, as declared by ``actor`` (the electronic
        signature itself is not verified).
        """
        with self._command("case.attach", actor, case=reference) as log:
            check_code(doc_type, "type", "Type de pièce", "rapport_analyse")
            if not path.is_file():
                raise InvalidValue("fichier", f"Fichier introuvable : {path}.")
            signatory = signed_by.strip() if signed_by is not None else None
            if signed_by is not None and not 2 <= len(signatory or "") <= 200:
                raise InvalidValue(
                    "signataire",
                    "Le signataire s'écrit en toutes lettres (2 à 200 caractères), par exemple "
                    "« Vice-président délégué à la commande publique ».",
                )
            size, digest = fingerprint(path)
            location = str(path.resolve())

            def document_at(at: str) -> DocumentRow:
                return DocumentRow(
                    doc_type, path.name, size, digest, location, at, actor.user, signatory
                )

            def insert_document(
                tx: Tx, case: CaseRow, _compiled: CompiledWorkflow, at: str
            ) -> tuple[dict[str, Any], str]:
                tx.insert_document(case.id, document_at(at))
                payload = {
                    "type": doc_type,
                    "name": path.name,
                    "size": size,
                    "sha256": digest,
                    "location": location,
                }
                if signatory is not None:
                    payload["signed_by"] = signatory
                return payload, case.data

            at = self._record_fact(
                reference, actor, expected_version, "case.document_attached", insert_document
            )
            log.info("case.document_attached", type=doc_type, sha256=digest)
        return document_at(at)

    def declare(
        self: _EngineParts,
        reference: str,
        declaration: str,
        actor: Actor,
        statement: str | None = None,
        expected_version: int | None = None,
    ) -> CaseView:
        """Record a declaration of ``actor`` on the case (e.g. absence_conflit_interets)."""
        with self._command("case.declare", actor, case=reference, declaration=declaration) as log:
            check_code(declaration, "type", "Type de déclaration", "absence_conflit_interets")
            text = statement.strip() if statement is not None else None
            payload = {"declaration": declaration, "statement": text or None}
            self._record_fact(
                reference, actor, expected_version, "case.declaration", same_data(payload)
            )
            log.info("case.declaration", declaration=declaration)
        return self.show(reference)

    def tick(
        self: _EngineParts,
        reference: str,
        item: str,
        evidence: str,
        actor: Actor,
        expected_version: int | None = None,
    ) -> CaseView:
        """Tick a checklist item of the case, with the evidence that it is satisfied."""
        with self._command("case.check", actor, case=reference, item=item) as log:
            check_code(item, "point", "Point de liste", "offres_analysees")
            proof = evidence.strip()
            if not proof:
                raise InvalidValue(
                    "preuve",
                    f"Le point « {item} » ne peut être coché sans preuve : indiquez --evidence.",
                )
            payload = {"item": item, "evidence": proof}
            self._record_fact(
                reference, actor, expected_version, "case.checklist_ticked", same_data(payload)
            )
            log.info("case.checklist_ticked", item=item)
        return self.show(reference)

    def _record_fact(
        self: _EngineParts,
        reference: str,
        actor: Actor,
        expected_version: int | None,
        kind: str,
        build: BuildFact,
    ) -> str:
        """Append a fact to an open case's chain and return its time; the state is unchanged.

        ``build`` receives the transaction, the case, its compiled workflow and the time, may
        write what goes with the fact (a document row), and returns the fact's payload and the
        case's data after it. The version is bumped; everything commits together or not at all.
        """
        with self.store.write() as tx:
            case, compiled = self._load(tx, reference, expected_version)
            self._refuse_if_closed(case, compiled)
            at = self._now()
            payload, data = build(tx, case, compiled, at)
            entry = case_entry(case, at, actor, kind, payload)
            tx.record_step(
                case, entry, state=case.state, data=data, updated_at=at, closed_at=case.closed_at
            )
        self._history.committed(entry, actor.user, kind, payload)
        return at


def same_data(payload: dict[str, Any]) -> BuildFact:
    """A ``build`` for facts that carry only a payload and leave the case's data as it is."""

    def build(
        _tx: Tx, case: CaseRow, _compiled: CompiledWorkflow, _at: str
    ) -> tuple[dict[str, Any], str]:
        return payload, case.data

    return build
