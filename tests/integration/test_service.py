"""The Engine service end to end, on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from engine.actors import Actor
from engine.clock import FrozenClock
from engine.errors import (
    CaseClosed,
    ConcurrentModification,
    ControlsFailed,
    DefinitionConflict,
    InvalidValue,
    NotAuthorized,
    TriggerNotAllowed,
    UnknownCase,
    UnknownWorkflow,
)
from engine.service import Engine
from storage.audit import JOURNAL_CHAIN
from tests.integration.sample_workflow import ACHAT_V1, START, make_engine, write_library

AGENT = Actor("marie", frozenset({"acheteur"}))
CHEF = Actor("paul", frozenset({"responsable"}))


@pytest.fixture
def library(tmp_path: Path) -> Path:
    return write_library(tmp_path / "library")


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
def engine(database_url: str, library: Path, clock: FrozenClock) -> Iterator[Engine]:
    engine = make_engine(database_url, library, clock)
    yield engine
    engine.close()


def kinds(engine: Engine, reference: str) -> list[str]:
    return [entry.kind for entry in engine.history(reference)]


def journal(engine: Engine) -> list[str]:
    with engine.store.read() as tx:
        return [entry.kind for entry in tx.entries_of_chain(JOURNAL_CHAIN)]


def test_opening_gives_readable_sequential_references(engine: Engine) -> None:
    """References read ORG-YEAR-CODE-NNNN and count per organisation, year and procedure."""
    first = engine.open_case("achat", org="AMP", actor=AGENT).reference
    second = engine.open_case("achat", org="AMP", actor=AGENT).reference
    other = engine.open_case("achat", org="CD13", actor=AGENT).reference
    assert (first, second, other) == (
        "AMP-2026-ACH-0001",
        "AMP-2026-ACH-0002",
        "CD13-2026-ACH-0001",
    )


def test_open_records_data_version_and_initial_state(engine: Engine) -> None:
    """A new case is in the initial state, on version 1 of its definition, with typed data."""
    view = engine.open_case(
        "achat",
        org="AMP",
        actor=AGENT,
        values={
            "objet": "Papier",
            "montant": "1 234,50",
            "urgent": "oui",
            "lots": "papier, enveloppes",
            "date_besoin": "15/03/2026",
        },
    )
    assert view.row.state == "brouillon"
    assert view.row.workflow_version == 1
    assert view.data == {
        "objet": "Papier",
        "montant": "1234.50",
        "urgent": True,
        "lots": ["papier", "enveloppes"],
        "date_besoin": "2026-03-15",
    }
    history = engine.history(view.reference)
    assert [e.kind for e in history] == ["case.opened"]
    assert history[0].recorded_at == "2026-03-02T09:00:00.000000Z"
    assert history[0].payload()["data"]["montant"] == "1234.50"


def test_invalid_value_refuses_the_opening_and_records_the_refusal(engine: Engine) -> None:
    """A bad value opens nothing; the refusal is the only thing written (in the journal)."""
    with pytest.raises(InvalidValue, match="montant"):
        engine.open_case("achat", org="AMP", actor=AGENT, values={"montant": "beaucoup"})
    assert engine.list_cases() == []
    assert journal(engine)[-1] == "command.refused"


def test_unknown_workflow_is_refused(engine: Engine) -> None:
    """Opening an unknown procedure names the procedures that exist."""
    with pytest.raises(UnknownWorkflow, match="achat"):
        engine.open_case("inconnue", org="AMP", actor=AGENT)


def test_set_values_bumps_the_version_and_keeps_previous_values(engine: Engine) -> None:
    """Setting data records the new and the previous values; an empty text clears a field."""
    ref = engine.open_case("achat", org="AMP", actor=AGENT, values={"objet": "A"}).reference
    view = engine.set_values(ref, {"objet": "B", "offres": "3"}, AGENT)
    assert view.row.version == 2
    assert view.data == {"objet": "B", "offres": 3}
    entry = engine.history(ref)[-1]
    assert entry.kind == "case.data_set"
    assert entry.payload() == {
        "values": {"objet": "B", "offres": 3},
        "previous": {"objet": "A", "offres": None},
    }
    assert "objet" not in engine.set_values(ref, {"objet": ""}, AGENT).data


def test_unknown_field_is_refused_and_nothing_changes(engine: Engine) -> None:
    """A field the procedure does not have is refused; the case is unchanged but for the refusal."""
    ref = engine.open_case("achat", org="AMP", actor=AGENT).reference
    before = engine.show(ref).row
    with pytest.raises(InvalidValue, match="couleur"):
        engine.set_values(ref, {"couleur": "bleu"}, AGENT)
    after = engine.show(ref).row
    assert (after.version, after.data, after.state) == (before.version, before.data, before.state)
    assert kinds(engine, ref) == ["case.opened", "command.refused"]


def test_attach_fingerprints_the_file_and_leaves_it_in_place(
    engine: Engine, tmp_path: Path
) -> None:
    """A document is recorded with name, type, size and SHA-256; the file is not moved."""
    ref = engine.open_case("achat", org="AMP", actor=AGENT).reference
    devis = tmp_path / "devis.pdf"
    devis.write_bytes(b"%PDF devis")
    document = engine.attach(ref, devis, "devis", AGENT)
    assert (document.name, document.doc_type, document.size) == ("devis.pdf", "devis", 10)
    assert document.sha256 == hashlib.sha256(b"%PDF devis").hexdigest()
    assert devis.exists()
    assert engine.show(ref).documents[0].sha256 == document.sha256
    assert kinds(engine, ref)[-1] == "case.document_attached"


def test_attach_of_a_missing_file_is_refused(engine: Engine, tmp_path: Path) -> None:
    """A missing file is refused with its path."""
    ref = engine.open_case("achat", org="AMP", actor=AGENT).reference
    with pytest.raises(InvalidValue, match="introuvable"):
        engine.attach(ref, tmp_path / "absent.pdf", "devis", AGENT)


def test_fire_walks_the_procedure_and_records_every_control(
    engine: Engine, clock: FrozenClock, tmp_path: Path
) -> None:
    """A step passes when roles and blocking controls allow it; results are in the trail."""
    ref = engine.open_case(
        "achat", org="AMP", actor=AGENT, values={"objet": "Papier", "montant": "500"}
    ).reference
    clock.advance(timedelta(days=1))
    outcome = engine.fire(ref, "valider", AGENT)
    assert (outcome.from_state, outcome.to_state, outcome.version) == ("brouillon", "valide", 2)
    assert [r.passed for r in outcome.results] == [True, False]  # date_besoin: non-blocking
    entry = engine.history(ref)[-1]
    assert entry.kind == "case.transition"
    assert entry.recorded_at.startswith("2026-03-03")
    assert [c["passed"] for c in entry.payload()["controls"]] == [True, False]
    devis = tmp_path / "devis.pdf"
    devis.write_bytes(b"devis")
    engine.attach(ref, devis, "devis", AGENT)
    engine.fire(ref, "commander", CHEF)
    engine.fire(ref, "clore", AGENT)
    view = engine.show(ref)
    assert view.row.state == "clos"
    assert view.row.closed_at is not None
    assert view.steps == ()


def test_blocking_control_refuses_with_every_result(engine: Engine) -> None:
    """A failing blocking control refuses the step; all results are recorded with the refusal."""
    ref = engine.open_case("achat", org="AMP", actor=AGENT).reference
    with pytest.raises(ControlsFailed, match="objet, montant"):
        engine.fire(ref, "valider", AGENT)
    view = engine.show(ref)
    assert (view.row.state, view.row.version) == ("brouillon", 1)
    refusal = engine.history(ref)[-1]
    assert refusal.kind == "command.refused"
    payload = refusal.payload()
    assert payload["code"] == "controles_non_satisfaits"
    assert [c["passed"] for c in payload["controls"]] == [False, False]


def test_wrong_state_and_wrong_role_are_refused_and_recorded(engine: Engine) -> None:
    """A trigger not allowed from the state, or by the actor's roles, is refused and recorded."""
    ref = engine.open_case("achat", org="AMP", actor=AGENT).reference
    with pytest.raises(TriggerNotAllowed, match="Brouillon"):
        engine.fire(ref, "commander", CHEF)
    with pytest.raises(TriggerNotAllowed):
        engine.fire(ref, "envoler", CHEF)
    with pytest.raises(NotAuthorized, match="responsable"):
        engine.fire(ref, "abandonner", AGENT)
    assert kinds(engine, ref) == ["case.opened"] + ["command.refused"] * 3
    assert engine.show(ref).row.version == 1
    assert engine.verify(ref).intact


def test_closed_case_accepts_nothing(engine: Engine) -> None:
    """A case in a final state refuses steps and data changes."""
    ref = engine.open_case("achat", org="AMP", actor=AGENT).reference
    engine.fire(ref, "abandonner", CHEF)
    with pytest.raises(CaseClosed):
        engine.fire(ref, "valider", AGENT)
    with pytest.raises(CaseClosed):
        engine.set_values(ref, {"objet": "x"}, AGENT)


def test_show_previews_failing_controls_without_recording(engine: Engine) -> None:
    """show lists the steps available now and which controls would fail; it writes nothing."""
    ref = engine.open_case("achat", org="AMP", actor=AGENT, values={"objet": "x"}).reference
    view = engine.show(ref, AGENT)
    steps = {s.trigger: s for s in view.steps}
    assert set(steps) == {"valider", "abandonner"}
    assert [r.control for r in steps["valider"].failing] == ["required_fields", "required_fields"]
    assert steps["valider"].roles_ok
    assert not steps["abandonner"].roles_ok
    assert kinds(engine, ref) == ["case.opened"]


def test_stale_version_is_a_conflict(engine: Engine) -> None:
    """A command made against an older version of the case is refused as a conflict."""
    ref = engine.open_case("achat", org="AMP", actor=AGENT, values={"objet": "x"}).reference
    engine.set_values(ref, {"montant": "10"}, AGENT, expected_version=1)
    with pytest.raises(ConcurrentModification):
        engine.set_values(ref, {"montant": "20"}, AGENT, expected_version=1)
    with pytest.raises(ConcurrentModification):
        engine.fire(ref, "valider", AGENT, expected_version=1)
    assert engine.show(ref).data["montant"] == "10.00"
    assert kinds(engine, ref)[-2:] == ["command.refused", "command.refused"]


def test_unknown_reference(engine: Engine) -> None:
    """An unknown reference is named in the refusal."""
    with pytest.raises(UnknownCase, match="AMP-2026-ACH-9999"):
        engine.fire("AMP-2026-ACH-9999", "valider", AGENT)


def test_list_filters(engine: Engine) -> None:
    """Cases can be listed by procedure, state and organisation."""
    a = engine.open_case("achat", org="AMP", actor=AGENT).reference
    engine.open_case("achat", org="CD13", actor=AGENT)
    engine.fire(a, "abandonner", CHEF)
    assert [r.reference for r in engine.list_cases(state="abandonne")] == [a]
    assert len(engine.list_cases(org="CD13")) == 1
    assert len(engine.list_cases(workflow="achat")) == 2
    assert engine.list_cases(workflow="autre") == []


def test_running_case_stays_on_its_version(
    database_url: str, tmp_path: Path, clock: FrozenClock
) -> None:
    """A case opened on v1 keeps v1's rules after v2 is published; new cases get v2."""
    v1 = write_library(tmp_path / "v1")
    engine = make_engine(database_url, v1, clock)
    old = engine.open_case("achat", org="AMP", actor=AGENT).reference
    engine.close()
    v2_text = (
        ACHAT_V1.replace("version: 1", "version: 2")
        .replace("roles: [responsable]\n", "roles: [acheteur, responsable]\n", 1)
        .replace(
            "    roles: [acheteur, responsable]\n    controls:",
            "    roles: [acheteur]\n    controls:",
            1,
        )
    )
    v2 = write_library(tmp_path / "v2", v2_text)
    write_library(v2, ACHAT_V1, "achat-v1.yaml")
    engine = make_engine(database_url, v2, clock)
    new = engine.open_case("achat", org="AMP", actor=AGENT)
    assert new.row.workflow_version == 2
    assert engine.show(old).row.workflow_version == 1
    with pytest.raises(NotAuthorized):  # v2 reserves "valider" to acheteur; v1 allows responsable
        engine.fire(new.reference, "valider", CHEF)
    engine.set_values(old, {"objet": "x", "montant": "1"}, AGENT)
    assert engine.fire(old, "valider", CHEF).to_state == "valide"
    engine.close()


def test_changed_content_under_a_registered_version_is_refused(
    database_url: str, tmp_path: Path, clock: FrozenClock
) -> None:
    """Registering other content under an existing id+version is refused and recorded."""
    engine = make_engine(database_url, write_library(tmp_path / "a"), clock)
    engine.open_case("achat", org="AMP", actor=AGENT)
    engine.close()
    changed = ACHAT_V1.replace("title: Achat de test", "title: Achat modifié")
    engine = make_engine(database_url, write_library(tmp_path / "b", changed), clock)
    with pytest.raises(DefinitionConflict, match="version 1"):
        engine.open_case("achat", org="AMP", actor=AGENT)
    assert journal(engine) == ["workflow.registered", "command.refused", "command.refused"]
    assert len(engine.list_cases()) == 1
    engine.close()


def test_trail_verifies_and_checkpoint_counts_chains(engine: Engine) -> None:
    """After a few commands the whole trail is intact and a checkpoint covers every chain."""
    for _ in range(3):
        ref = engine.open_case("achat", org="AMP", actor=AGENT).reference
        engine.fire(ref, "abandonner", CHEF)
    checkpoint = engine.checkpoint()
    assert checkpoint.chains == 4  # three cases and the journal
    report = engine.verify()
    assert report.intact, report.findings
    assert (report.entries, report.chains, report.checkpoints) == (7, 4, 1)


def test_checkpoints_are_taken_periodically(database_url: str, library: Path) -> None:
    """A write command seals the trail once facts older than the interval are unsealed."""
    clock = FrozenClock(START)
    engine = make_engine(database_url, library, clock, checkpoint_interval=timedelta(hours=1))
    ref = engine.open_case("achat", org="AMP", actor=AGENT).reference
    clock.advance(timedelta(minutes=59))
    engine.set_values(ref, {"objet": "a"}, AGENT)
    assert engine.verify().checkpoints == 0
    clock.advance(timedelta(minutes=2))
    engine.set_values(ref, {"objet": "b"}, AGENT)
    assert engine.verify().checkpoints == 1
    clock.advance(timedelta(minutes=30))
    engine.set_values(ref, {"objet": "c"}, AGENT)
    assert engine.verify().checkpoints == 1
    clock.advance(timedelta(minutes=31))
    engine.fire(ref, "abandonner", CHEF)
    report = engine.verify()
    assert (report.checkpoints, report.intact) == (2, True)
    engine.close()


def test_verification_during_writes_reports_no_false_alteration(engine: Engine) -> None:
    """Verifying while another thread commits never reports a false alteration."""
    refs = [engine.open_case("achat", org="AMP", actor=AGENT).reference for _ in range(3)]
    stop = threading.Event()
    written: list[int] = []

    def write() -> None:
        while not stop.is_set():
            engine.set_values(refs[len(written) % 3], {"offres": str(len(written))}, AGENT)
            written.append(1)

    writer = threading.Thread(target=write)
    writer.start()
    try:
        reports = [engine.verify() for _ in range(30)]
    finally:
        stop.set()
        writer.join()
    assert all(report.intact for report in reports), [r.findings for r in reports if not r.intact]
    assert written  # the writer committed while verification ran


def test_a_snapshot_does_not_see_commits_made_after_it_began(engine: Engine) -> None:
    """Verification's read transaction sees one state: a later commit elsewhere stays unseen."""
    ref = engine.open_case("achat", org="AMP", actor=AGENT).reference
    count = "SELECT count(*) FROM audit_entries"
    with engine.store.snapshot() as tx:
        before = tx.execute(count).fetchone()[0]
        writer = threading.Thread(target=engine.set_values, args=(ref, {"offres": "1"}, AGENT))
        writer.start()
        writer.join()
        assert tx.execute(count).fetchone()[0] == before
    with engine.store.read() as tx:
        assert tx.execute(count).fetchone()[0] == before + 1
