"""Derogations and the non-conformity register, end to end on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.actors import Actor
from engine.errors import (
    ControlsFailed,
    DerogationRefused,
    InvalidValue,
    NotAuthorized,
    UnknownCase,
)
from engine.nonconformity import NC_WORKFLOW
from engine.service import Engine
from tests.integration.sample_workflow import ACHAT_V1, make_engine, write_library

AGENT = Actor("marie", frozenset({"acheteur"}))
CHEF = Actor("paul", frozenset({"responsable"}))
DIRECTRICE = Actor("claire", frozenset({"responsable", "directeur"}))
QUALITE = Actor("quentin", frozenset({"responsable_qualite"}))
AUDITRICE = Actor("alice", frozenset({"responsable_qualite"}))
PILOTE = Actor("pierre", frozenset({"pilote_processus"}))

WITH_AUTHORITY = ACHAT_V1.replace("code: ACH\n", "code: ACH\nderogation_roles: [directeur]\n")
JUSTIFICATION = "Urgence impérieuse : le devis arrive par courrier, commande validée par la DG."


@pytest.fixture
def library(tmp_path: Path) -> Path:
    return write_library(tmp_path / "library", WITH_AUTHORITY)


@pytest.fixture
def engine(database_url: str, library: Path) -> Iterator[Engine]:
    engine = make_engine(database_url, library)
    yield engine
    engine.close()


def validated_case(engine: Engine, **values: str) -> str:
    """A case moved to « Validé », with the non-blocking date_besoin set unless told."""
    data = {"objet": "Papier", "montant": "1200", "date_besoin": "2026-03-10", **values}
    data = {name: value for name, value in data.items() if value != ""}
    reference = engine.open_case("achat", org="AMP", actor=AGENT, values=data).reference
    engine.fire(reference, "valider", AGENT)
    return reference


def fact(engine: Engine, reference: str, index: int = -1) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(engine.history(reference)[index].body)
    return body


def database_state(engine: Engine) -> dict[str, Any]:
    """Everything but the audit trail and the chain heads that refusals move."""
    state: dict[str, Any] = {}
    with engine.store.read() as tx:
        for table, order in (
            ("cases", "id"),
            ("nonconformities", "case_id"),
            ("reference_counters", "org, year, code"),
            ("documents", "id"),
            ("workflow_definitions", "workflow_id, version"),
        ):
            rows = tx.execute(f"SELECT * FROM {table} ORDER BY {order}").fetchall()
            if table == "cases":
                # columns 0..12 of CaseRow; drop head_seq (8) and head_hash (9)
                rows = [tuple(v for i, v in enumerate(row) if i not in (8, 9)) for row in rows]
            state[table] = [tuple(row) for row in rows]
    return state


# ------------------------------------------------------------------ raised by a step


def test_a_failing_non_blocking_control_raises_a_minor_nonconformity(engine: Engine) -> None:
    reference = engine.open_case(
        "achat", org="AMP", actor=AGENT, values={"objet": "Papier", "montant": "1200"}
    ).reference
    outcome = engine.fire(reference, "valider", AGENT)
    assert outcome.to_state == "valide"
    assert len(outcome.nonconformities) == 1
    nc_ref = outcome.nonconformities[0]
    assert nc_ref == "AMP-2026-NC-0001"
    step = fact(engine, reference)
    assert step["kind"] == "case.transition"
    assert step["payload"]["nonconformities"] == [nc_ref]
    view = engine.nonconformity(nc_ref)
    assert view.case.row.state == "detectee"
    assert view.case.row.workflow_id == NC_WORKFLOW
    assert view.origin.source_reference == reference
    assert (view.origin.trigger, view.origin.control) == ("valider", "required_fields")
    assert (view.origin.severity, view.origin.origin, view.origin.nature) == (
        "minor",
        "control",
        "nonconformity",
    )
    assert view.case.data["dossier"] == reference
    assert view.case.data["gravite"] == "minor"
    assert "date_besoin" in view.case.data["constat"]
    opened = fact(engine, nc_ref, 0)
    assert opened["payload"]["raised_by"] == {"reference": reference, "seq": 2}
    assert fact(engine, reference, 1)["kind"] == "case.transition"
    assert engine.verify().intact


def test_a_passing_step_raises_nothing(engine: Engine) -> None:
    reference = validated_case(engine)
    assert "nonconformities" not in fact(engine, reference)["payload"]
    assert engine.nonconformities() == []


# ------------------------------------------------------------------ derogations


def test_a_derogation_with_authority_passes_and_raises_a_concession(engine: Engine) -> None:
    reference = validated_case(engine)
    with pytest.raises(ControlsFailed):
        engine.fire(reference, "commander", DIRECTRICE)
    outcome = engine.fire(reference, "commander", DIRECTRICE, derogation=JUSTIFICATION)
    assert outcome.derogated
    assert outcome.to_state == "commande"
    (nc_ref,) = outcome.nonconformities
    payload = fact(engine, reference)["payload"]
    assert payload["derogation"] == {
        "authorised_by": "claire",
        "justification": JUSTIFICATION,
        "controls": ["required_documents"],
    }
    assert payload["nonconformities"] == [nc_ref]
    view = engine.nonconformity(nc_ref)
    assert (view.origin.nature, view.origin.severity) == ("concession", "major")
    assert view.case.data["autorise_par"] == "claire"
    assert view.case.data["justification"] == JUSTIFICATION
    assert engine.nonconformities(nature="concession")[0].reference == nc_ref


def test_a_derogation_is_not_needed_when_every_control_holds(
    engine: Engine, tmp_path: Path
) -> None:
    reference = validated_case(engine)
    devis = tmp_path / "devis.pdf"
    devis.write_bytes(b"%PDF devis")
    engine.attach(reference, devis, "devis", AGENT)
    outcome = engine.fire(reference, "commander", DIRECTRICE, derogation=JUSTIFICATION)
    assert not outcome.derogated
    assert outcome.nonconformities == ()
    assert "derogation" not in fact(engine, reference)["payload"]


@pytest.mark.parametrize(
    ("actor", "justification", "error", "says"),
    [
        (CHEF, JUSTIFICATION, DerogationRefused, "ne détient pas l'autorité"),
        (DIRECTRICE, "   ", DerogationRefused, "justification écrite est obligatoire"),
        (DIRECTRICE, "urgent", DerogationRefused, "au moins 10 caractères"),
        (Actor("zoe", frozenset({"directeur"})), JUSTIFICATION, NotAuthorized, "réservé"),
    ],
    ids=["without-authority", "blank-justification", "short-justification", "without-role"],
)
def test_a_refused_derogation_changes_nothing_but_the_trail(
    engine: Engine,
    actor: Actor,
    justification: str,
    error: type[Exception],
    says: str,
) -> None:
    reference = validated_case(engine)
    before = database_state(engine)
    entries = len(engine.history(reference))
    with pytest.raises(error, match=says):
        engine.fire(reference, "commander", actor, derogation=justification)
    assert database_state(engine) == before
    history = engine.history(reference)
    assert len(history) == entries + 1
    refusal = fact(engine, reference)
    assert refusal["kind"] == "command.refused"
    assert refusal["actor"] == actor.user
    assert [c["control"] for c in refusal["payload"]["controls"]] == ["required_documents"]
    assert engine.verify().intact


def test_a_workflow_without_authority_refuses_every_derogation(
    database_url: str, tmp_path: Path
) -> None:
    engine = make_engine(database_url, write_library(tmp_path / "plain"))
    try:
        reference = validated_case(engine)
        before = database_state(engine)
        with pytest.raises(DerogationRefused, match="ne prévoit aucune dérogation"):
            engine.fire(reference, "commander", DIRECTRICE, derogation=JUSTIFICATION)
        assert database_state(engine) == before
    finally:
        engine.close()


# ------------------------------------------------------------------ the lifecycle


def nc_of(engine: Engine) -> str:
    reference = validated_case(engine, date_besoin="")
    (nc_ref,) = [row.reference for row in engine.nonconformities(source=reference)]
    return nc_ref


def walk_to_done_action(engine: Engine, nc_ref: str, attach: Callable[[str], None]) -> None:
    engine.fire(nc_ref, "enregistrer", QUALITE)
    engine.set_values(
        nc_ref, {"correction": "Date du besoin saisie", "date_correction": "2026-03-03"}, PILOTE
    )
    engine.fire(nc_ref, "corriger", PILOTE)
    engine.set_values(nc_ref, {"cause_racine": "Champ absent du formulaire"}, PILOTE)
    engine.fire(nc_ref, "analyser_cause", PILOTE)
    engine.set_values(
        nc_ref,
        {
            "action_corrective": "Rendre le champ obligatoire dans le formulaire",
            "responsable_action": "pierre",
            "echeance_action": "2026-04-30",
        },
        PILOTE,
    )
    engine.fire(nc_ref, "planifier_action", PILOTE)
    engine.set_values(nc_ref, {"date_realisation": "2026-04-15"}, PILOTE)
    attach(nc_ref)
    engine.fire(nc_ref, "realiser_action", PILOTE)


@pytest.fixture
def attach_proof(engine: Engine, tmp_path: Path) -> Callable[[str], None]:
    def attach(nc_ref: str) -> None:
        proof = tmp_path / "formulaire-v2.pdf"
        proof.write_bytes(b"%PDF formulaire")
        engine.attach(nc_ref, proof, "preuve_action", PILOTE)

    return attach


def test_the_whole_lifecycle_ends_closed_after_an_effective_action(
    engine: Engine, attach_proof: Callable[[str], None]
) -> None:
    nc_ref = nc_of(engine)
    walk_to_done_action(engine, nc_ref, attach_proof)
    engine.set_values(
        nc_ref,
        {
            "critere_efficacite": "Aucun dossier sans date du besoin sur 3 mois",
            "date_verification": "2026-07-15",
            "resultat_verification": "efficace",
        },
        AUDITRICE,
    )
    with pytest.raises(NotAuthorized):
        engine.fire(nc_ref, "verifier_efficacite", Actor("pierre", frozenset({"pilote_processus"})))
    owner = Actor("pierre", frozenset({"responsable_qualite"}))
    with pytest.raises(ControlsFailed, match="une autre personne"):
        engine.fire(nc_ref, "verifier_efficacite", owner)
    outcome = engine.fire(nc_ref, "verifier_efficacite", AUDITRICE)
    assert outcome.to_state == "close"
    assert engine.nonconformities(state="close")[0].reference == nc_ref
    assert engine.nonconformity(nc_ref).case.row.closed_at is not None
    assert engine.verify().intact


def test_a_root_cause_comes_before_an_action_plan(engine: Engine) -> None:
    nc_ref = nc_of(engine)
    engine.fire(nc_ref, "enregistrer", QUALITE)
    engine.set_values(nc_ref, {"correction": "Corrigé", "date_correction": "2026-03-03"}, PILOTE)
    engine.fire(nc_ref, "corriger", PILOTE)
    with pytest.raises(ControlsFailed, match="cause racine"):
        engine.fire(nc_ref, "analyser_cause", PILOTE)
    engine.set_values(
        nc_ref,
        {
            "action_corrective": "Former",
            "responsable_action": "pierre",
            "echeance_action": "2026-04-30",
        },
        PILOTE,
    )
    with pytest.raises(ControlsFailed, match="cause racine"):
        engine.fire(nc_ref, "analyser_cause", PILOTE)


def test_an_ineffective_action_reopens_and_asks_for_a_new_analysis(
    engine: Engine, attach_proof: Callable[[str], None]
) -> None:
    nc_ref = nc_of(engine)
    walk_to_done_action(engine, nc_ref, attach_proof)
    engine.set_values(
        nc_ref,
        {
            "critere_efficacite": "Aucun dossier sans date du besoin sur 3 mois",
            "date_verification": "2026-07-15",
            "resultat_verification": "inefficace",
        },
        AUDITRICE,
    )
    with pytest.raises(ControlsFailed, match="rouvrez"):
        engine.fire(nc_ref, "verifier_efficacite", AUDITRICE)
    assert engine.fire(nc_ref, "constater_inefficacite", AUDITRICE).to_state == "rouverte"
    with pytest.raises(ControlsFailed, match="analysée à nouveau"):
        engine.fire(nc_ref, "analyser_cause", PILOTE)
    engine.set_values(nc_ref, {"cause_racine": "Les agents contournent le formulaire"}, PILOTE)
    engine.fire(nc_ref, "analyser_cause", PILOTE)
    with pytest.raises(ControlsFailed, match="nouvelle action"):
        engine.fire(nc_ref, "planifier_action", PILOTE)
    engine.set_values(
        nc_ref,
        {"action_corrective": "Contrôle bloquant", "echeance_action": "2026-09-30"},
        PILOTE,
    )
    assert engine.fire(nc_ref, "planifier_action", PILOTE).to_state == "action_planifiee"


def test_only_an_observation_is_classed_without_action(engine: Engine) -> None:
    nc_ref = nc_of(engine)
    engine.fire(nc_ref, "enregistrer", QUALITE)
    engine.set_values(nc_ref, {"motif_classement": "Sans incidence"}, QUALITE)
    with pytest.raises(ControlsFailed, match="Seule une observation"):
        engine.fire(nc_ref, "classer_sans_action", QUALITE)
    reference = validated_case(engine)
    observation = engine.open_nonconformity(
        reference,
        clause="7.5.3",
        severity="observation",
        finding="Nommage des pièces à harmoniser entre services",
        origin="internal_audit",
        actor=AUDITRICE,
    ).reference
    engine.fire(observation, "enregistrer", QUALITE)
    engine.set_values(observation, {"motif_classement": "Piste d'amélioration notée"}, QUALITE)
    assert engine.fire(observation, "classer_sans_action", QUALITE).to_state == "classee"


def test_the_origin_of_a_nonconformity_never_changes(engine: Engine) -> None:
    nc_ref = nc_of(engine)
    before = database_state(engine)
    with pytest.raises(InvalidValue, match="fixé à l'ouverture"):
        engine.set_values(nc_ref, {"gravite": "observation"}, QUALITE)
    assert database_state(engine) == before


def test_a_nonconformity_is_not_opened_as_an_ordinary_case(engine: Engine) -> None:
    with pytest.raises(InvalidValue, match="jalon nc open"):
        engine.open_case(NC_WORKFLOW, org="AMP", actor=QUALITE)


# ------------------------------------------------------------------ by hand, and similar ones


def test_an_auditor_opens_one_by_hand_even_on_a_closed_case(engine: Engine) -> None:
    reference = validated_case(engine)
    engine.fire(reference, "abandonner", CHEF)
    version = engine.show(reference).row.version
    view = engine.open_nonconformity(
        reference,
        clause="8.4.1",
        severity="majeure",
        finding="Abandon sans décision motivée au dossier",
        origin="internal_audit",
        actor=AUDITRICE,
    )
    assert view.row.state == "detectee"
    source = engine.show(reference)
    assert source.row.version == version
    assert source.row.state == "abandonne"
    raised = fact(engine, reference)
    assert raised["kind"] == "case.nonconformity_raised"
    assert raised["payload"]["nonconformity"] == view.reference
    row = engine.nonconformity(view.reference).origin
    assert (row.clause, row.severity, row.origin, row.control) == (
        "8.4.1",
        "major",
        "internal_audit",
        None,
    )
    assert engine.verify().intact


@pytest.mark.parametrize(
    ("options", "says"),
    [
        ({"clause": "huit", "severity": "minor"}, "Clause ISO 9001"),
        ({"clause": "8.5.1", "severity": "grave"}, "Gravité « grave »"),
        ({"clause": "8.5.1", "severity": "minor", "finding": "court"}, "constat est obligatoire"),
        ({"clause": "8.5.1", "severity": "minor", "origin": "rumeur"}, "Origine « rumeur »"),
    ],
    ids=["clause", "severity", "finding", "origin"],
)
def test_bad_input_opens_nothing(engine: Engine, options: dict[str, str], says: str) -> None:
    reference = validated_case(engine)
    before = database_state(engine)
    arguments = {"finding": "Un constat suffisamment précis", **options}
    with pytest.raises(InvalidValue, match=says):
        engine.open_nonconformity(reference, actor=AUDITRICE, **arguments)
    assert database_state(engine) == before
    assert fact(engine, reference)["kind"] == "command.refused"


def test_unknown_case_or_not_a_nonconformity(engine: Engine) -> None:
    with pytest.raises(UnknownCase):
        engine.open_nonconformity(
            "AMP-2026-ACH-9999",
            clause="8.5.1",
            severity="minor",
            finding="Un constat suffisamment précis",
            actor=AUDITRICE,
        )
    reference = validated_case(engine)
    with pytest.raises(UnknownCase, match="n'est pas une non-conformité"):
        engine.nonconformity(reference)


def test_similar_nonconformities_share_a_control_or_a_clause(engine: Engine) -> None:
    first = nc_of(engine)
    second = nc_of(engine)
    other_clause = engine.open_nonconformity(
        validated_case(engine),
        clause="9.2",
        severity="minor",
        finding="Audit interne non planifié",
        actor=AUDITRICE,
    ).reference
    similar = [row.reference for row in engine.nonconformity(first).similar]
    assert similar == [second]
    assert other_clause not in similar
    assert {row.reference for row in engine.nonconformities(control="required_fields")} == {
        first,
        second,
    }
    assert [row.reference for row in engine.nonconformities(clause="9.2")] == [other_clause]
    assert len(engine.nonconformities(workflow="achat", severity="minor")) == 3
