"""Semantic validation: each rule on a parsed definition, passing and failing."""

from __future__ import annotations

from typing import Any

import pytest

from engine.definition import WorkflowDef
from engine.validation import field_path, parse_field_path, validate_definition


def base() -> dict[str, Any]:
    """A small valid definition as data: a -> b -> fin, a -> abandon."""
    return {
        "id": "demo",
        "version": 1,
        "code": "DEMO",
        "title": "Démo",
        "owner": "Direction",
        "fields": {
            "montant": {"type": "amount", "label": "Montant"},
            "nature": {"type": "enum", "label": "Nature", "values": ["travaux", "services"]},
            "lots": {"type": "list", "items": "text", "label": "Lots"},
        },
        "states": {
            "a": {"label": "A", "initial": True, "role": "acheteur"},
            "b": {"label": "B"},
            "fin": {"label": "Fin", "final": True},
            "abandon": {"label": "Abandon", "final": True},
        },
        "transitions": [
            {"trigger": "avancer", "source": "a", "dest": "b", "label": "Avancer"},
            {
                "trigger": "terminer",
                "source": "b",
                "dest": "fin",
                "label": "Terminer",
                "roles": ["acheteur", "responsable_achat"],
                "controls": [{"control": "required_fields", "params": {"fields": ["montant"]}}],
            },
            {"trigger": "abandonner", "source": ["a", "b"], "dest": "abandon", "label": "Abandon"},
        ],
    }


def check(data: dict[str, Any], known: set[str] | None = None) -> dict[str, str]:
    """Validate ``data``; return {field: message} of the problems."""
    problems = validate_definition(WorkflowDef.model_validate(data), known)
    assert all(p.path == "" and p.line is None for p in problems)
    return {p.field: p.message for p in problems}


def test_valid_definition_has_no_problem() -> None:
    """The base definition passes every rule, including known controls."""
    assert check(base(), {"required_fields", "required_documents"}) == {}


def test_no_initial_state() -> None:
    """A definition without an initial state is refused at 'states'."""
    data = base()
    data["states"]["a"]["initial"] = False
    found = check(data)
    assert "aucune étape initiale" in found["states"]


def test_several_initial_states() -> None:
    """Two initial states: the second one is reported."""
    data = base()
    data["states"]["b"]["initial"] = True
    found = check(data)
    assert "plusieurs étapes initiales" in found["states.b.initial"]
    assert "states.a.initial" not in found


def test_initial_state_not_final() -> None:
    """The initial state cannot be final."""
    data = base()
    data["states"]["a"]["final"] = True
    data["transitions"] = [t for t in data["transitions"] if t["trigger"] == "avancer"]
    data["transitions"].append({"trigger": "x", "source": "b", "dest": "fin", "label": "X"})
    found = check(data)
    assert "ne peut pas être aussi une étape finale" in found["states.a.final"]


def test_unknown_dest_and_source() -> None:
    """Transitions naming unknown states are reported at source/dest, with a suggestion."""
    data = base()
    data["transitions"][0]["dest"] = "bb"
    data["transitions"][2]["source"] = ["a", "c"]
    found = check(data)
    assert "« bb » inconnue" in found["transitions[0].dest"]
    assert "vouliez-vous dire « b »" in found["transitions[0].dest"]
    assert "« c » inconnue" in found["transitions[2].source[1]"]


def test_unknown_single_source() -> None:
    """A single unknown source is reported at 'source' itself."""
    data = base()
    data["transitions"][1]["source"] = "z"
    assert "« z » inconnue" in check(data)["transitions[1].source"]


def test_unreachable_state() -> None:
    """A state no transition leads to is unreachable; states behind it are named with it."""
    data = base()
    data["states"]["isole"] = {"label": "Isolé"}
    data["states"]["apres"] = {"label": "Après", "final": True}
    data["transitions"].append(
        {"trigger": "suite", "source": "isole", "dest": "apres", "label": "S"}
    )
    found = check(data)
    assert "inaccessible" in found["states.isole"]
    assert "apres" in found["states.isole"]
    assert "states.apres" not in found


def test_unreachable_cycle_is_reported_once() -> None:
    """A cycle of states cut off from the start is reported once, at its first state."""
    data = base()
    data["states"]["x"] = {"label": "X"}
    data["states"]["y"] = {"label": "Y"}
    data["transitions"] += [
        {"trigger": "vers_y", "source": "x", "dest": "y", "label": "Vers Y"},
        {"trigger": "vers_x", "source": "y", "dest": "x", "label": "Vers X"},
    ]
    found = check(data)
    assert "inaccessible" in found["states.x"]
    assert "states.y" not in found


def test_dead_end_state() -> None:
    """A non-final state without outgoing transition is a dead end ('sans issue')."""
    data = base()
    data["states"]["impasse"] = {"label": "Impasse"}
    data["transitions"].append(
        {"trigger": "bloquer", "source": "b", "dest": "impasse", "label": "B"}
    )
    found = check(data)
    assert "sans issue" in found["states.impasse"]


def test_final_state_with_outgoing_transition() -> None:
    """A transition leaving a final state is reported at its source."""
    data = base()
    data["transitions"].append({"trigger": "rouvrir", "source": "fin", "dest": "b", "label": "R"})
    data["transitions"].append(
        {"trigger": "reprendre", "source": ["b", "abandon"], "dest": "a", "label": "R"}
    )
    found = check(data)
    assert "étape finale" in found["transitions[3].source"]
    assert "étape finale" in found["transitions[4].source[1]"]


def test_duplicate_trigger_from_same_source() -> None:
    """The same trigger twice from one state is ambiguous and reported on the second."""
    data = base()
    data["transitions"].append(
        {"trigger": "avancer", "source": ["b", "a"], "dest": "fin", "label": "A"}
    )
    found = check(data)
    assert "part déjà de l'étape « A » (a)" in found["transitions[3].trigger"]
    assert "transitions[0]" in found["transitions[3].trigger"]


def test_same_trigger_from_different_sources_is_fine() -> None:
    """One trigger may leave several states (multi-source), each once."""
    data = base()
    data["transitions"][0]["trigger"] = "terminer"
    assert check(data) == {}


@pytest.mark.parametrize(
    ("field", "expected_path", "expected_text"),
    [
        ({"type": "enum", "label": "E"}, "fields.f.values", "valeurs possibles"),
        ({"type": "enum", "label": "E", "values": []}, "fields.f.values", "vide"),
        ({"type": "enum", "label": "E", "values": ["a", "a"]}, "fields.f.values[1]", "deux fois"),
        ({"type": "list", "label": "L"}, "fields.f.items", "items"),
        ({"type": "list", "label": "L", "items": "list"}, "fields.f.items", "liste de listes"),
        ({"type": "text", "label": "T", "values": ["a"]}, "fields.f.values", "enum"),
        ({"type": "text", "label": "T", "items": "text"}, "fields.f.items", "list"),
        ({"type": "list", "label": "L", "items": "enum"}, "fields.f.values", "valeurs possibles"),
        (
            {"type": "list", "label": "L", "items": "text", "values": ["a"]},
            "fields.f.values",
            "enum",
        ),
    ],
)
def test_field_type_rules(field: dict[str, Any], expected_path: str, expected_text: str) -> None:
    """Enum needs values, list needs items (not list), values only on enums and enum lists."""
    data = base()
    data["fields"]["f"] = field
    found = check(data)
    assert expected_text in found[expected_path]


def test_list_of_enums_with_values_is_fine() -> None:
    """A list whose items are enum values, with its values, is valid."""
    data = base()
    data["fields"]["f"] = {"type": "list", "label": "L", "items": "enum", "values": ["a", "b"]}
    assert check(data) == {}


def test_unknown_control() -> None:
    """A control not in the catalogue is reported when the catalogue is given, not otherwise."""
    data = base()
    data["transitions"][1]["controls"][0]["control"] = "required_field"
    assert check(data) == {}
    found = check(data, {"required_fields"})
    message = found["transitions[1].controls[0].control"]
    assert "« required_field » inconnu" in message
    assert "required_fields" in message


@pytest.mark.parametrize("role", ["", "Acheteur", "chef de projet", "1er"])
def test_bad_transition_role(role: str) -> None:
    """Every role of a transition must be a non-empty identifier."""
    data = base()
    data["transitions"][1]["roles"] = ["acheteur", role]
    assert "rôle" in check(data)["transitions[1].roles[1]"]


def test_bad_state_role() -> None:
    """A state's role must be a non-empty identifier."""
    data = base()
    data["states"]["b"]["role"] = "Responsable achat"
    assert "rôle" in check(data)["states.b.role"]


def test_bad_state_and_field_names() -> None:
    """State and field names must be identifiers; such names are quoted in the field path."""
    data = base()
    data["states"]["Étape b"] = data["states"].pop("b")
    for transition in data["transitions"]:
        if transition["dest"] == "b":
            transition["dest"] = "Étape b"
    data["transitions"][1]["source"] = "Étape b"
    data["transitions"][2]["source"] = ["a", "Étape b"]
    data["fields"]["Montant HT"] = data["fields"].pop("montant")
    found = check(data)
    assert "nom d'étape" in found["states.Étape b"]
    assert "nom de champ" in found["fields.Montant HT"]


def test_empty_labels() -> None:
    """Labels shown to officers cannot be empty."""
    data = base()
    data["states"]["b"]["label"] = "  "
    data["transitions"][0]["label"] = ""
    found = check(data)
    assert "libellé" in found["states.b.label"]
    assert "libellé" in found["transitions[0].label"]


@pytest.mark.parametrize(
    "parts",
    [
        ("transitions", 2, "dest"),
        ("states", "publicite", "label"),
        ("fields", "Montant HT", "values", 0),
        ("states", "a.b", "role"),
        ("states", 'x"y', "role"),
        ("states", "", "label"),
        (),
    ],
)
def test_field_paths_round_trip(parts: tuple[str | int, ...]) -> None:
    """field_path and parse_field_path are inverse, including keys that need quoting."""
    assert parse_field_path(field_path(*parts)) == parts


def test_field_path_format() -> None:
    """Field paths read like the YAML: dots for keys, brackets for list positions."""
    assert field_path("transitions", 2, "dest") == "transitions[2].dest"
    assert field_path("states", "publicite", "label") == "states.publicite.label"
