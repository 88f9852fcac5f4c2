"""Verification of the audit trail: every chain's links, its mirror columns, heads and checkpoints.

Detects a modified entry (its hash no longer matches its body), a chain moved to another case
(its first entry's body names another chain), a
deleted entry (a gap in the sequence), an inserted, replaced or reordered entry (a broken
link), a truncated chain (fewer entries than the case head or a checkpoint attests), a deleted
case (a chain a checkpoint attests that has vanished, or entries whose case row is gone) and a
tampered checkpoint. Each finding names the case and the position.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import bindparam, select

from storage.audit import JOURNAL_CHAIN, Entry, chain_hash
from storage.canonical import ZERO_HASH
from storage.checkpoints import (
    Checkpoint,
    checkpoint_hash,
    heads_digest,
    load_checkpoints,
    mirrors_checkpoint_body,
)
from storage.statements import ENTRY_COLUMNS, compile_for
from storage.store import Store, Tx
from storage.tables import AuditEntryRecord, CaseRecord

entries = AuditEntryRecord.__table__  # type: ignore[attr-defined]
cases = CaseRecord.__table__  # type: ignore[attr-defined]
BATCH = 5_000


@dataclass(frozen=True, slots=True)
class Finding:
    """One proof that the trail was altered: where, and what (French, for auditors)."""

    chain_id: int
    reference: str | None
    seq: int | None
    problem: str
    message: str


@dataclass(slots=True)
class VerifyReport:
    """The outcome of a verification."""

    entries: int = 0
    chains: int = 0
    checkpoints: int = 0
    findings: list[Finding] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        """True when nothing was found."""
        return not self.findings


@dataclass(slots=True)
class _ChainState:
    chain_id: int
    seq: int = 0
    hash: str = ZERO_HASH
    seen: int = 0


def _label(chain_id: int, references: dict[int, str]) -> str:
    if chain_id == JOURNAL_CHAIN:
        return "le journal"
    return f"le dossier {references.get(chain_id, f'n° {chain_id} (supprimé)')}"


class _Verifier:
    def __init__(self, case_rows: dict[int, tuple[str, int, str]]) -> None:
        self.case_rows = case_rows
        self.references = {case_id: row[0] for case_id, row in case_rows.items()}
        self.expected: dict[int, list[tuple[int, str, int]]] = defaultdict(list)
        self.report = VerifyReport()

    def find(self, chain_id: int, seq: int | None, problem: str, message: str) -> None:
        self.report.findings.append(
            Finding(chain_id, self.references.get(chain_id), seq, problem, message)
        )

    def attested(self, chain_id: int) -> dict[int, list[tuple[str, int]]]:
        """What the checkpoints attest of a chain: seq -> [(hash, checkpoint number)]."""
        by_seq: dict[int, list[tuple[str, int]]] = {}
        for seq, attested_hash, checkpoint in self.expected.get(chain_id, ()):
            by_seq.setdefault(seq, []).append((attested_hash, checkpoint))
        return by_seq

    def check_placement(self, entry: Entry) -> None:
        """The first entry read of a chain must say, in its hashed body, that it belongs there.

        Links bind every later entry to it, so one parse per chain detects a chain moved to
        another case (its rows' chain_id rewritten, the heads adjusted to match).
        """
        try:
            fact = entry.fact()
            placed = (fact["chain"], fact["seq"]) == (entry.chain_id, entry.seq)
        except (orjson.JSONDecodeError, KeyError, TypeError):
            placed = False
        if not placed:
            self.find(
                entry.chain_id,
                entry.seq,
                "chain_moved",
                f"{_label(entry.chain_id, self.references)} : l'entrée {entry.seq} dit "
                "appartenir à une autre chaîne ou une autre position (chaîne déplacée).",
            )

    def check_entry(self, state: _ChainState, entry: Entry) -> None:
        """Examine an entry that failed the fast check and record exactly what is wrong."""
        where = _label(entry.chain_id, self.references)
        expected_seq = state.seq + 1
        if entry.seq != expected_seq:
            if entry.seq > expected_seq:
                gap = (
                    f"{expected_seq}"
                    if entry.seq == expected_seq + 1
                    else f"{expected_seq} à {entry.seq - 1}"
                )
                self.find(
                    entry.chain_id,
                    expected_seq,
                    "entry_deleted",
                    f"{where} : entrée(s) {gap} manquante(s) (supprimée(s)).",
                )
            else:
                self.find(
                    entry.chain_id,
                    entry.seq,
                    "entry_out_of_order",
                    f"{where} : entrée {entry.seq} en double ou hors ordre.",
                )
        elif entry.prev_hash != state.hash:
            self.find(
                entry.chain_id,
                entry.seq,
                "link_broken",
                f"{where} : le lien de l'entrée {entry.seq} vers la précédente est rompu "
                "(entrée insérée, remplacée ou déplacée).",
            )
        if chain_hash(entry.prev_hash, entry.body) != entry.hash:
            self.find(
                entry.chain_id,
                entry.seq,
                "entry_modified",
                f"{where} : le contenu de l'entrée {entry.seq} a été modifié.",
            )
        for attested_hash, checkpoint in self.attested(entry.chain_id).get(entry.seq, ()):
            if attested_hash != entry.hash:
                self.find(
                    entry.chain_id,
                    entry.seq,
                    "checkpoint_mismatch",
                    f"{where} : l'entrée {entry.seq} diffère de celle attestée par le point "
                    f"de contrôle {checkpoint}.",
                )
        state.seq = entry.seq
        state.hash = entry.hash
        state.seen += 1

    def close_chain(self, state: _ChainState) -> None:
        where = _label(state.chain_id, self.references)
        self.report.chains += 1
        for seq, _hash, checkpoint in self.expected.get(state.chain_id, ()):
            if seq > state.seq:
                self.find(
                    state.chain_id,
                    state.seq + 1,
                    "chain_truncated",
                    f"{where} s'arrête à l'entrée {state.seq} alors que le point de contrôle "
                    f"{checkpoint} en attestait {seq}.",
                )
                break
        if state.chain_id == JOURNAL_CHAIN:
            return
        row = self.case_rows.get(state.chain_id)
        if row is None:
            self.find(
                state.chain_id,
                None,
                "case_deleted",
                f"{where} : {state.seen} entrée(s) existent mais la fiche du dossier a été "
                "supprimée.",
            )
        elif (row[1], row[2]) != (state.seq, state.hash):
            problem = "chain_truncated" if row[1] > state.seq else "head_mismatch"
            self.find(
                state.chain_id,
                state.seq + 1 if row[1] > state.seq else state.seq,
                problem,
                f"{where} : la fiche du dossier annonce {row[1]} entrée(s), la chaîne en a "
                f"{state.seq} (entrées supprimées, ajoutées ou fiche modifiée).",
            )

    def close_missing(self, seen_chains: set[int], only: int | None) -> None:
        for case_id, (reference, head_seq, _hash) in self.case_rows.items():
            if case_id not in seen_chains and (only is None or case_id == only):
                self.find(
                    case_id,
                    1,
                    "chain_deleted",
                    f"le dossier {reference} n'a plus aucune entrée (il en annonce {head_seq}).",
                )
        for chain_id, attested in self.expected.items():
            if chain_id in seen_chains or chain_id in self.case_rows:
                continue
            if only is not None and chain_id != only:
                continue
            self.find(
                chain_id,
                None,
                "case_deleted",
                f"{_label(chain_id, self.references)} a disparu : le point de contrôle "
                f"{attested[-1][2]} en attestait {attested[-1][0]} entrée(s).",
            )


def _case_rows(tx: Tx, dialect: str, only: int | None) -> dict[int, tuple[str, int, str]]:
    query = select(cases.c.id, cases.c.reference, cases.c.head_seq, cases.c.head_hash)
    if only is not None:
        query = query.where(cases.c.id == bindparam("only"))
    sql = compile_for(query, dialect)
    rows = tx.execute(sql, {"only": only} if only is not None else {}).fetchall()
    return {int(r[0]): (str(r[1]), int(r[2]), str(r[3])) for r in rows}


def _entries_sql(dialect: str, only: int | None) -> str:
    query = select(*(entries.c[name] for name in ENTRY_COLUMNS))
    if only is not None:
        query = query.where(entries.c.chain_id == bindparam("only"))
    return compile_for(query.order_by(entries.c.chain_id, entries.c.seq), dialect)


def verify_rows(
    case_heads: dict[int, tuple[str, int, str]],
    rows: Iterable[Entry | tuple[Any, ...]],
    checkpoints: Sequence[tuple[Checkpoint, list[tuple[int, int, str]]]] = (),
    only: int | None = None,
) -> VerifyReport:
    """Verify entries given in (chain, seq) order against case heads and checkpoints (pure).

    Args:
        case_heads: case id -> (reference, head_seq, head_hash) as the cases table says.
        rows: the entries (or their column tuples) ordered by chain id, then seq.
        checkpoints: every checkpoint in order, each with the heads it committed to.
        only: verify a single chain; the other chains' facts are ignored.
    """
    verifier = _Verifier(case_heads)
    previous_hash = ZERO_HASH
    for number, (checkpoint, chain_heads) in enumerate(checkpoints, start=1):
        verifier.report.checkpoints += 1
        if (
            checkpoint.seq != number
            or checkpoint.prev_hash != previous_hash
            or checkpoint_hash(checkpoint.prev_hash, checkpoint.body) != checkpoint.hash
            or not mirrors_checkpoint_body(checkpoint)
            or heads_digest(chain_heads) != checkpoint.heads_digest
        ):
            verifier.find(
                JOURNAL_CHAIN,
                None,
                "checkpoint_modified",
                f"le point de contrôle {checkpoint.seq} a été modifié, supprimé ou inséré.",
            )
        previous_hash = checkpoint.hash
        for head_chain, seq, head_hash in chain_heads:
            if only is None or head_chain == only:
                verifier.expected[head_chain].append((seq, head_hash, checkpoint.seq))
    state = _ChainState(-1)
    attested: dict[int, list[tuple[str, int]]] = {}
    seen: set[int] = set()
    sha256 = hashlib.sha256
    count = 0
    # The chain being read is kept in locals (last_seq, last_hash): this loop runs once per
    # entry, a million times for a large trail, and attribute access is what it would cost.
    last_seq, last_hash, intact = 0, ZERO_HASH, 0
    for chain_id, seq, body, prev_hash, entry_hash in rows:
        if chain_id != state.chain_id:
            if count:
                state.seq, state.hash = last_seq, last_hash
                state.seen += intact
                verifier.close_chain(state)
            state = _ChainState(chain_id)
            last_seq, last_hash, intact = 0, ZERO_HASH, 0
            attested = verifier.attested(chain_id)
            seen.add(chain_id)
            verifier.check_placement(Entry(chain_id, seq, body, prev_hash, entry_hash))
        count += 1
        # The fast path: an intact entry costs one comparison chain and one hash. Anything
        # that looks wrong goes to check_entry, which names the problem exactly.
        if (
            seq == last_seq + 1
            and prev_hash == last_hash
            and sha256((prev_hash + body).encode("utf-8")).hexdigest() == entry_hash
            and not (attested and seq in attested and _contradicts(attested[seq], entry_hash))
        ):
            last_seq, last_hash = seq, entry_hash
            intact += 1
        else:
            state.seq, state.hash = last_seq, last_hash
            verifier.check_entry(state, Entry(chain_id, seq, body, prev_hash, entry_hash))
            last_seq, last_hash = state.seq, state.hash
    state.seq, state.hash = last_seq, last_hash
    state.seen += intact
    if count:
        verifier.close_chain(state)
    verifier.report.entries = count
    verifier.close_missing(seen, only)
    return verifier.report


def _contradicts(attestations: list[tuple[str, int]], entry_hash: str) -> bool:
    return any(attested_hash != entry_hash for attested_hash, _checkpoint in attestations)


def verify_trail(store: Store, chain_id: int | None = None) -> VerifyReport:
    """Verify the whole trail, or only the chain ``chain_id``; never writes anything.

    Case heads, checkpoints and entries are read in one snapshot, so commands committed
    while verification runs are neither seen half nor mistaken for tampering.
    """
    dialect = store.database.dialect_name
    params = {"only": chain_id} if chain_id is not None else {}
    with store.snapshot() as tx:
        return verify_rows(
            _case_rows(tx, dialect, chain_id),
            tx.stream(_entries_sql(dialect, chain_id), params, BATCH),
            load_checkpoints(tx, dialect),
            chain_id,
        )
