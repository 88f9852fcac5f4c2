"""Controls on people end to end: four-eyes, declarations and checklist, on both backends."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.actors import Actor
from engine.clock import FrozenClock
from engine.errors import CaseClosed, ControlsFailed, InvalidValue
from engine.service import Engine
from tests.integration.sample_workflow import START, make_engine, write_library

AGENT = Actor("marie", frozenset({"acheteur"}))
COLLEGUE = Actor("jeanne", frozenset({"acheteur"}))
CHEF = Actor("paul", frozenset({"responsable"}))

ANALYSE_V1 = """\
id: analyse
version: 1
title: Analyse des offres de test
owner: Direction de la commande publique
code: ANA
states:
  ouvert: {label: Ouvert, initial: true}
  redige: {label: Rapport rédigé}
  valide: {label: Rapport validé}
  attribue: {label: Attribué, final: true}
transitions:
  - trigger: rediger_rapport
    source: ouvert
    dest: redige
    label: Rédiger le rapport d'analyse
    roles: [acheteur]
  - trigger: valider_rapport
    source: redige
    dest: valide
    label: Valider le rapport d'analyse
    roles: [acheteur, responsable]
    controls:
      - control: four_eyes
        params: {not_actor_of: [rediger_rapport]}
  - trigger: attribuer
    source: valide
    dest: attribue
    label: Attribuer le marché
    roles: [responsable]
    controls:
      - control: conflict_declarations
        params:
          declaration: absence_conflit_interets
          steps: [rediger_rapport, valider_rapport]
          include_actor: true
      - control: checklist
        params:
          items:
            - {id: offres_analysees, label: Toutes les offres sont analysées}
            - {id: notes_motivees, label: Les notes sont motivées}
"""


@pytest.fixture
def engine(database_url: str, tmp_path: Path) -> Iterator[Engine]:
    library = write_library(tmp_path / "library", ANALYSE_V1, "analyse.yaml")
    engine = make_engine(database_url, library, FrozenClock(START))
    yield engine
    engine.close()


def validated_case(engine: Engine) -> str:
    """A case whose report was written by marie and validated by jeanne."""
    ref = engine.open_case("analyse", org="AMP", actor=AGENT).reference
    engine.fire(ref, "rediger_rapport", AGENT)
    engine.fire(ref, "valider_rapport", COLLEGUE)
    return ref


def test_four_eyes_refuses_the_author_and_records_every_result(engine: Engine) -> None:
    """Whoever wrote the report cannot validate it; the refusal carries the control result."""
    ref = engine.open_case("analyse", org="AMP", actor=AGENT).reference
    engine.fire(ref, "rediger_rapport", AGENT)
    with pytest.raises(ControlsFailed, match="marie a déjà franchi"):
        engine.fire(ref, "valider_rapport", AGENT)
    refusal = engine.history(ref)[-1]
    assert refusal.kind == "command.refused"
    (result,) = refusal.payload()["controls"]
    assert (result["control"], result["passed"], result["clause"]) == ("four_eyes", False, "5.3")
    assert "« rediger_rapport »" in result["reason"]
    outcome = engine.fire(ref, "valider_rapport", COLLEGUE)
    assert outcome.to_state == "valide"
    assert [r.passed for r in outcome.results] == [True]


def test_declarations_and_checklist_gate_the_award(engine: Engine) -> None:
    """The award needs every participant's declaration and every item ticked with evidence."""
    ref = validated_case(engine)
    view = engine.show(ref, CHEF)
    (step,) = view.steps
    assert [r.control for r in step.failing] == ["conflict_declarations", "checklist"]
    with pytest.raises(ControlsFailed):
        engine.fire(ref, "attribuer", CHEF)
    refusal = engine.history(ref)[-1].payload()
    reasons = {c["control"]: c["reason"] for c in refusal["controls"]}
    assert reasons["conflict_declarations"] == (
        "déclaration « absence_conflit_interets » manquante pour : marie, jeanne, paul"
    )
    assert reasons["checklist"].startswith("point(s) non coché(s) avec preuve : Toutes les")

    for actor in (AGENT, COLLEGUE, CHEF):
        engine.declare(ref, "absence_conflit_interets", actor, statement="Aucun lien.")
    engine.tick(ref, "offres_analysees", "Rapport d'analyse v2, p. 3", AGENT)
    engine.tick(ref, "notes_motivees", "Grille de notation signée", AGENT)
    view = engine.show(ref, CHEF)
    assert view.row.state == "valide"
    assert view.steps[0].failing == ()
    outcome = engine.fire(ref, "attribuer", CHEF)
    assert outcome.to_state == "attribue"
    assert all(r.passed for r in outcome.results)


def test_declare_and_tick_are_in_the_history(engine: Engine) -> None:
    """Each fact is an audit entry of its own: same state, version bumped."""
    ref = engine.open_case("analyse", org="AMP", actor=AGENT).reference
    view = engine.declare(ref, "absence_conflit_interets", AGENT)
    assert (view.row.state, view.row.version) == ("ouvert", 2)
    view = engine.tick(ref, "offres_analysees", " PV du 4 mai ", AGENT, expected_version=2)
    assert view.row.version == 3
    declaration, tick = engine.history(ref)[-2:]
    assert declaration.kind == "case.declaration"
    assert declaration.payload() == {"declaration": "absence_conflit_interets", "statement": None}
    assert tick.kind == "case.checklist_ticked"
    assert tick.payload() == {"item": "offres_analysees", "evidence": "PV du 4 mai"}
    assert engine.verify(ref).intact


def test_bad_declaration_and_tick_without_evidence_are_refused(engine: Engine) -> None:
    ref = engine.open_case("analyse", org="AMP", actor=AGENT).reference
    with pytest.raises(InvalidValue, match="Type de déclaration"):
        engine.declare(ref, "Absence Conflit", AGENT)
    with pytest.raises(InvalidValue, match="« offres_analysees » ne peut être coché sans preuve"):
        engine.tick(ref, "offres_analysees", "   ", AGENT)
    entries = engine.history(ref)
    assert [e.kind for e in entries] == ["case.opened", "command.refused", "command.refused"]
    assert [e.payload()["command"] for e in entries[1:]] == ["case.declare", "case.check"]
    assert engine.show(ref).row.version == 1


def test_closed_case_refuses_declare_and_tick(engine: Engine) -> None:
    ref = validated_case(engine)
    for actor in (AGENT, COLLEGUE, CHEF):
        engine.declare(ref, "absence_conflit_interets", actor)
    engine.tick(ref, "offres_analysees", "PV", AGENT)
    engine.tick(ref, "notes_motivees", "Grille", AGENT)
    engine.fire(ref, "attribuer", CHEF)
    with pytest.raises(CaseClosed):
        engine.declare(ref, "absence_conflit_interets", CHEF)
    with pytest.raises(CaseClosed):
        engine.tick(ref, "notes_motivees", "Grille", CHEF)
    assert [e.kind for e in engine.history(ref)[-2:]] == ["command.refused", "command.refused"]
