"""Follow-up controls: ``actor_not_named`` and ``revised_since``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from engine.actors import Actor
from engine.controls import CaseSnapshot, ControlResult, HistoryEntry
from tests.unit.test_controls_data import FIELDS, line_with, problems_of, run

QUALITE = Actor("nadia", frozenset({"responsable_qualite"}))


def snapshot(
    data: Mapping[str, Any], history: Sequence[HistoryEntry] = (), actor: Actor = QUALITE
) -> CaseSnapshot:
    return CaseSnapshot(
        "AMP-2026-NC-0001",
        "action_realisee",
        data,
        actor,
        datetime(2026, 5, 4, 9, 30, tzinfo=UTC),
        lambda: [],
        fields=FIELDS,
        _load_history=lambda: list(history),
    )


def fired(seq: int, trigger: str) -> HistoryEntry:
    return HistoryEntry(seq, "nadia", "case.transition", {"trigger": trigger})


def data_set(seq: int, **values: Any) -> HistoryEntry:
    return HistoryEntry(seq, "pierre", "case.data_set", {"values": values, "previous": {}})


def named(data: Mapping[str, Any], actor: Actor = QUALITE) -> ControlResult:
    return run("actor_not_named", {"fields": ["objet"]}, snapshot(data, actor=actor))


# ------------------------------------------------------------------ actor_not_named


def test_actor_not_named_passes_for_someone_else() -> None:
    result = named({"objet": "luc"})
    assert result.passed
    assert "nadia n'est pas la personne désignée" in result.reason


def test_actor_not_named_fails_for_the_person_named_whatever_the_case() -> None:
    result = named({"objet": " Nadia "})
    assert not result.passed
    assert "séparation des tâches" in result.reason
    assert result.clause == "5.3"


def test_actor_not_named_passes_when_nobody_is_named() -> None:
    assert named({}).passed


def test_actor_not_named_needs_fields() -> None:
    controls = """\
    - control: actor_not_named
      params:
        fields: []
    """
    (problem,) = problems_of(controls)
    assert problem.line == line_with(controls, "fields: []")
    assert "ne doit pas être vide" in problem.message


def test_actor_not_named_refuses_an_unknown_field() -> None:
    controls = """\
    - control: actor_not_named
      params:
        fields: [responsable]
    """
    (problem,) = problems_of(controls)
    assert "responsable" in problem.message


# ------------------------------------------------------------------ revised_since


def revised(history: Sequence[HistoryEntry]) -> ControlResult:
    params = {"fields": ["objet"], "since": "publier"}
    return run("revised_since", params, snapshot({"objet": "x"}, history))


def test_revised_since_passes_when_the_step_never_happened() -> None:
    result = revised([data_set(1, objet="a")])
    assert result.passed
    assert "jamais été franchie" in result.reason


def test_revised_since_fails_when_the_field_was_not_set_again() -> None:
    result = revised([data_set(1, objet="a"), fired(2, "publier"), data_set(3, montant="1")])
    assert not result.passed
    assert "« objet » n'ont pas été ressaisis" in result.reason


def test_revised_since_passes_once_set_again_after_the_last_time() -> None:
    history = [fired(1, "publier"), data_set(2, objet="b"), fired(3, "publier")]
    assert not revised(history).passed  # set after the first time, not after the last
    assert revised([*history, data_set(4, objet="c")]).passed


def test_revised_since_does_not_count_a_clearing() -> None:
    assert not revised([fired(1, "publier"), data_set(2, objet=None)]).passed


def test_revised_since_refuses_an_unknown_trigger() -> None:
    controls = """\
    - control: revised_since
      params:
        fields: [objet]
        since: publie
    """
    (problem,) = problems_of(controls)
    assert problem.line == line_with(controls, "since:")
    assert "publie" in problem.message
