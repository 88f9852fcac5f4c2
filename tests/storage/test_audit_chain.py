"""The hash chain detects every kind of tampering, on SQLite and on PostgreSQL."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from storage.audit import chain_hash, make_entry
from storage.canonical import ZERO_HASH
from storage.checkpoints import take_checkpoint
from storage.verify import verify_trail
from tests.storage.trail_builder import build_trail, tamper

AT = "2026-03-02T09:00:00.000000Z"


def problems(report_findings: list) -> set[tuple[str, str | None, int | None]]:  # type: ignore[type-arg]
    return {(f.problem, f.reference, f.seq) for f in report_findings}


def test_an_untouched_trail_is_intact(database_url: str) -> None:
    """A trail written only by the store verifies with no finding and counts every entry."""
    trail = build_trail(database_url, cases=3, length=4)
    report = verify_trail(trail.store)
    assert report.intact, report.findings
    assert report.entries == 3 * 4 + 1
    assert report.chains == 4


def test_modified_body_is_detected(database_url: str) -> None:
    """Changing the content of an entry breaks its hash: the case and position are named."""
    trail = build_trail(database_url)
    tamper(
        trail.database,
        "UPDATE audit_entries SET body = replace(body, :old, :new) WHERE chain_id = :c AND seq = 3",
        old='"n":3',
        new='"n":33',
        c=trail.case_ids[1],
    )
    found = problems(verify_trail(trail.store).findings)
    assert ("entry_modified", trail.references[1], 3) in found


def test_the_table_repeats_nothing_of_the_body(database_url: str) -> None:
    """The row holds only position, body and links: no column can disagree with the body."""
    trail = build_trail(database_url)
    with trail.database.engine.connect() as connection:
        columns = set(connection.execute(text("SELECT * FROM audit_entries WHERE 1 = 0")).keys())
    assert columns == {"id", "chain_id", "seq", "body", "prev_hash", "hash"}


def test_deleted_entry_is_detected(database_url: str) -> None:
    """Removing an entry in the middle leaves a gap that is reported at its position."""
    trail = build_trail(database_url)
    tamper(
        trail.database,
        "DELETE FROM audit_entries WHERE chain_id = :c AND seq = 2",
        c=trail.case_ids[2],
    )
    found = problems(verify_trail(trail.store).findings)
    assert ("entry_deleted", trail.references[2], 2) in found


def test_inserted_entry_is_detected(database_url: str) -> None:
    """An entry slipped in the middle (later ones renumbered) breaks the chain's links."""
    trail = build_trail(database_url, length=4)
    case_id = trail.case_ids[0]
    tamper(
        trail.database,
        "UPDATE audit_entries SET seq = seq + 100 WHERE chain_id = :c AND seq >= 3",
        c=case_id,
    )
    tamper(
        trail.database,
        "UPDATE audit_entries SET seq = seq - 99 WHERE chain_id = :c AND seq >= 100",
        c=case_id,
    )
    forged = make_entry(
        chain_id=case_id,
        seq=3,
        prev_hash="f" * 64,
        recorded_at=AT,
        actor="x",
        kind="case.transition",
        reference=trail.references[0],
    )
    tamper(
        trail.database,
        "INSERT INTO audit_entries (chain_id, seq, body, prev_hash, hash) "
        "VALUES (:chain_id, :seq, :body, :prev_hash, :hash)",
        **forged.as_params(),
    )
    found = problems(verify_trail(trail.store).findings)
    assert ("link_broken", trail.references[0], 3) in found


def test_reordered_entries_are_detected(database_url: str) -> None:
    """Swapping two entries' positions breaks the links at the first of them."""
    trail = build_trail(database_url)
    case_id = trail.case_ids[1]
    tamper(
        trail.database,
        "UPDATE audit_entries SET seq = 99 WHERE chain_id = :c AND seq = 2",
        c=case_id,
    )
    tamper(
        trail.database,
        "UPDATE audit_entries SET seq = 2 WHERE chain_id = :c AND seq = 3",
        c=case_id,
    )
    tamper(
        trail.database,
        "UPDATE audit_entries SET seq = 3 WHERE chain_id = :c AND seq = 99",
        c=case_id,
    )
    found = problems(verify_trail(trail.store).findings)
    assert ("link_broken", trail.references[1], 2) in found


def test_truncated_chain_is_detected_by_the_case_head(database_url: str) -> None:
    """Removing the last entries is detected: the case row still announces them."""
    trail = build_trail(database_url, length=5)
    tamper(
        trail.database,
        "DELETE FROM audit_entries WHERE chain_id = :c AND seq >= 4",
        c=trail.case_ids[0],
    )
    found = problems(verify_trail(trail.store).findings)
    assert ("chain_truncated", trail.references[0], 4) in found


def test_truncation_with_forged_head_is_detected_by_a_checkpoint(database_url: str) -> None:
    """Truncating and rewriting the case head is still caught by an earlier checkpoint."""
    trail = build_trail(database_url, length=5)
    take_checkpoint(trail.store, AT)
    case_id = trail.case_ids[2]
    with trail.database.engine.connect() as connection:
        seq3_hash = connection.execute(
            text("SELECT hash FROM audit_entries WHERE chain_id = :c AND seq = 3"), {"c": case_id}
        ).scalar_one()
    tamper(trail.database, "DELETE FROM audit_entries WHERE chain_id = :c AND seq >= 4", c=case_id)
    tamper(
        trail.database,
        "UPDATE cases SET head_seq = 3, head_hash = :h WHERE id = :c",
        h=seq3_hash,
        c=case_id,
    )
    found = problems(verify_trail(trail.store).findings)
    assert ("chain_truncated", trail.references[2], 4) in found


def test_deleted_case_is_detected_by_a_checkpoint(database_url: str) -> None:
    """Deleting a case row and its whole chain is caught: the checkpoint attested it."""
    trail = build_trail(database_url)
    take_checkpoint(trail.store, AT)
    case_id = trail.case_ids[1]
    tamper(trail.database, "DELETE FROM audit_entries WHERE chain_id = :c", c=case_id)
    tamper(trail.database, "DELETE FROM cases WHERE id = :c", c=case_id)
    findings = verify_trail(trail.store).findings
    assert any(f.problem == "case_deleted" and f.chain_id == case_id for f in findings)


def test_case_row_deleted_but_entries_left_is_detected(database_url: str) -> None:
    """Entries whose case row vanished are reported as a deleted case."""
    trail = build_trail(database_url)
    tamper(trail.database, "PRAGMA foreign_keys = OFF" if "sqlite" in database_url else "SELECT 1")
    tamper(trail.database, "DELETE FROM cases WHERE id = :c", c=trail.case_ids[0])
    findings = verify_trail(trail.store).findings
    assert any(f.problem == "case_deleted" and f.chain_id == trail.case_ids[0] for f in findings)


def test_tampered_checkpoint_is_detected(database_url: str) -> None:
    """A checkpoint is itself chained: changing it is reported."""
    trail = build_trail(database_url)
    take_checkpoint(trail.store, AT)
    take_checkpoint(trail.store, AT)
    tamper(trail.database, "UPDATE audit_checkpoints SET chains = 99 WHERE seq = 1")
    tamper(
        trail.database,
        "UPDATE audit_checkpoints SET body = replace(body, :old, :new) WHERE seq = 1",
        old='"chains":4',
        new='"chains":99',
    )
    findings = verify_trail(trail.store).findings
    assert any(f.problem == "checkpoint_modified" for f in findings)


def test_verifying_one_chain_ignores_the_others(database_url: str) -> None:
    """Verification of one case reports only that case's problems."""
    trail = build_trail(database_url)
    tamper(
        trail.database,
        "DELETE FROM audit_entries WHERE chain_id = :c AND seq = 2",
        c=trail.case_ids[0],
    )
    assert verify_trail(trail.store, trail.case_ids[1]).intact
    assert not verify_trail(trail.store, trail.case_ids[0]).intact


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_entries SET body = 'x'",
        "DELETE FROM audit_entries",
    ],
)
def test_the_database_refuses_to_change_the_trail(database_url: str, statement: str) -> None:
    """UPDATE and DELETE on the audit table are refused by a trigger, on both backends."""
    trail = build_trail(database_url)
    with pytest.raises(DBAPIError, match="append-only"), trail.database.engine.begin() as c:
        c.execute(text(statement))
    assert verify_trail(trail.store).intact


def test_hash_rule_is_sha256_of_prev_hash_and_body() -> None:
    """The documented rule: hash = sha256(prev_hash + body), hex, over UTF-8."""
    entry = make_entry(
        chain_id=7,
        seq=1,
        prev_hash=ZERO_HASH,
        recorded_at=AT,
        actor="é",
        kind="k",
        reference="R",
        payload={"montant": "10.00"},
    )
    assert entry.hash == hashlib.sha256((ZERO_HASH + entry.body).encode("utf-8")).hexdigest()
    assert entry.hash == chain_hash(ZERO_HASH, entry.body)
    assert entry.body.startswith('{"actor":"é","at":')


def test_a_chain_moved_to_another_case_is_detected(database_url: str) -> None:
    """Two whole chains swapped between cases, heads rewritten to match: the bodies say so."""
    trail = build_trail(database_url)
    first, second = trail.case_ids[0], trail.case_ids[1]
    tamper(trail.database, "UPDATE audit_entries SET chain_id = -1 WHERE chain_id = :c", c=first)
    tamper(
        trail.database,
        "UPDATE audit_entries SET chain_id = :a WHERE chain_id = :b",
        a=first,
        b=second,
    )
    tamper(trail.database, "UPDATE audit_entries SET chain_id = :b WHERE chain_id = -1", b=second)
    found = problems(verify_trail(trail.store).findings)
    assert ("chain_moved", trail.references[0], 1) in found
    assert ("chain_moved", trail.references[1], 1) in found
