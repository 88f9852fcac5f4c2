"""Controls on the case's data: ``required_fields`` (with ``when``) and ``required_documents``.

The helpers at the top (a snapshot, one control evaluated, a definition with controls) are
shared by the other ``test_controls_*`` modules.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

import pytest

import engine.control_catalogue  # noqa: F401  (registers the built-in controls)
from engine.actors import Actor
from engine.controls import CaseSnapshot, ControlResult, DocumentView, catalogue, evaluate
from engine.definition import ControlRef, FieldDef, FieldType
from engine.errors import DefinitionInvalid, Problem
from engine.loader import load_definition_text

FIELDS = {
    "objet": FieldDef(type=FieldType.TEXT, label="Objet"),
    "nature": FieldDef(
        type=FieldType.ENUM, label="Nature", values=["travaux", "fournitures", "services"]
    ),
    "montant_estime": FieldDef(type=FieldType.AMOUNT, label="Montant estimé"),
    "date_lancement": FieldDef(type=FieldType.DATE, label="Date de lancement"),
    "date_envoi_lettres": FieldDef(type=FieldType.DATE, label="Envoi des lettres de rejet"),
    "date_signature": FieldDef(type=FieldType.DATE, label="Date de signature"),
}

DEFINITION = """\
id: demo
version: 1
code: DEMO
title: Procédure de démonstration
owner: Direction de la commande publique
fields:
  objet: {type: text, label: Objet}
  montant_estime: {type: amount, label: Montant estimé}
  date_lancement: {type: date, label: Date de lancement}
states:
  brouillon:
    label: Brouillon
    initial: true
  publie:
    label: Publié
    final: true
transitions:
  - trigger: publier
    source: brouillon
    dest: publie
    label: Publier
    controls:
"""


def snap(
    data: Mapping[str, Any],
    *,
    documents: Sequence[DocumentView] = (),
    opened_at: date | None = date(2026, 5, 4),
) -> CaseSnapshot:
    """A snapshot of a case with ``data``, the demo fields and ``documents``."""
    return CaseSnapshot(
        "VDP-2026-DEMO-0001",
        "brouillon",
        data,
        Actor("agent", frozenset({"acheteur"})),
        datetime(2026, 5, 4, 9, 30, tzinfo=UTC),
        lambda: list(documents),
        fields=FIELDS,
        opened_at=opened_at,
    )


def run(control: str, params: Mapping[str, Any], snapshot: CaseSnapshot) -> ControlResult:
    """Evaluate one control with ``params`` on ``snapshot``."""
    return evaluate([ControlRef(control=control, params=dict(params))], snapshot)[0]


def definition(controls: str) -> str:
    """The demo definition with ``controls`` (YAML list items) on its transition."""
    return DEFINITION + textwrap.indent(textwrap.dedent(controls), "      ")


def problems_of(controls: str) -> list[Problem]:
    """The problems of the demo definition with ``controls``, loaded with the catalogue."""
    with pytest.raises(DefinitionInvalid) as caught:
        load_definition_text(definition(controls), "demo.yaml", known_controls=catalogue())
    return caught.value.problems


def line_with(controls: str, marker: str) -> int:
    """The line number (1-based) of the first line of the definition holding ``marker``."""
    lines = definition(controls).splitlines()
    return next(number for number, line in enumerate(lines, 1) if marker in line)


def doc(doc_type: str, name: str = "piece.pdf") -> DocumentView:
    return DocumentView(doc_type, name, "0" * 64)


# ------------------------------------------------------------------------ required_fields


def test_required_fields_pass() -> None:
    result = run("required_fields", {"fields": ["objet"]}, snap({"objet": "Voirie"}))
    assert result.passed
    assert result.clause == "8.5.1"
    assert result.reason == "tous les champs requis sont renseignés"


def test_required_fields_fail_names_the_missing_fields() -> None:
    data = {"objet": "", "nature": None}
    result = run("required_fields", {"fields": ["objet", "nature", "montant_estime"]}, snap(data))
    assert not result.passed
    assert result.blocks
    assert result.reason == "champ(s) non renseigné(s) : objet, nature, montant_estime"


def test_required_fields_when_the_condition_holds() -> None:
    params = {"fields": ["objet"], "when": 'nature == "travaux"'}
    result = run("required_fields", params, snap({"nature": "travaux"}))
    assert not result.passed
    assert result.reason == "champ(s) non renseigné(s) : objet"


def test_required_fields_not_required_when_the_condition_does_not_hold() -> None:
    params = {"fields": ["objet"], "when": 'nature == "travaux"'}
    result = run("required_fields", params, snap({"nature": "services"}))
    assert result.passed
    assert 'la condition « nature == "travaux" » n\'est pas remplie' in result.reason


def test_required_fields_when_on_a_missing_field_fails_clearly() -> None:
    params = {"fields": ["objet"], "when": 'nature == "travaux"'}
    result = run("required_fields", params, snap({}))
    assert not result.passed
    assert result.reason.startswith('la condition « nature == "travaux" » ne peut pas')


def test_required_fields_message_of_the_definition_comes_first() -> None:
    ref = ControlRef(
        control="required_fields",
        params={"fields": ["objet"]},
        message="L'objet doit être renseigné.",
        clause="8.2.2",
        severity="non_blocking",
    )
    (result,) = evaluate([ref], snap({}))
    assert result.reason == "L'objet doit être renseigné. (champ(s) non renseigné(s) : objet)"
    assert result.clause == "8.2.2"
    assert not result.blocks


def test_required_fields_invalid_params_give_a_line() -> None:
    controls = """\
    - control: required_fields
      params:
        champs: [objet]
    """
    problems = problems_of(controls)
    fields = {p.field: p for p in problems}
    unknown = fields["transitions[0].controls[0].params.champs"]
    assert unknown.line == line_with(controls, "champs:")
    assert "paramètre inconnu « champs »" in unknown.message
    missing = fields["transitions[0].controls[0].params.fields"]
    assert "paramètre obligatoire « fields » manquant" in missing.message
    assert missing.line == line_with(controls, "params:")


def test_required_fields_bad_condition_is_refused_at_load() -> None:
    controls = """\
    - control: required_fields
      params: {fields: [objet], when: "nature =="}
    """
    (problem,) = problems_of(controls)
    assert problem.field == "transitions[0].controls[0].params.when"
    assert problem.line == line_with(controls, "when:")
    assert "Règle invalide" in problem.message


# --------------------------------------------------------------------- required_documents


def test_required_documents_pass() -> None:
    snapshot = snap({}, documents=[doc("avis"), doc("offre"), doc("offre", "b.pdf")])
    params = {"types": ["avis", "offre"], "min_count": {"offre": 2}}
    result = run("required_documents", params, snapshot)
    assert result.passed
    assert result.clause == "7.5.3"


def test_required_documents_fail_names_missing_and_counts() -> None:
    snapshot = snap({}, documents=[doc("offre")])
    params = {"types": ["avis", "offre"], "min_count": {"offre": 3}}
    result = run("required_documents", params, snapshot)
    assert not result.passed
    assert result.reason == "pièce(s) manquante(s) : avis, offre (1 sur 3)"


def test_required_documents_with_no_document_at_all() -> None:
    result = run("required_documents", {"types": ["avis"]}, snap({}))
    assert not result.passed
    assert result.reason == "pièce(s) manquante(s) : avis"


def signed(doc_type: str, by: str = "Le vice-président", name: str = "s.pdf") -> DocumentView:
    return DocumentView(doc_type, name, "1" * 64, by)


def test_required_documents_signed_counts_only_signed_ones() -> None:
    params = {"types": ["avis"], "signed": ["acte_engagement"], "min_count": {"lettre_rejet": 2}}
    unsigned = snap({}, documents=[doc("avis"), doc("acte_engagement")])
    result = run("required_documents", params | {"min_count": {}}, unsigned)
    assert not result.passed
    assert result.reason == (
        "pièce(s) manquante(s) : acte_engagement signée (jointe mais non signée)"
    )
    documents = [doc("avis"), doc("acte_engagement"), signed("acte_engagement")]
    documents += [signed("lettre_rejet"), doc("lettre_rejet", "b.pdf")]
    assert run(
        "required_documents", params | {"min_count": {}}, snap({}, documents=documents)
    ).passed
    counted = run(
        "required_documents",
        params | {"signed": ["lettre_rejet"]},
        snap({}, documents=documents),
    )
    assert counted.reason == (
        "pièce(s) manquante(s) : lettre_rejet signée (1 sur 2) (jointe mais non signée)"
    )


def test_required_documents_signed_names_a_declared_type() -> None:
    controls = """    - control: required_documents
      params: {types: [avis], signed: [acte]}
    """
    problems = {problem.field: problem.message for problem in problems_of(controls)}
    assert "« acte »" in problems["transitions[0].controls[0].params.signed[0]"]


def test_documents_are_not_loaded_when_no_control_needs_them() -> None:
    calls: list[int] = []

    def load() -> list[DocumentView]:
        calls.append(1)
        return []

    snapshot = CaseSnapshot(
        "R", "s", {"objet": "x"}, Actor("a", frozenset()), datetime(2026, 1, 1, tzinfo=UTC), load
    )
    run("required_fields", {"fields": ["objet"]}, snapshot)
    assert calls == []


def test_required_documents_invalid_params_give_a_line() -> None:
    controls = """\
    - control: required_documents
      params:
        types: [avis]
        min_count: {avis: 0}
    """
    (problem,) = problems_of(controls)
    assert problem.field == "transitions[0].controls[0].params.min_count"
    assert problem.line == line_with(controls, "min_count:")
    assert "doit être au moins 1" in problem.message


def test_required_documents_wrong_type_of_param() -> None:
    controls = """\
    - control: required_documents
      params: {types: avis}
    """
    (problem,) = problems_of(controls)
    assert problem.field == "transitions[0].controls[0].params.types"
    assert "doit être une liste" in problem.message
