"""The per-case history cache: extended with new entries only, and never ahead of the case."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.actors import Actor
from engine.errors import ControlsFailed
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
