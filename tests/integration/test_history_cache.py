"""The per-case history cache: extended with new entries only, and never ahead of the case."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.actors import Actor
from engine.errors import ControlsFailed
from engine.facts import case_entry
from engine.service import Engine
from engine.snapshots import HistoryCache
from tests.integration.sample_workflow import make_engine, write_library

AGENT = Actor("marie", frozenset({"acheteur"}))


@pytest.fixture
def engine(database_url: str, tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(database_url, write_library(tmp_path / "library"))
    yield engine
    engine.close()


def history_kinds(engine: Engine, cache: HistoryCache, reference: str) -> list[str]:
    with engine.store.read() as tx:
        case = tx.case_by_reference(reference)
        assert case is not None
        return [entry.kind for entry in cache.entries(tx, case.id, case.head_seq)]


def test_the_cache_follows_the_chain_and_reads_only_new_entries(engine: Engine) -> None:
    cache = HistoryCache(capacity=2)
    reference = engine.open_case("achat", org="AMP", actor=AGENT).reference
    assert history_kinds(engine, cache, reference) == ["case.opened"]
    engine.set_values(reference, {"objet": "Papier", "montant": "10"}, AGENT)
    engine.fire(reference, "valider", AGENT)
    assert history_kinds(engine, cache, reference) == [
        "case.opened",
        "case.data_set",
        "case.transition",
    ]
    assert [entry.kind for entry in engine.history(reference)] == [
        "case.opened",
        "case.data_set",
        "case.transition",
    ]


def test_the_cache_never_returns_entries_beyond_the_head_it_is_given(engine: Engine) -> None:
    cache = HistoryCache()
    reference = engine.open_case("achat", org="AMP", actor=AGENT).reference
    engine.set_values(reference, {"objet": "Papier"}, AGENT)
    with engine.store.read() as tx:
        case = tx.case_by_reference(reference)
        assert case is not None
        assert [e.seq for e in cache.entries(tx, case.id, case.head_seq)] == [1, 2]
        assert [e.seq for e in cache.entries(tx, case.id, 1)] == [1]  # e.g. another database


def test_the_least_recently_used_case_is_forgotten(engine: Engine) -> None:
    cache = HistoryCache(capacity=1)
    first = engine.open_case("achat", org="AMP", actor=AGENT).reference
    second = engine.open_case("achat", org="AMP", actor=AGENT).reference
    history_kinds(engine, cache, first)
    history_kinds(engine, cache, second)
    assert list(cache._known) == [engine.show(second).row.id]
    assert history_kinds(engine, cache, first) == ["case.opened"]


def test_a_document_attached_by_another_engine_is_seen(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    """Two engines (two processes in production) on one database: caches never hide a fact."""
    chef = Actor("paul", frozenset({"responsable"}))
    values = {"objet": "Papier", "montant": "10", "date_besoin": "2026-03-10"}
    reference = engine.open_case("achat", org="AMP", actor=AGENT, values=values).reference
    engine.fire(reference, "valider", AGENT)
    with pytest.raises(ControlsFailed, match="pièce"):  # reads (and caches) the history
        engine.fire(reference, "commander", chef)
    other = make_engine(database_url, write_library(tmp_path / "other"))
    try:
        devis = tmp_path / "devis.pdf"
        devis.write_bytes(b"%PDF devis")
        other.attach(reference, devis, "devis", AGENT, signed_by="Le fournisseur")
    finally:
        other.close()
    outcome = engine.fire(reference, "commander", chef)
    assert outcome.results[0].passed
    assert engine.show(reference).documents[0].signed_by == "Le fournisseur"


class _Rollback(Exception):
    """Raised to roll a transaction back."""


def test_a_snapshot_inside_a_writing_transaction_leaves_the_shared_cache_alone(
    engine: Engine,
) -> None:
    """The scheduler's escalation reads a history its own transaction extended: if that
    transaction rolls back, the shared cache must not keep the entry that never was."""
    reference = engine.open_case("achat", org="AMP", actor=AGENT).reference
    seen: list[str] = []

    def write_then_read() -> int:
        with engine.store.write() as tx:
            case = tx.case_by_reference(reference)
            assert case is not None
            entry = case_entry(case, "2026-03-02T10:00:00.000000Z", AGENT, "test.fact", {})
            tx.append_entry(entry)
            tx.move_case_head(case, entry)
            moved = tx.case_by_reference(reference)
            assert moved is not None
            compiled = engine._compiled.get(tx, moved.workflow_id, moved.workflow_version)
            snapshot = engine._snapshot(tx, moved, compiled, AGENT, uncommitted=True)
            seen.extend(e.kind for e in snapshot.history)
            raise _Rollback(moved.id)

    with pytest.raises(_Rollback) as rolled:
        write_then_read()
    assert seen == ["case.opened", "test.fact"]
    assert rolled.value.args[0] not in engine._history._known
    assert [e.kind for e in engine.history(reference)] == ["case.opened"]
