"""The Engine service: one unit of work per command, every fact audited in the same transaction.

Commands read the case, let the pure core decide (``engine.case``), and write the new state
with its audit entry in one transaction guarded by the case version. A refused command writes
nothing but the audit entry of its refusal, in a transaction of its own.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import orjson
import structlog

import engine.control_catalogue  # noqa: F401  (registers the built-in controls)
from engine.actors import Actor
from engine.case import decide, roles_allow
from engine.clock import Clock, clock_from_environment
from engine.controls import CaseSnapshot, DocumentView
from engine.definition import WorkflowDef
from engine.errors import (
    CaseClosed,
    CommandRefused,
    ConcurrentModification,
    EngineError,
    InvalidValue,
    UnknownCase,
)
from engine.log import get_logger
from engine.machine import CompiledWorkflow
from engine.registry import CompiledCache, Registration, check_registrable
from engine.values import parse_value
from engine.views import AvailableStep, CaseView, FireOutcome
from storage.audit import JOURNAL_CHAIN, Entry, make_entry
from storage.canonical import ZERO_HASH, canonical_json, utc_text
from storage.checkpoints import Checkpoint, take_checkpoint, unsealed_since
from storage.database import Database, default_url
from storage.errors import StaleRecord
from storage.migrate import ensure_ready
from storage.store import CaseRow, DocumentRow, Store, Tx, WorkflowRow
from storage.verify import VerifyReport, verify_trail
from workflows.catalogue import Catalogue

ORG_PATTERN = re.compile(r"^[A-Z][A-Z0-9]{1,15}$")
DOC_TYPE_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
REFERENCE_ZONE = ZoneInfo("Europe/Paris")
REFUSAL_RETRIES = 20
DEFAULT_CHECKPOINT_INTERVAL = timedelta(hours=1)
"""After a write command, a checkpoint is taken when the latest is older than this."""
T = TypeVar("T")


class Engine:
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
        self.checkpoint_interval = checkpoint_interval
        self._checkpoint_due: datetime | None = None
        self._local = threading.local()
        self._compiled = CompiledCache()
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
        digest = definition.digest()
        with (
            self._command("workflow.register", actor, workflow=definition.id),
            self.store.write() as tx,
        ):
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
                self._append_journal(
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
        return Registration(definition.id, definition.version, digest, created)

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
        with self._command("case.open", actor, workflow=workflow_id):
            if not ORG_PATTERN.match(org):
                raise InvalidValue(
                    "org",
                    (
                        f"Organisation « {org} » invalide : un code en majuscules de 2 à 16 "
                        "caractères (lettres et chiffres), par exemple AMP."
                    ),
                )
            definition = self.catalogue.get(workflow_id, version)
            data = self._parse_values(definition, values or {})  # before writing anything
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
                row = CaseRow(case_id, *_fields(row)[1:])
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
                        "org": org,
                        "data": data,
                        "roles": sorted(actor.roles),
                    },
                )
                tx.append_entry(entry)
                tx.move_case_head(row, entry)
            self._log.info("case.opened", case=reference, state=definition.initial_state)
        return self.show(reference)

    def set_values(
        self,
        reference: str,
        values: Mapping[str, str],
        actor: Actor,
        expected_version: int | None = None,
    ) -> CaseView:
        """Set (or clear, with an empty text) case fields; values are checked against types."""
        with self._command("case.set", actor, case=reference):
            with self.store.write() as tx:
                case, compiled = self._load(tx, reference, expected_version)
                self._refuse_if_closed(case, compiled)
                new = self._parse_values(compiled.definition, values)
                data = orjson.loads(case.data)
                previous = {name: data.get(name) for name in new}
                for name, value in new.items():
                    if value is None:
                        data.pop(name, None)
                    else:
                        data[name] = value
                at = self._now()
                entry = self._entry(
                    case, at, actor, "case.data_set", {"values": new, "previous": previous}
                )
                tx.append_entry(entry)
                tx.update_case(
                    case,
                    state=case.state,
                    data=canonical_json(data),
                    head=entry,
                    updated_at=at,
                    closed_at=case.closed_at,
                )
            self._log.info("case.data_set", fields=sorted(new))
        return self.show(reference)

    def attach(
        self,
        reference: str,
        path: Path,
        doc_type: str,
        actor: Actor,
        expected_version: int | None = None,
    ) -> DocumentRow:
        """Record a document (name, type, size, SHA-256, location); the file stays where it is."""
        with self._command("case.attach", actor, case=reference):
            if not DOC_TYPE_PATTERN.match(doc_type):
                raise InvalidValue(
                    "type",
                    (
                        f"Type de pièce « {doc_type} » invalide : minuscules, chiffres et _, "
                        "par exemple rapport_analyse."
                    ),
                )
            if not path.is_file():
                raise InvalidValue("fichier", f"Fichier introuvable : {path}.")
            size, digest = _fingerprint(path)
            with self.store.write() as tx:
                case, compiled = self._load(tx, reference, expected_version)
                self._refuse_if_closed(case, compiled)
                at = self._now()
                document = DocumentRow(
                    doc_type, path.name, size, digest, str(path.resolve()), at, actor.user
                )
                tx.insert_document(case.id, document)
                entry = self._entry(
                    case,
                    at,
                    actor,
                    "case.document_attached",
                    {
                        "type": doc_type,
                        "name": path.name,
                        "size": size,
                        "sha256": digest,
                        "location": document.location,
                    },
                )
                tx.append_entry(entry)
                tx.update_case(
                    case,
                    state=case.state,
                    data=case.data,
                    head=entry,
                    updated_at=at,
                    closed_at=case.closed_at,
                )
            self._log.info("case.document_attached", type=doc_type, sha256=digest)
        return document

    def fire(
        self, reference: str, trigger: str, actor: Actor, expected_version: int | None = None
    ) -> FireOutcome:
        """Take the step ``trigger`` if allowed and every blocking control holds."""
        with self._command("case.fire", actor, case=reference, trigger=trigger):
            with self.store.write() as tx:
                case, compiled = self._load(tx, reference, expected_version)
                snapshot = self._snapshot(tx, case, actor)
                decision = decide(compiled, snapshot, trigger)
                if decision.refusal is not None:
                    decision.refusal.details["controls"] = [
                        result.as_payload() for result in decision.results
                    ]
                    raise decision.refusal
                assert decision.dest is not None
                at = utc_text(snapshot.now)
                entry = make_entry(
                    chain_id=case.id,
                    seq=case.head_seq + 1,
                    prev_hash=case.head_hash,
                    recorded_at=at,
                    actor=actor.user,
                    kind="case.transition",
                    reference=case.reference,
                    from_state=case.state,
                    to_state=decision.dest,
                    payload={
                        "trigger": trigger,
                        "roles": sorted(actor.roles),
                        "controls": [result.as_payload() for result in decision.results],
                    },
                )
                tx.append_entry(entry)
                closed_at = at if compiled.is_final(decision.dest) else None
                tx.update_case(
                    case,
                    state=decision.dest,
                    data=case.data,
                    head=entry,
                    updated_at=at,
                    closed_at=closed_at,
                )
            self._log.info("case.fired", from_state=case.state, to_state=decision.dest)
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
        )

    # ------------------------------------------------------------------ queries

    def show(self, reference: str, actor: Actor | None = None) -> CaseView:
        """The case with its documents and, for each step available now, a control preview."""
        with self.store.read() as tx:
            case = self._case(tx, reference)
            compiled = self._compiled.get(tx, case.workflow_id, case.workflow_version)
            documents = tuple(tx.documents_of_case(case.id))
            viewer = actor or Actor("apercu", frozenset())
            snapshot = CaseSnapshot(
                case.reference,
                case.state,
                orjson.loads(case.data),
                viewer,
                self.clock.now(),
                lambda: [DocumentView(d.doc_type, d.name, d.sha256) for d in documents],
            )
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

    def _checkpoint_if_due(self) -> None:
        """Take a checkpoint when facts older than ``checkpoint_interval`` are still unsealed.

        The due time is cached, so between checkpoints this costs one comparison; the first
        write command of a process reads the time of the latest checkpoint once.
        """
        if self.checkpoint_interval is None:
            return
        now = self.clock.now()
        if self._checkpoint_due is not None and now < self._checkpoint_due:
            return
        since = unsealed_since(self.store)
        if since is None:
            return
        since_at = datetime.fromisoformat(since.replace("Z", "+00:00"))
        if now - since_at < self.checkpoint_interval:
            self._checkpoint_due = since_at + self.checkpoint_interval
            return
        # Another process may take the same checkpoint number first: that one counts.
        with suppress(self.store.integrity_error):
            self.checkpoint()
        self._checkpoint_due = now + self.checkpoint_interval

    # ------------------------------------------------------------------ internals

    @contextmanager
    def _command(self, command: str, actor: Actor, **context: str) -> Iterator[None]:
        """Bind the log context; record any refusal in the trail before letting it through."""
        with structlog.contextvars.bound_contextvars(command=command, actor=str(actor), **context):
            try:
                yield
            except StaleRecord as error:
                conflict = ConcurrentModification(
                    f"Le dossier {context.get('case', '')} a été modifié par une autre commande "
                    "pendant celle-ci : rechargez-le et recommencez."
                )
                self._record_refusal(command, actor, conflict, context)
                raise conflict from error
            except EngineError as error:
                self._record_refusal(command, actor, error, context)
                raise
            self._checkpoint_if_due()

    def _record_refusal(
        self, command: str, actor: Actor, error: EngineError, context: Mapping[str, str]
    ) -> None:
        payload: dict[str, Any] = {
            "command": command,
            "code": error.code,
            "message": error.message,
            "roles": sorted(actor.roles),
            **context,
        }
        if isinstance(error, CommandRefused):
            payload.update(error.details)
        self._log.info("command.refused", code=error.code, reason=error.message)
        reference = context.get("case")
        for _attempt in range(REFUSAL_RETRIES):
            try:
                with self.store.write() as tx:
                    at = self._now()
                    case = tx.case_by_reference(reference) if reference else None
                    if case is None:
                        self._append_journal(tx, at, actor, "command.refused", payload)
                    else:
                        entry = self._entry(case, at, actor, "command.refused", payload)
                        tx.append_entry(entry)
                        tx.move_case_head(case, entry)
                return
            except StaleRecord:
                continue
        raise ConcurrentModification("Trop de commandes concurrentes : refus non enregistré.")

    def _append_journal(
        self, tx: Tx, at: str, actor: Actor, kind: str, payload: dict[str, Any]
    ) -> Entry:
        seq, head = tx.journal_head()
        entry = make_entry(
            chain_id=JOURNAL_CHAIN,
            seq=seq + 1,
            prev_hash=head,
            recorded_at=at,
            actor=actor.user,
            kind=kind,
            reference=None,
            payload=payload,
        )
        tx.append_entry(entry)
        return entry

    @staticmethod
    def _entry(case: CaseRow, at: str, actor: Actor, kind: str, payload: dict[str, Any]) -> Entry:
        return make_entry(
            chain_id=case.id,
            seq=case.head_seq + 1,
            prev_hash=case.head_hash,
            recorded_at=at,
            actor=actor.user,
            kind=kind,
            reference=case.reference,
            from_state=case.state,
            to_state=case.state,
            payload=payload,
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

    def _snapshot(self, tx: Tx, case: CaseRow, actor: Actor) -> CaseSnapshot:
        def documents() -> list[DocumentView]:
            return [
                DocumentView(d.doc_type, d.name, d.sha256) for d in tx.documents_of_case(case.id)
            ]

        return CaseSnapshot(
            case.reference, case.state, orjson.loads(case.data), actor, self.clock.now(), documents
        )

    @staticmethod
    def _refuse_if_closed(case: CaseRow, compiled: CompiledWorkflow) -> None:
        if compiled.is_final(case.state):
            label = compiled.definition.states[case.state].label
            raise CaseClosed(
                f"Le dossier {case.reference} est clos (« {label} ») : il ne "
                "peut plus être modifié.",
                reference=case.reference,
            )

    @staticmethod
    def _parse_values(definition: WorkflowDef, values: Mapping[str, str]) -> dict[str, Any]:
        parsed: dict[str, Any] = {}
        for name, raw in values.items():
            field = definition.fields.get(name)
            if field is None:
                known = ", ".join(sorted(definition.fields)) or "aucun"
                raise InvalidValue(
                    name,
                    (
                        f"Champ « {name} » inconnu de la procédure « {definition.id} » "
                        f"(champs connus : {known})."
                    ),
                )
            parsed[name] = None if raw.strip() == "" else parse_value(field, raw, name=name)
        return parsed


def _fields(row: CaseRow) -> tuple[Any, ...]:
    return tuple(getattr(row, name) for name in CaseRow.__slots__)


def _fingerprint(path: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def run_with_retry(action: Callable[[], T], attempts: int = 3) -> T:
    """Run ``action``, retrying on ``ConcurrentModification`` (for batch jobs, not users)."""
    for _attempt in range(attempts - 1):
        try:
            return action()
        except ConcurrentModification:
            continue
    return action()
