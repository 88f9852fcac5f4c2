"""The Engine service: one unit of work per command, every fact audited in the same transaction.

Commands read the case, let the pure core decide (``engine.case``), and write the new state
with its audit entry in one transaction guarded by the case version. A refused command writes
nothing but the audit entry of its refusal, in a transaction of its own.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

import orjson

import engine.control_catalogue  # noqa: F401  (registers the built-in controls)
from engine.actors import Actor
from engine.case import decide, roles_allow
from engine.case_data import parse_case_values, refuse_fixed
from engine.case_records import CaseRecords
from engine.clock import Clock, clock_from_environment
from engine.clock_commands import ClockCommands
from engine.clock_effects import apply_step_clocks
from engine.command_frame import CommandFrame
from engine.controls import REFERENCE_ZONE, CaseSnapshot, default_parameters
from engine.definition import WorkflowDef
from engine.errors import (
    CaseClosed,
    InvalidValue,
    UnknownCase,
)
from engine.facts import append_journal
from engine.log import get_logger
from engine.machine import CompiledWorkflow
from engine.nc_commands import NonconformityCommands
from engine.nonconformity import NC_WORKFLOW
from engine.registry import CompiledCache, Registration, check_registrable
from engine.sealing import DEFAULT_CHECKPOINT_INTERVAL, CheckpointPolicy
from engine.snapshots import HistoryCache, build_snapshot
from engine.steps import StepCommands
from engine.views import AvailableStep, CaseView
from storage.audit import Entry, make_entry
from storage.canonical import ZERO_HASH, canonical_json, utc_text
from storage.checkpoints import Checkpoint, take_checkpoint
from storage.database import Database, default_url
from storage.errors import StaleRecord
from storage.migrate import ensure_ready
from storage.store import CaseRow, DocumentRow, Store, Tx, WorkflowRow
from storage.verify import VerifyReport, verify_trail
from workflows.catalogue import Catalogue

ORG_PATTERN = re.compile(r"^[A-Z][A-Z0-9]{1,15}$")


class Engine(CaseRecords, StepCommands, NonconformityCommands, ClockCommands):
    """Jalon's commands on one database; thread-safe (one connection per thread)."""

    def __init__(
        self,
        database: Database,
        *,
        catalogue: Catalogue | None = None,
        clock: Clock | None = None,
        checkpoint_interval: timedelta | None = DEFAULT_CHECKPOINT_INTERVAL,
    ) -> None:
        ensure_ready(database)
        self.database = database
        self.catalogue = catalogue or Catalogue()
        self.clock = clock or clock_from_environment()
        self._sealing = CheckpointPolicy(checkpoint_interval)
        self._local = threading.local()
        self._compiled = CompiledCache()
        self._history = HistoryCache()
        self._log = get_logger("engine")

    @classmethod
    def connect(cls, url: str | None = None, **options: Any) -> Engine:
        """Open the engine on ``url`` (default: ``JALON_DATABASE_URL`` or ``./jalon.db``)."""
        return cls(Database(url or default_url()), **options)

    @property
    def store(self) -> Store:
        """This thread's store (its own connection)."""
        store: Store | None = getattr(self._local, "store", None)
        if store is None:
            store = Store(self.database)
            self._local.store = store
        return store

    def close(self) -> None:
        """Release this thread's connection and the pool."""
        self.store.close()
        self.database.dispose()

    def _now(self) -> str:
        return utc_text(self.clock.now())

    # ------------------------------------------------------------------ definitions

    def register(
        self, definition: WorkflowDef, source: str, source_path: str, actor: Actor
    ) -> Registration:
        """Register a definition version (idempotent for the same content)."""
        with (
            self._command("workflow.register", actor, workflow=definition.id) as log,
            self.store.write() as tx,
        ):
            created = self._register_in(tx, definition, source, source_path, actor)
            if created:
                log.info("workflow.registered", version=definition.version)
        return Registration(definition.id, definition.version, definition.digest(), created)

    def _register_in(
        self, tx: Tx, definition: WorkflowDef, source: str, source_path: str, actor: Actor
    ) -> bool:
        """Register a definition version inside ``tx``; True when it was not registered yet."""
        digest = definition.digest()
        created = check_registrable(
            tx.workflow(definition.id, definition.version), definition, digest
        )
        if created:
            at = self._now()
            tx.insert_workflow(
                WorkflowRow(
                    definition.id,
                    definition.version,
                    digest,
                    definition.title,
                    source,
                    source_path,
                    at,
                    actor.user,
                )
            )
            append_journal(
                tx,
                at,
                actor,
                "workflow.registered",
                {
                    "workflow": definition.id,
                    "version": definition.version,
                    "digest": digest,
                    "title": definition.title,
                    "path": source_path,
                },
            )
        return created

    def _ensure_registered(self, definition: WorkflowDef, actor: Actor) -> None:
        path = self.catalogue.path_of(definition.id, definition.version)
        self.register(definition, path.read_text(encoding="utf-8"), str(path), actor)

    def compiled(self, workflow_id: str, version: int) -> CompiledWorkflow:
        """The compiled workflow of a registered version."""
        with self.store.read() as tx:
            return self._compiled.get(tx, workflow_id, version)

    # ------------------------------------------------------------------ commands

    def open_case(
        self,
        workflow_id: str,
        *,
        org: str,
        actor: Actor,
        values: Mapping[str, str] | None = None,
        version: int | None = None,
    ) -> CaseView:
        """Open a case on the latest (or given) version of a workflow; return its view."""
        with self._command("case.open", actor, workflow=workflow_id) as log:
            if not ORG_PATTERN.match(org):
                raise InvalidValue(
                    "org",
                    (
                        f"Organisation « {org} » invalide : un code en majuscules de 2 à 16 "
                        "caractères (lettres et chiffres), par exemple AMP."
                    ),
                )
            if workflow_id == NC_WORKFLOW:
                raise InvalidValue(
                    "procedure",
                    "Une non-conformité s'ouvre avec « jalon nc open DOSSIER » (ou par un "
                    "contrôle) : elle doit être rattachée au dossier qu'elle concerne.",
                )
            definition = self.catalogue.get(workflow_id, version)
            data = parse_case_values(definition, values or {})  # before writing anything
            self._ensure_registered(definition, actor)
            now = self.clock.now()
            at = utc_text(now)
            with self.store.write() as tx:
                number = tx.next_reference_number(
                    org, now.astimezone(REFERENCE_ZONE).year, definition.code
                )
                reference = (
                    f"{org}-{now.astimezone(REFERENCE_ZONE).year}-{definition.code}-{number:04d}"
                )
                row = CaseRow(
                    0,
                    reference,
                    org,
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
                row = row._replace(id=case_id)
                payload: dict[str, Any] = {
                    "workflow": definition.id,
                    "version": definition.version,
                    "digest": definition.digest(),
                    "org": org,
                    "data": data,
                    "roles": sorted(actor.roles),
                }
                clocks = apply_step_clocks(
                    tx,
                    definition,
                    case_id,
                    None,
                    None,
                    definition.initial_state,
                    data,
                    now,
                    default_parameters(),
                )
                if clocks:
                    payload["clocks"] = clocks
                entry = make_entry(
                    chain_id=case_id,
                    seq=1,
                    prev_hash=ZERO_HASH,
                    recorded_at=at,
                    actor=actor.user,
                    kind="case.opened",
                    reference=reference,
                    to_state=definition.initial_state,
                    payload=payload,
                )
                tx.append_entry(entry)
                tx.move_case_head(row, entry)
            log.info("case.opened", case=reference, state=definition.initial_state)
        return self.show(reference)

    def set_values(
        self,
        reference: str,
        values: Mapping[str, str],
        actor: Actor,
        expected_version: int | None = None,
    ) -> CaseView:
        """Set (or clear, with an empty text) case fields; values are checked against types."""

        def set_data(
            _tx: Tx, case: CaseRow, compiled: CompiledWorkflow, _at: str
        ) -> tuple[dict[str, Any], str]:
            refuse_fixed(compiled.definition, values)
            new = parse_case_values(compiled.definition, values)
            data = orjson.loads(case.data)
            previous = {name: data.get(name) for name in new}
            for name, value in new.items():
                if value is None:
                    data.pop(name, None)
                else:
                    data[name] = value
            return {"values": new, "previous": previous}, canonical_json(data)

        with self._command("case.set", actor, case=reference) as log:
            self._record_fact(reference, actor, expected_version, "case.data_set", set_data)
            log.info("case.data_set", fields=sorted(values))
        return self.show(reference)

    # ------------------------------------------------------------------ queries

    def show(self, reference: str, actor: Actor | None = None) -> CaseView:
        """The case with its documents and, for each step available now, a control preview."""
        with self.store.read() as tx:
            case = self._case(tx, reference)
            compiled = self._compiled.get(tx, case.workflow_id, case.workflow_version)
            documents = tuple(tx.documents_of_case(case.id))
            viewer = actor or Actor("apercu", frozenset())
            snapshot = self._snapshot(tx, case, compiled, viewer, documents)
            steps = []
            if not compiled.is_final(case.state):
                for transition in compiled.transitions_from(case.state):
                    decision = decide(compiled, snapshot, transition.trigger)
                    steps.append(
                        AvailableStep(
                            transition.trigger,
                            transition.label,
                            transition.dest,
                            compiled.definition.states[transition.dest].label,
                            tuple(transition.roles),
                            actor is None or roles_allow(transition, actor),
                            decision.results,
                        )
                    )
        return CaseView(case, compiled.definition, dict(snapshot.data), documents, tuple(steps))

    def list_cases(
        self,
        *,
        workflow: str | None = None,
        state: str | None = None,
        org: str | None = None,
        limit: int = 200,
    ) -> list[CaseRow]:
        """Cases matching the filters, most recently updated first."""
        with self.store.read() as tx:
            return tx.list_cases(workflow=workflow, state=state, org=org, limit=limit)

    def history(self, reference: str) -> list[Entry]:
        """Every audit entry of the case, oldest first."""
        with self.store.read() as tx:
            return tx.entries_of_chain(self._case(tx, reference).id)

    def verify(self, reference: str | None = None) -> VerifyReport:
        """Verify the whole audit trail, or one case's chain."""
        if reference is None:
            return verify_trail(self.store)
        with self.store.read() as tx:
            case_id = self._case(tx, reference).id
        return verify_trail(self.store, case_id)

    def checkpoint(self) -> Checkpoint:
        """Commit to every chain's head now (run it periodically; keep its hash elsewhere too)."""
        checkpoint = take_checkpoint(self.store, self._now())
        self._log.info("audit.checkpoint", seq=checkpoint.seq, chains=checkpoint.chains)
        return checkpoint

    # ------------------------------------------------------------------ internals

    def _command(self, command: str, actor: Actor, **context: str) -> CommandFrame:
        """The frame of a write command: a bound logger, refusals recorded, then sealing."""
        return CommandFrame(
            store=self.store,
            log=self._log,
            now=self._now,
            after_success=lambda: self._sealing.after_write(
                self.store, self.clock, self.checkpoint
            ),
            command=command,
            actor=actor,
            context=context,
        )

    def _case(self, tx: Tx, reference: str) -> CaseRow:
        case = tx.case_by_reference(reference)
        if case is None:
            raise UnknownCase(f"Aucun dossier ne porte la référence « {reference} ».")
        return case

    def _load(
        self, tx: Tx, reference: str, expected_version: int | None
    ) -> tuple[CaseRow, CompiledWorkflow]:
        case = self._case(tx, reference)
        if expected_version is not None and case.version != expected_version:
            raise StaleRecord(reference)
        return case, self._compiled.get(tx, case.workflow_id, case.workflow_version)

    def _snapshot(
        self,
        tx: Tx,
        case: CaseRow,
        compiled: CompiledWorkflow,
        actor: Actor,
        documents: Sequence[DocumentRow] | None = None,
        *,
        uncommitted: bool = False,
    ) -> CaseSnapshot:
        """What controls see; documents and history are read only if a control asks.

        ``uncommitted``: ``tx`` has already written to this case, so its history is read
        without the shared cache (which must only ever hold committed entries).
        """
        now = self.clock.now()
        history = HistoryCache() if uncommitted else self._history
        return build_snapshot(tx, case, compiled, actor, now, history, documents)

    @staticmethod
    def _refuse_if_closed(case: CaseRow, compiled: CompiledWorkflow) -> None:
        if compiled.is_final(case.state):
            label = compiled.definition.states[case.state].label
            raise CaseClosed(
                f"Le dossier {case.reference} est clos (« {label} ») : il ne "
                "peut plus être modifié.",
                reference=case.reference,
            )
