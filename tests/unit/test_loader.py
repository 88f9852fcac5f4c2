"""The loader: YAML to definition, every problem with its file, line and field, in French."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.errors import DefinitionInvalid, DefinitionSyntaxError, Problem
from engine.loader import collect_problems, line_of, load_definition, load_definition_text

VALID = """\
id: demo
version: 1
code: DEMO
title: Procédure de démonstration
owner: Direction de la commande publique
fields:
  montant:
    type: amount
    label: Montant
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
"""


def lines(text: str) -> list[str]:
    return text.splitlines()


def problems_of(text: str) -> list[Problem]:
    return collect_problems("demo.yaml", text=text)


def test_valid_text_loads() -> None:
    """A correct definition loads into a WorkflowDef with its states and transitions."""
    definition = load_definition_text(VALID, "demo.yaml")
    assert definition.id == "demo"
    assert definition.initial_state == "brouillon"
    assert definition.transitions[0].dest == "publie"
    assert problems_of(VALID) == []


def test_valid_file_loads(tmp_path: Path) -> None:
    """load_definition reads a UTF-8 file from disk."""
    path = tmp_path / "demo.yaml"
    path.write_text(VALID, encoding="utf-8")
    assert load_definition(path).title == "Procédure de démonstration"


def test_syntax_error_has_line() -> None:
    """A YAML syntax error raises DefinitionSyntaxError with the 1-based line and French text."""
    text = VALID.replace("title: Procédure de démonstration", "title: Procédure: démo: x")
    with pytest.raises(DefinitionSyntaxError) as caught:
        load_definition_text(text, "demo.yaml")
    assert caught.value.line == 4
    assert caught.value.path == "demo.yaml"
    assert "syntaxe YAML" in caught.value.message
    assert "guillemets" in caught.value.message


def test_syntax_error_is_one_problem_in_collect() -> None:
    """collect_problems turns a syntax error into a single problem instead of raising."""
    found = problems_of("id: demo\nstates: [a, b\n")
    assert len(found) == 1
    assert found[0].line is not None
    assert "syntaxe YAML" in found[0].message


def test_tab_indentation_is_explained() -> None:
    """A tab used for indentation is reported in French at its line."""
    found = problems_of("id: demo\nstates:\n\tbrouillon: {}\n")
    assert found[0].line == 3
    assert "tabulation" in found[0].message


def test_unknown_key_has_line_and_field() -> None:
    """An unknown key is reported at its own line, with its dotted field and a suggestion."""
    text = VALID.replace("    dest: publie\n", "    dest: publie\n    destination: publie\n")
    found = problems_of(text)
    assert len(found) == 1
    problem = found[0]
    assert problem.field == "transitions[0].destination"
    assert lines(text)[problem.line - 1 if problem.line else 0].strip() == "destination: publie"
    assert "clé inconnue « destination »" in problem.message
    assert "dest" in problem.message


def test_bad_type_is_reported_in_french() -> None:
    """A value of the wrong type names the field, its line and the expected type in French."""
    text = VALID.replace("    initial: true", "    initial: peut-être")
    found = problems_of(text)
    assert [(p.field, p.line) for p in found] == [("states.brouillon.initial", 13)]
    assert "true ou false" in found[0].message


def test_bad_enum_lists_the_choices() -> None:
    """An unknown field type lists the allowed types."""
    found = problems_of(VALID.replace("type: amount", "type: money"))
    assert found[0].field == "fields.montant.type"
    assert found[0].line == 8
    assert "money" in found[0].message
    assert "amount" in found[0].message


def test_missing_key_points_at_its_block() -> None:
    """A missing required key is reported at the line of the block that should hold it."""
    found = problems_of(VALID.replace("    label: Publier\n", ""))
    assert [(p.field, p.line) for p in found] == [("transitions[0].label", 18)]
    assert "manquante" in found[0].message


def test_pattern_error_explains_identifiers() -> None:
    """A trigger that is not an identifier is explained (lower-case letters, digits, _)."""
    found = problems_of(VALID.replace("trigger: publier", "trigger: Publier l'avis"))
    assert found[0].field == "transitions[0].trigger"
    assert "minuscules" in found[0].message


def test_union_alternatives_are_merged() -> None:
    """A source that is neither a name nor a list gives one message, not one per alternative."""
    found = problems_of(VALID.replace("source: brouillon", "source: {a: 1}"))
    assert len(found) == 1
    assert found[0].field == "transitions[0].source"
    assert "un texte ou une liste" in found[0].message


def test_bad_item_of_union_list_points_at_the_item() -> None:
    """A bad element in a list of sources is reported at that element, not at the union."""
    found = problems_of(VALID.replace("source: brouillon", "source: [brouillon, 12]"))
    assert [p.field for p in found] == ["transitions[0].source[1]"]


def test_keys_yaml_reads_as_booleans_or_numbers_are_explained() -> None:
    """A step named on/off/yes/no or a number is not text for YAML: the fix is quoting it."""
    text = VALID.replace("  publie:", "  on:").replace("dest: publie", 'dest: "on"')
    found = problems_of(
        text.replace("  brouillon:", "  2:").replace("source: brouillon", "source: '2'")
    )
    messages = {p.field: (p.line, p.message) for p in found}
    assert messages["states.2"][0] == 11
    assert "lu comme un nombre" in messages["states.2"][1]
    assert messages["states.True"][0] == 14
    assert "lu comme un booléen" in messages["states.True"][1]


def test_duplicate_key_is_reported() -> None:
    """A key written twice in one block is a problem (PyYAML would silently keep the last)."""
    text = VALID.replace("    label: Publié\n", "    label: Publié\n    label: Publiée\n")
    found = problems_of(text)
    assert len(found) == 1
    assert found[0].field == "states.publie.label"
    assert found[0].line == 16
    assert "deux fois" in found[0].message
    assert "ligne 15" in found[0].message


def test_several_problems_are_all_reported() -> None:
    """Every problem of a file is reported at once, sorted by line, in one DefinitionInvalid."""
    text = (
        VALID.replace("version: 1", "version: 0")
        .replace("code: DEMO", "code: demo")
        .replace("    initial: true", "    initial: true\n    couleur: bleu")
        .replace("label: Publier", "label: [Publier]")
    )
    with pytest.raises(DefinitionInvalid) as caught:
        load_definition_text(text, "demo.yaml")
    found = caught.value.problems
    assert [p.field for p in found] == [
        "version",
        "code",
        "states.brouillon.couleur",
        "transitions[0].label",
    ]
    assert [p.line for p in found] == sorted(p.line or 0 for p in found)
    assert all(p.path == "demo.yaml" for p in found)
    assert "4 problème(s) dans demo.yaml" in caught.value.message


def test_semantic_problems_get_lines() -> None:
    """Problems found by the semantic validation are mapped to the lines of their fields."""
    text = VALID.replace("dest: publie", "dest: publiee")
    found = problems_of(text)
    by_field = {p.field: p for p in found}
    assert by_field["transitions[0].dest"].line == 20
    assert "vouliez-vous dire « publie »" in by_field["transitions[0].dest"].message
    assert by_field["states.publie"].line == 14  # now unreachable


def test_unknown_controls_are_checked_when_the_catalogue_is_given() -> None:
    """With known_controls, a control reference outside the catalogue is a problem."""
    text = VALID + "    controls:\n      - control: required_feilds\n"
    assert problems_of(text) == []
    found = collect_problems("demo.yaml", text=text, known_controls={"required_fields"})
    assert [(p.field, p.line) for p in found] == [("transitions[0].controls[0].control", 23)]
    assert "required_fields" in found[0].message


def test_empty_file_is_a_problem() -> None:
    """An empty file is reported, not taken for an empty definition."""
    found = problems_of("# rien\n")
    assert len(found) == 1
    assert "vide" in found[0].message


def test_top_level_list_is_a_problem() -> None:
    """A file whose top is not a mapping is reported in French."""
    found = problems_of("- a\n- b\n")
    assert found[0].field == ""
    assert "clé" in found[0].message


def test_unreadable_file_is_a_syntax_error(tmp_path: Path) -> None:
    """A missing or non-UTF-8 file raises DefinitionSyntaxError (one problem when collected)."""
    with pytest.raises(DefinitionSyntaxError):
        load_definition(tmp_path / "absent.yaml")
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("title: Procédure\n".encode("latin-1"))
    found = collect_problems(latin)
    assert len(found) == 1
    assert "UTF-8" in found[0].message


def test_aliases_bombs_are_refused() -> None:
    """Nested YAML aliases that expand enormously are refused instead of exhausting memory."""
    text = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
    for level in "bcdefgh":
        previous = chr(ord(level) - 1)
        text += f"{level}: &{level} [" + ", ".join([f"*{previous}"] * 10) + "]\n"
    found = problems_of(text)
    assert len(found) == 1
    assert "volumineux" in found[0].message


def test_line_of_finds_nested_fields() -> None:
    """line_of returns the line of a field path, or of its nearest existing parent."""
    assert line_of(VALID, "version") == 2
    assert line_of(VALID, "transitions[0].dest") == 20
    assert line_of(VALID, "transitions[0].roles") == 18
    assert line_of("a: [", "a") is None
