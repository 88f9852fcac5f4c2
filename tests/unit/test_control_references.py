"""Controls' parameters name fields, triggers, document types and tables that exist.

Checked when the definition is loaded with the catalogue: a wrong name is a problem at the
line where it is written, in French, with the closest existing name.
"""

from __future__ import annotations

import textwrap
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import pytest

import engine.control_catalogue  # noqa: F401  (registers the built-in controls)
from engine.controls import catalogue
from engine.definition import WorkflowDef
from engine.errors import Problem
from engine.loader import collect_problems, parse_yaml
from engine.rules import Rule
from engine.validation import Reference, ReferenceKind, validate_definition

DEFINITION = """\
id: demo
version: 1
code: DEMO
title: Procédure de démonstration
owner: Direction de la commande publique
fields:
  objet: {type: text, label: Objet}
  nature: {type: enum, label: Nature, values: [fournitures, services, travaux]}
  lots: {type: list, items: text, label: Lots}
  montant_estime: {type: amount, label: Montant estimé}
  offres_recues: {type: integer, label: Offres reçues}
  date_lancement: {type: date, label: Date de lancement}
  date_envoi_lettres: {type: date, label: Envoi des lettres de rejet}
  date_signature: {type: date, label: Date de signature}
states:
  analyse:
    label: Analyse
    initial: true
    documents: [rapport_analyse_offres]
  validation:
    label: Validation
    documents: [lettre_rejet]
  signe:
    label: Signé
    final: true
transitions:
  - trigger: rediger_rapport
    source: analyse
    dest: validation
    label: Rédiger le rapport
  - trigger: valider_rapport
    source: validation
    dest: signe
    label: Valider le rapport
    controls:
"""


def definition(controls: str) -> str:
    """The demo definition with ``controls`` (YAML list items) on its last transition."""
    return DEFINITION + textwrap.indent(textwrap.dedent(controls), "      ")


def problems_of(controls: str) -> list[Problem]:
    """Every problem of the demo definition with ``controls``, checked with the catalogue."""
    return collect_problems("demo.yaml", text=definition(controls), known_controls=catalogue())


def line_with(controls: str, marker: str) -> int:
    """The line number (1-based) of the first line of the definition holding ``marker``."""
    lines = definition(controls).splitlines()
    return next(number for number, line in enumerate(lines, 1) if marker in line)


def only_problem(controls: str) -> Problem:
    """The one problem of the definition (fails listing them when there are several)."""
    problems = problems_of(controls)
    assert len(problems) == 1, "\n".join(map(str, problems))
    return problems[0]


PARAMS = "transitions[1].controls[0].params"

CORRECT = """\
- control: required_fields
  params:
    fields: [objet, montant_estime]
    when: 'nature == "travaux" && lots.all(l, l != "") && has(dossier.offres_recues)'
- control: required_documents
  params: {types: [rapport_analyse_offres], min_count: {lettre_rejet: 2}}
- control: rule
  params:
    expression: >-
      montant_estime < param("dispense_fournitures_services")
      || type(offres_recues) == int
    reference_date_field: date_lancement
- control: threshold
  params:
    field: offres_recues
    table: dispense_fournitures_services
    comparison: below
    reference_date_field: date_lancement
- control: threshold
  params: {field: montant_estime, table: dispense_travaux, comparison: at_least}
- control: delay
  params:
    from_field: date_envoi_lettres
    to_field: date_signature
    period: 11d
    kind: minimum
- control: four_eyes
  params: {not_actor_of: [rediger_rapport, valider_rapport]}
- control: conflict_declarations
  params: {steps: [rediger_rapport]}
- control: checklist
  params:
    items:
      - {id: offres_analysees, label: Toutes les offres sont analysées}
"""


def test_correct_names_give_no_problem() -> None:
    assert problems_of(CORRECT) == []


# Each case: the controls, the marker of the line where the wrong name is written, the path
# of the problem under the control's ``params``, and what the message must say.
WRONG: dict[str, tuple[str, str, str, Sequence[str]]] = {
    "required_fields, a field": (
        """\
        - control: required_fields
          params:
            fields:
              - objet
              - montnat_estime
        """,
        "- montnat_estime",
        "fields[1]",
        [
            "contrôle « required_fields » : champ « montnat_estime » inconnu",
            "(vouliez-vous dire « montant_estime » ?)",
            "déclaré sous « fields »",
        ],
    ),
    "required_fields, its condition": (
        """\
        - control: required_fields
          params:
            fields: [objet]
            when: 'natur == "travaux"'
        """,
        "when:",
        "when",
        ["champ « natur » inconnu (vouliez-vous dire « nature » ?)"],
    ),
    "required_fields, a table of its condition": (
        """\
        - control: required_fields
          params:
            fields: [objet]
            when: 'montant_estime >= param("dispense_travau")'
        """,
        "when:",
        "when",
        ["table de paramètres « dispense_travau » inconnue", "« dispense_travaux » ?"],
    ),
    "required_documents, a type": (
        """\
        - control: required_documents
          params:
            types: [rapport_analyse]
        """,
        "types:",
        "types[0]",
        [
            "contrôle « required_documents » : type de pièce « rapport_analyse » inconnu",
            "(vouliez-vous dire « rapport_analyse_offres » ?)",
            "« documents » d'une étape",
        ],
    ),
    "required_documents, a counted type": (
        """\
        - control: required_documents
          params:
            types: [lettre_rejet]
            min_count:
              lettre_rejets: 2
        """,
        "lettre_rejets: 2",
        "min_count.lettre_rejets",
        ["type de pièce « lettre_rejets » inconnu (vouliez-vous dire « lettre_rejet » ?)"],
    ),
    "rule, a field": (
        """\
        - control: rule
          params:
            expression: 'offres_recue >= 3'
        """,
        "expression:",
        "expression",
        [
            "contrôle « rule » : champ « offres_recue » inconnu",
            "(vouliez-vous dire « offres_recues » ?)",
        ],
    ),
    "rule, a field of the map of all fields": (
        """\
        - control: rule
          params:
            expression: 'has(dossier.montant_estimee)'
        """,
        "expression:",
        "expression",
        ["champ « montant_estimee » inconnu (vouliez-vous dire « montant_estime » ?)"],
    ),
    "rule, a table": (
        """\
        - control: rule
          params:
            expression: 'montant_estime < param("dispense_fourniture_services")'
        """,
        "expression:",
        "expression",
        [
            "table de paramètres « dispense_fourniture_services » inconnue",
            "(vouliez-vous dire « dispense_fournitures_services » ?)",
        ],
    ),
    "rule, its reference date": (
        """\
        - control: rule
          params:
            expression: 'montant_estime < param("dispense_travaux")'
            reference_date_field: objet
        """,
        "reference_date_field:",
        "reference_date_field",
        [
            "le champ « objet » est de type « text » : un champ de type « date » est attendu",
            "champs de ce type : date_lancement, date_envoi_lettres, date_signature",
        ],
    ),
    "threshold, the amount": (
        """\
        - control: threshold
          params:
            field: montant
            table: dispense_travaux
            comparison: below
        """,
        "field: montant",
        "field",
        [
            "contrôle « threshold » : champ « montant » inconnu",
            "(vouliez-vous dire « montant_estime » ?)",
            "avec le type « amount » ou « integer »",
        ],
    ),
    "threshold, an amount that is not one": (
        """\
        - control: threshold
          params:
            field: date_lancement
            table: dispense_travaux
            comparison: below
        """,
        "field: date_lancement",
        "field",
        [
            "le champ « date_lancement » est de type « date » : un champ de type « amount » "
            "ou « integer » est attendu ; champs de ce type : montant_estime, offres_recues"
        ],
    ),
    "threshold, the table": (
        """\
        - control: threshold
          params:
            field: montant_estime
            table: dispense_travaus
            comparison: below
        """,
        "table: dispense_travaus",
        "table",
        ["table de paramètres « dispense_travaus » inconnue (vouliez-vous dire"],
    ),
    "threshold, the reference date": (
        """\
        - control: threshold
          params:
            field: montant_estime
            table: dispense_travaux
            comparison: below
            reference_date_field: date_lancemant
        """,
        "reference_date_field:",
        "reference_date_field",
        ["champ « date_lancemant » inconnu (vouliez-vous dire « date_lancement » ?)"],
    ),
    "delay, the start": (
        """\
        - control: delay
          params:
            from_field: date_envoi_lettre
            to_field: date_signature
            period: 11d
            kind: minimum
        """,
        "from_field:",
        "from_field",
        [
            "contrôle « delay » : champ « date_envoi_lettre » inconnu",
            "(vouliez-vous dire « date_envoi_lettres » ?)",
            "avec le type « date »",
        ],
    ),
    "delay, an act that is not a date": (
        """\
        - control: delay
          params:
            from_field: date_envoi_lettres
            to_field: montant_estime
            period: 11d
            kind: minimum
        """,
        "to_field:",
        "to_field",
        ["le champ « montant_estime » est de type « amount » : un champ de type « date »"],
    ),
    "four_eyes, a trigger": (
        """\
        - control: four_eyes
          params:
            not_actor_of:
              - rediger_raport
        """,
        "- rediger_raport",
        "not_actor_of[0]",
        [
            "contrôle « four_eyes » : déclencheur « rediger_raport » inconnu",
            "(vouliez-vous dire « rediger_rapport » ?)",
            "aucune transition de la procédure ne porte ce déclencheur",
        ],
    ),
    "conflict_declarations, a step": (
        """\
        - control: conflict_declarations
          params:
            steps: [rediger_rapport, valider]
        """,
        "steps:",
        "steps[1]",
        ["contrôle « conflict_declarations » : déclencheur « valider » inconnu"],
    ),
}


@pytest.mark.parametrize("case", list(WRONG))
def test_a_wrong_name_is_reported_at_its_line(case: str) -> None:
    controls, marker, path, says = WRONG[case]
    problem = only_problem(controls)
    assert problem.field == f"{PARAMS}.{path}"
    assert problem.line == line_with(controls, marker)
    for words in says:
        assert words in problem.message


def test_every_wrong_name_of_a_control_is_reported() -> None:
    controls = """\
    - control: delay
      params:
        from_field: date_lancemant
        to_field: date_signatur
        period: 11d
        kind: minimum
    """
    problems = problems_of(controls)
    assert [p.field for p in problems] == [f"{PARAMS}.from_field", f"{PARAMS}.to_field"]
    assert [p.line for p in problems] == [
        line_with(controls, "from_field:"),
        line_with(controls, "to_field:"),
    ]


def test_a_rule_reports_each_unknown_name_once() -> None:
    controls = """\
    - control: rule
      params:
        expression: 'montant > 1 && montant < 10 && dossier.montant != 5 && tx > 0'
    """
    problems = problems_of(controls)
    assert [p.message.split(" inconnu")[0] for p in problems] == [
        "contrôle « rule » : champ « montant »",
        "contrôle « rule » : champ « tx »",
    ]


def test_invalid_parameters_are_reported_alone() -> None:
    """Names are checked only once the parameters are valid: one problem at a time."""
    controls = """\
    - control: threshold
      params:
        field: montant
        table: dispense_travaus
        comparison: under
    """
    problem = only_problem(controls)
    assert problem.field == f"{PARAMS}.comparison"


def test_names_are_not_checked_without_the_catalogue() -> None:
    controls = """\
    - control: four_eyes
      params: {not_actor_of: [inconnu]}
    """
    names = set(catalogue())
    assert collect_problems("demo.yaml", text=definition(controls), known_controls=names) == []


# ------------------------------------------------------------------------ rules and specs


@pytest.mark.parametrize(
    ("expression", "names"),
    [
        ('montant < param("seuil") && has(dossier.nature)', ("montant", "nature")),
        ('lots.all(l, l != "") && lots.exists(m, m == objet)', ("lots", "objet")),
        ('lots.map(l, l + suffixe).size() > 0 && l == ""', ("lots", "suffixe", "l")),
        ('dossier["date_lancement"] < dossier.signature', ("date_lancement", "signature")),
        ("type(offres) == int && size(dossier) > 0 && x.y.z", ("offres", "x")),
        ('true && null == null && "a" in ["a"]', ()),
    ],
)
def test_rule_lists_the_fields_it_reads(expression: str, names: tuple[str, ...]) -> None:
    assert Rule.compile(expression, where="test").field_names() == names


def test_a_deep_rule_is_walked_without_recursion() -> None:
    expression = "(" * 300 + "montant" + ")" * 300 + " > 0"
    assert Rule.compile(expression, where="test").field_names() == ("montant",)


def test_specs_list_references_only_for_valid_parameters() -> None:
    controls = catalogue()
    delay = controls["delay"]
    params = {"from_field": "a", "to_field": "b", "period": "11d", "kind": "minimum"}
    assert delay.param_references(params) == [
        Reference(("from_field",), ReferenceKind.DATE_FIELD, "a"),
        Reference(("to_field",), ReferenceKind.DATE_FIELD, "b"),
    ]
    assert delay.param_references({**params, "period": "onze jours"}) == []
    items = {"items": [{"id": "vu", "label": "Vu"}]}
    assert controls["checklist"].param_references(items) == []
    assert "dispense_travaux" in (controls["threshold"].parameter_tables() or ())


class _NoTables:
    """A control whose parameters name a table, while the tables cannot be read."""

    def param_problems(
        self, params: Mapping[str, Any]
    ) -> Sequence[tuple[tuple[str | int, ...], str]]:
        return []

    def param_references(self, params: Mapping[str, Any]) -> Sequence[Reference]:
        return [Reference(("table",), ReferenceKind.TABLE, str(params["table"]))]

    def parameter_tables(self) -> Collection[str] | None:
        return None


def test_tables_are_not_checked_when_they_cannot_be_read() -> None:
    text = definition("- control: maison\n  params: {table: n_importe_quoi}\n")
    parsed = WorkflowDef.model_validate(parse_yaml(text, "demo.yaml").data)
    assert validate_definition(parsed, {"maison": _NoTables()}) == []
