"""The catalogue as a whole: every control evaluated, parameters checked at load, ``list``."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from typer.testing import CliRunner

from engine.cli_controls import controls_app
from engine.controls import catalogue, evaluate
from engine.definition import ControlRef
from engine.loader import collect_problems, load_definition
from tests.unit.test_controls_data import definition, problems_of, snap

ROOT = Path(__file__).resolve().parents[2]
BUILT_IN = {"required_fields", "required_documents", "rule", "threshold", "delay"}


def test_the_catalogue_holds_the_built_in_controls_with_their_clauses() -> None:
    controls = catalogue()
    assert set(controls) >= BUILT_IN
    assert controls["required_documents"].clause == "7.5.3"
    assert all(controls[name].clause == "8.5.1" for name in BUILT_IN - {"required_documents"})


def test_every_control_is_evaluated_without_short_circuit() -> None:
    refs = [
        ControlRef(control="required_fields", params={"fields": ["objet"]}),
        ControlRef(control="rule", params={"expression": "false"}),
        ControlRef(control="required_documents", params={"types": ["avis"]}),
    ]
    results = evaluate(refs, snap({}))
    assert [r.control for r in results] == ["required_fields", "rule", "required_documents"]
    assert not any(r.passed for r in results)
    assert all(r.as_payload()["reason"] for r in results)


def test_a_set_of_names_still_only_checks_that_controls_exist() -> None:
    """``known_controls`` given as names checks names; a catalogue also checks parameters."""
    controls = """\
    - control: required_fields
      params: {champs: [objet]}
    """
    text = definition(controls)
    assert collect_problems("demo.yaml", text=text, known_controls={"required_fields"}) == []
    assert problems_of(controls)


def test_unknown_controls_are_still_reported_with_a_catalogue() -> None:
    controls = """\
    - control: required_field
      params: {fields: [objet]}
    """
    (problem,) = problems_of(controls)
    assert problem.field == "transitions[0].controls[0].control"
    assert "vouliez-vous dire « required_fields »" in problem.message


def test_the_library_definitions_have_valid_control_parameters() -> None:
    for path in sorted((ROOT / "workflows").glob("*.yaml")):
        load_definition(path, known_controls=catalogue())


def _app() -> typer.Typer:
    app = typer.Typer(pretty_exceptions_enable=False, add_completion=False)

    @app.callback()
    def main() -> None:
        """Jalon."""

    app.add_typer(controls_app, name="controls")
    return app


def test_list_prints_name_clause_summary_and_parameters() -> None:
    result = CliRunner().invoke(_app(), ["controls", "list"])
    assert result.exit_code == 0, result.output
    assert "delay — ISO 9001 § 8.5.1" in result.output
    assert "required_documents — ISO 9001 § 7.5.3" in result.output
    assert "    - comparison (obligatoire) :" in result.output
    assert "    - when (facultatif) :" in result.output


def test_list_as_json() -> None:
    result = CliRunner().invoke(_app(), ["controls", "list", "--json"])
    assert result.exit_code == 0, result.output
    listed = {entry["name"]: entry for entry in json.loads(result.output)}
    assert set(listed) >= BUILT_IN
    params = {p["name"]: p["required"] for p in listed["threshold"]["params"]}
    assert params == {
        "field": True,
        "table": True,
        "comparison": True,
        "reference_date_field": False,
    }
