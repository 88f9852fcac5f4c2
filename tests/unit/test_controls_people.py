"""Controls on people: ``four_eyes``, ``conflict_declarations`` and ``checklist``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from engine.actors import Actor
from engine.controls import CaseSnapshot, HistoryEntry
from tests.unit.test_controls_data import FIELDS, line_with, problems_of, run

AGENT = Actor("marie", frozenset({"acheteur"}))


def fired(seq: int, actor: str, trigger: str) -> HistoryEntry:
    return HistoryEntry(seq, actor, "case.transition", {"trigger": trigger})


def declared(seq: int, actor: str, declaration: str = "absence_conflit_interets") -> HistoryEntry:
    return HistoryEntry(
        seq, actor, "case.declaration", {"declaration": declaration, "statement": None}
    )


def ticked(seq: int, item: str, evidence: str = "PV du 4 mai") -> HistoryEntry:
    return HistoryEntry(seq, "marie", "case.checklist_ticked", {"item": item, "evidence": evidence})


def snap(history: Sequence[HistoryEntry], actor: Actor = AGENT) -> CaseSnapshot:
    """A snapshot whose history is ``history``, counting how often it is loaded."""
    return CaseSnapshot(
        "VDP-2026-DEMO-0001",
        "brouillon",
        {},
        actor,
        datetime(2026, 5, 4, 9, 30, tzinfo=UTC),
        lambda: [],
        fields=FIELDS,
        _load_history=lambda: list(history),
    )


def check(control: str, params: Mapping[str, Any], history: Sequence[HistoryEntry]) -> Any:
    return run(control, params, snap(history))


# ------------------------------------------------------------------------ history


def test_history_is_loaded_on_first_use_only() -> None:
    calls: list[int] = []

    def load() -> list[HistoryEntry]:
        calls.append(1)
        return [fired(2, "paul", "rediger_rapport")]

    snapshot = CaseSnapshot(
        "R", "s", {}, AGENT, datetime(2026, 5, 4, tzinfo=UTC), lambda: [], _load_history=load
    )
    assert calls == []
    assert snapshot.actors_of(["rediger_rapport"]) == {"rediger_rapport": ["paul"]}
    assert len(snapshot.history) == 1
    assert calls == [1]


# ------------------------------------------------------------------------ four_eyes


def test_four_eyes_passes_for_another_person() -> None:
    result = check(
        "four_eyes", {"not_actor_of": ["rediger_rapport"]}, [fired(2, "paul", "rediger_rapport")]
    )
    assert result.passed
    assert result.clause == "5.3"


def test_four_eyes_fails_names_the_step_and_the_person() -> None:
    history = [fired(2, "paul", "lancer"), fired(3, "marie", "rediger_rapport")]
    result = check("four_eyes", {"not_actor_of": ["lancer", "rediger_rapport"]}, history)
    assert not result.passed
    assert result.blocks
    assert result.reason.startswith("marie a déjà franchi l'étape « rediger_rapport »")
    assert "séparation des tâches" in result.reason


def test_four_eyes_invalid_params_give_a_line() -> None:
    controls = """\
    - control: four_eyes
      params:
        not_actor_of: []
    """
    (problem,) = problems_of(controls)
    assert problem.field == "transitions[0].controls[0].params.not_actor_of"
    assert problem.line == line_with(controls, "not_actor_of:")
    assert "ne doit pas être vide" in problem.message


def test_four_eyes_unknown_param_is_refused() -> None:
    controls = """\
    - control: four_eyes
      params:
        not_actor_of: [rediger_rapport]
        actor: paul
    """
    (problem,) = problems_of(controls)
    assert problem.field == "transitions[0].controls[0].params.actor"
    assert "paramètre inconnu" in problem.message


# ------------------------------------------------------------------------ conflict_declarations


PARAMS = {"declaration": "absence_conflit_interets", "steps": ["analyser"], "include_actor": True}


def test_conflict_declarations_pass_when_everyone_declared() -> None:
    history = [fired(2, "paul", "analyser"), declared(3, "paul"), declared(4, "marie")]
    result = check("conflict_declarations", PARAMS, history)
    assert result.passed
    assert result.clause == "7.1.2"
    assert result.reason == "déclaration « absence_conflit_interets » faite par : paul, marie"


def test_conflict_declarations_fail_lists_who_is_missing() -> None:
    history = [
        fired(2, "paul", "analyser"),
        fired(3, "jeanne", "analyser"),
        declared(4, "jeanne"),
        declared(5, "paul", "autre_declaration"),
    ]
    result = check("conflict_declarations", PARAMS, history)
    assert not result.passed
    assert result.reason == (
        "déclaration « absence_conflit_interets » manquante pour : paul, marie"
    )


def test_conflict_declarations_without_the_actor() -> None:
    params = {**PARAMS, "include_actor": False}
    result = check("conflict_declarations", params, [fired(2, "paul", "analyser")])
    assert result.reason == "déclaration « absence_conflit_interets » manquante pour : paul"


def test_conflict_declarations_invalid_params_give_a_line() -> None:
    controls = """\
    - control: conflict_declarations
      params:
        declaration: Absence Conflit
    """
    (problem,) = problems_of(controls)
    assert problem.field == "transitions[0].controls[0].params.declaration"
    assert problem.line == line_with(controls, "declaration:")


# ------------------------------------------------------------------------ checklist


ITEMS = {
    "items": [
        {"id": "offres_analysees", "label": "Toutes les offres sont analysées"},
        {"id": "notes_motivees", "label": "Les notes sont motivées"},
    ]
}


def test_checklist_passes_when_every_item_is_ticked() -> None:
    result = check("checklist", ITEMS, [ticked(2, "offres_analysees"), ticked(3, "notes_motivees")])
    assert result.passed
    assert result.clause == "8.5.1"
    assert result.reason == "les 2 point(s) de la liste sont cochés avec leur preuve"


def test_checklist_fail_lists_missing_items_by_label() -> None:
    result = check("checklist", ITEMS, [ticked(2, "notes_motivees", "  ")])
    assert not result.passed
    assert result.reason == (
        "point(s) non coché(s) avec preuve : Toutes les offres sont analysées ; "
        "Les notes sont motivées"
    )


def test_checklist_invalid_params_give_a_line() -> None:
    controls = """\
    - control: checklist
      params:
        items:
          - {id: offres_analysees}
    """
    (problem,) = problems_of(controls)
    assert problem.field == "transitions[0].controls[0].params.items[0].label"
    assert "paramètre obligatoire « label » manquant" in problem.message
    assert problem.line == line_with(controls, "offres_analysees")
