"""Non-conformities as cases: what a step raises, and opening one in the step's transaction.

A non-conformity is a case of the ``non_conformite`` workflow (``workflows/non_conformite.yaml``):
its lifecycle, data and hash chain are a case's. It is opened in the same transaction as the
fact that raised it — a step that passed with failing non-blocking controls (one
non-conformity per failing control), a derogation (one concession, ISO 9001 §8.7.1 d, per
derogated control), a missed deadline, or a person (``jalon nc open``) — and its origin is also
written to the ``nonconformities`` index that lists and groups them.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from engine.actors import Actor
from engine.controls import REFERENCE_ZONE, ControlResult
from engine.definition import NcSeverity, Severity, TransitionDef, WorkflowDef
from engine.errors import InvalidValue
from engine.loader import load_definition
from storage.audit import make_entry
from storage.canonical import ZERO_HASH, canonical_json, utc_text
from storage.nonconformity_index import NcLink, insert_nonconformity
from storage.store import CaseRow, Tx
from workflows.catalogue import Catalogue, library_dir

NC_WORKFLOW = "non_conformite"
"""The id of the workflow every non-conformity follows."""

ORIGINS = ("control", "missed_deadline", "internal_audit", "complaint", "manual")
NATURES = ("nonconformity", "concession")

SEVERITY_LABELS = {"major": "majeure", "minor": "mineure", "observation": "observation"}
ORIGIN_LABELS = {
    "control": "contrôle",
    "missed_deadline": "échéance dépassée",
    "internal_audit": "audit interne",
    "complaint": "réclamation",
    "manual": "saisie manuelle",
}
NATURE_LABELS = {"nonconformity": "écart", "concession": "concession (dérogation)"}

CLAUSE_PATTERN = re.compile(r"^\d{1,2}(\.\d{1,2}){0,3}( ?[a-g])?$")
"""An ISO 9001 clause as auditors write it: ``8.5.1``, ``10.2``, ``8.7.1 d``."""

SEVERITY_ALIASES = {"majeure": "major", "mineure": "minor"}
"""French words accepted on the command line for the severity codes."""


class NcDraft(NamedTuple):
    """A non-conformity about to be opened: where it comes from and what was found."""

    trigger: str | None
    control: str | None
    clause: str | None
    severity: str
    origin: str
    nature: str
    finding: str
    authorised_by: str | None = None
    justification: str | None = None


def drafts_for_step(
    transition: TransitionDef,
    results: Sequence[ControlResult],
    actor: Actor,
    justification: str | None,
) -> list[NcDraft]:
    """One draft per control that failed on a step that passes (results follow the controls).

    A failing non-blocking control gives an ``nonconformity`` (minor unless the control says
    otherwise); a failing blocking control — the step passes only by derogation — gives a
    ``concession`` authorised by ``actor`` (major unless the control says otherwise).
    """
    drafts = []
    for ref, result in zip(transition.controls, results, strict=True):
        if result.passed:
            continue
        derogated = result.severity is Severity.BLOCKING
        default = NcSeverity.MAJOR if derogated else NcSeverity.MINOR
        drafts.append(
            NcDraft(
                trigger=transition.trigger,
                control=result.control,
                clause=result.clause,
                severity=(ref.nc_severity or default).value,
                origin="control",
                nature="concession" if derogated else "nonconformity",
                finding=f"« {transition.label} » : {result.reason}",
                authorised_by=actor.user if derogated else None,
                justification=justification.strip() if derogated and justification else None,
            )
        )
    return drafts


def check_manual(clause: str, severity: str, origin: str, finding: str) -> tuple[str, str]:
    """Check what a person typed to open a non-conformity; return (severity, finding).

    Raises:
        InvalidValue: One French sentence naming the option at fault.
    """
    severity = SEVERITY_ALIASES.get(severity.strip().lower(), severity.strip().lower())
    if severity not in SEVERITY_LABELS:
        raise InvalidValue(
            "gravite",
            f"Gravité « {severity} » inconnue : major (majeure), minor (mineure) ou observation.",
        )
    if not CLAUSE_PATTERN.match(clause.strip()):
        raise InvalidValue(
            "clause",
            f"Clause ISO 9001 « {clause} » illisible : écrivez par exemple 8.5.1, 10.2 ou 8.7.1 d.",
        )
    if origin not in ORIGINS:
        raise InvalidValue(
            "origine", f"Origine « {origin} » inconnue ; origines possibles : {', '.join(ORIGINS)}."
        )
    text = finding.strip()
    if len(text) < 10:
        raise InvalidValue(
            "constat", "Le constat est obligatoire : décrivez l'écart en une phrase au moins."
        )
    return severity, text


@functools.cache
def _library_definition() -> tuple[WorkflowDef, str, str]:
    path = library_dir() / f"{NC_WORKFLOW}.yaml"
    return load_definition(path), path.read_text(encoding="utf-8"), str(path)


def nc_definition(catalogue: Catalogue) -> tuple[WorkflowDef, str, str]:
    """The non-conformity workflow (definition, source, path): the catalogue's, else the library's.

    A catalogue built on other folders (a test, an organisation's own library) still gets the
    engine's own lifecycle unless it declares a ``non_conformite`` workflow itself.
    """
    if catalogue.versions(NC_WORKFLOW):
        path = catalogue.path_of(NC_WORKFLOW)
        return catalogue.get(NC_WORKFLOW), path.read_text(encoding="utf-8"), str(path)
    return _library_definition()


def nc_reference(tx: Tx, definition: WorkflowDef, org: str, now: datetime) -> str:
    """The next reference of a non-conformity of ``org``: ``AMP-2026-NC-0007``."""
    year = now.astimezone(REFERENCE_ZONE).year
    number = tx.next_reference_number(org, year, definition.code)
    return f"{org}-{year}-{definition.code}-{number:04d}"


def open_in(
    tx: Tx,
    definition: WorkflowDef,
    source: CaseRow,
    source_seq: int,
    draft: NcDraft,
    actor: Actor,
    now: datetime,
) -> str:
    """Open the non-conformity ``draft`` on ``source`` inside ``tx``; return its reference.

    Writes its case (fixed fields set), the ``case.opened`` entry of its own chain (which
    names the source case and the entry that raised it) and its index row. The definition
    must be registered in the same transaction.
    """
    at = utc_text(now)
    reference = nc_reference(tx, definition, source.org, now)
    data = _fixed_data(source, draft)
    row = CaseRow(
        0,
        reference,
        source.org,
        definition.id,
        definition.version,
        definition.initial_state,
        canonical_json(data),
        1,
        0,
        ZERO_HASH,
        at,
        at,
        None,
    )
    case_id = tx.insert_case(row)
    entry = make_entry(
        chain_id=case_id,
        seq=1,
        prev_hash=ZERO_HASH,
        recorded_at=at,
        actor=actor.user,
        kind="case.opened",
        reference=reference,
        to_state=definition.initial_state,
        payload={
            "workflow": definition.id,
            "version": definition.version,
            "digest": definition.digest(),
            "org": source.org,
            "data": data,
            "roles": sorted(actor.roles),
            "raised_by": {"reference": source.reference, "seq": source_seq},
        },
    )
    tx.append_entry(entry)
    tx.move_case_head(row._replace(id=case_id), entry)
    insert_nonconformity(
        tx,
        NcLink(
            case_id,
            source.id,
            source_seq,
            source.workflow_id,
            source.workflow_version,
            draft.trigger,
            draft.control,
            draft.clause,
            draft.severity,
            draft.origin,
            draft.nature,
            at,
            actor.user,
        ),
    )
    return reference


def _fixed_data(source: CaseRow, draft: NcDraft) -> dict[str, Any]:
    data: dict[str, Any] = {
        "dossier": source.reference,
        "procedure": source.workflow_id,
        "version_procedure": source.workflow_version,
        "etape": draft.trigger,
        "controle": draft.control,
        "clause": draft.clause,
        "gravite": draft.severity,
        "origine": draft.origin,
        "nature": draft.nature,
        "constat": draft.finding,
        "autorise_par": draft.authorised_by,
        "justification": draft.justification,
    }
    return {name: value for name, value in data.items() if value is not None}
