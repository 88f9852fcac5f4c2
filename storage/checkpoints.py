"""Checkpoints: hash-chained commitments to the head of every audit chain.

A chain's own links prove that no entry inside it was changed, removed, inserted or moved;
they cannot prove that its tail, or the whole chain of a deleted case, is still there. A
checkpoint records (chain, last seq, last hash) for every chain at one instant, so that a later
truncation or deletion is detected by ``storage.verify``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

import orjson
from sqlalchemy import bindparam, func, insert, select

from storage.canonical import ZERO_HASH, canonical_json
from storage.statements import compile_for
from storage.store import Store, Tx
from storage.tables import AuditEntryRecord, CheckpointHeadRecord, CheckpointRecord

entries = AuditEntryRecord.__table__  # type: ignore[attr-defined]
checkpoints = CheckpointRecord.__table__  # type: ignore[attr-defined]
heads = CheckpointHeadRecord.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A checkpoint as stored (its heads are in ``audit_checkpoint_heads``)."""

    id: int
    seq: int
    taken_at: str
    chains: int
    heads_digest: str
    body: str
    prev_hash: str
    hash: str


def heads_digest(chain_heads: Iterable[tuple[int, int, str]]) -> str:
    """SHA-256 of the lines ``chain:seq:hash`` (LF-terminated) in ascending chain order."""
    digest = hashlib.sha256()
    for chain_id, seq, head_hash in sorted(chain_heads):
        digest.update(f"{chain_id}:{seq}:{head_hash}\n".encode())
    return digest.hexdigest()


def checkpoint_hash(prev_hash: str, body: str) -> str:
    """The hash of a checkpoint, computed like an entry's: SHA-256 of prev_hash + body."""
    return hashlib.sha256((prev_hash + body).encode("utf-8")).hexdigest()


def _current_heads_sql(dialect: str) -> str:
    last = (
        select(entries.c.chain_id, func.max(entries.c.seq).label("seq"))
        .group_by(entries.c.chain_id)
        .subquery()
    )
    return compile_for(
        select(entries.c.chain_id, entries.c.seq, entries.c.hash)
        .join(last, (entries.c.chain_id == last.c.chain_id) & (entries.c.seq == last.c.seq))
        .order_by(entries.c.chain_id),
        dialect,
    )


def _columns_sql(dialect: str) -> str:
    columns = [checkpoints.c[name] for name in Checkpoint.__slots__]
    return compile_for(select(*columns).order_by(checkpoints.c.seq), dialect)


def take_checkpoint(store: Store, taken_at: str) -> Checkpoint:
    """Commit to every chain's current head, in one write transaction, and return it."""
    dialect = store.database.dialect_name
    with store.write() as tx:
        chain_heads = [
            (int(c), int(s), str(h)) for c, s, h in tx.execute(_current_heads_sql(dialect))
        ]
        previous = tx.execute(_columns_sql(dialect)).fetchall()
        seq = previous[-1][1] + 1 if previous else 1
        prev_hash = previous[-1][7] if previous else ZERO_HASH
        digest = heads_digest(chain_heads)
        body = canonical_json(
            {"at": taken_at, "chains": len(chain_heads), "heads_digest": digest, "seq": seq}
        )
        row = {
            "seq": seq,
            "taken_at": taken_at,
            "chains": len(chain_heads),
            "heads_digest": digest,
            "body": body,
            "prev_hash": prev_hash,
            "hash": checkpoint_hash(prev_hash, body),
        }
        insert_checkpoint = compile_for(
            insert(checkpoints)
            .values(**{name: bindparam(name) for name in row})
            .returning(checkpoints.c.id),
            dialect,
        )
        checkpoint_id = int(tx.execute(insert_checkpoint, row).fetchone()[0])
        if chain_heads:
            insert_head = compile_for(
                insert(heads).values(
                    checkpoint_id=bindparam("checkpoint_id"),
                    chain_id=bindparam("chain_id"),
                    seq=bindparam("seq"),
                    hash=bindparam("hash"),
                ),
                dialect,
            )
            tx.execute_many(
                insert_head,
                [
                    {"checkpoint_id": checkpoint_id, "chain_id": c, "seq": s, "hash": h}
                    for c, s, h in chain_heads
                ],
            )
    return Checkpoint(id=checkpoint_id, **row)  # type: ignore[arg-type]


def unsealed_since(store: Store) -> str | None:
    """Since when facts may be unsealed: the latest checkpoint's time, else the first entry's.

    None when the trail is empty (nothing to seal).
    """
    dialect = store.database.dialect_name
    latest = compile_for(select(func.max(checkpoints.c.taken_at)), dialect)
    first = compile_for(
        select(entries.c.body).where(
            entries.c.id == select(func.min(entries.c.id)).scalar_subquery()
        ),
        dialect,
    )
    with store.read() as tx:
        row = tx.execute(latest).fetchone()
        if row is not None and row[0] is not None:
            return str(row[0])
        row = tx.execute(first).fetchone()
    return str(orjson.loads(row[0])["at"]) if row is not None else None


def load_checkpoints(tx: Tx, dialect: str) -> list[tuple[Checkpoint, list[tuple[int, int, str]]]]:
    """Every checkpoint in order, each with the heads it committed to (read through ``tx``)."""
    heads_sql = compile_for(
        select(heads.c.chain_id, heads.c.seq, heads.c.hash)
        .where(heads.c.checkpoint_id == bindparam("checkpoint_id"))
        .order_by(heads.c.chain_id),
        dialect,
    )
    result = []
    for row in tx.execute(_columns_sql(dialect)).fetchall():
        checkpoint = Checkpoint(*row)
        chain_heads = [
            (int(c), int(s), str(h))
            for c, s, h in tx.execute(heads_sql, {"checkpoint_id": checkpoint.id}).fetchall()
        ]
        result.append((checkpoint, chain_heads))
    return result


def mirrors_checkpoint_body(checkpoint: Checkpoint) -> bool:
    """True when the checkpoint's columns say what its hashed body says."""
    try:
        body = orjson.loads(checkpoint.body)
    except orjson.JSONDecodeError:
        return False
    expected: dict[str, object] = {
        "at": checkpoint.taken_at,
        "chains": checkpoint.chains,
        "heads_digest": checkpoint.heads_digest,
        "seq": checkpoint.seq,
    }
    return bool(body == expected)
