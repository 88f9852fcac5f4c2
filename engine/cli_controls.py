"""``jalon controls``: the catalogue of controls a workflow definition may attach to a step."""

from __future__ import annotations

import json
from typing import Annotated

import typer

import engine.control_catalogue  # noqa: F401  (registers the built-in controls)
from engine.controls import ControlSpec, catalogue

controls_app = typer.Typer(
    help="Catalogue des contrôles ISO 9001 utilisables dans les définitions de procédure.",
    no_args_is_help=True,
)


def describe(spec: ControlSpec) -> dict[str, object]:
    """A control as the ``list`` command shows it (also its JSON form)."""
    return {
        "name": spec.name,
        "clause": spec.clause,
        "summary": spec.summary,
        "params": [
            {"name": name, "required": required, "description": description}
            for name, description, required in spec.describe_params()
        ],
    }


@controls_app.command("list")
def list_controls(
    as_json: Annotated[
        bool, typer.Option("--json", help="Sortie JSON (pour les scripts).")
    ] = False,
) -> None:
    """Lister les contrôles : nom, clause ISO 9001 par défaut, résumé et paramètres."""
    described = [describe(spec) for _, spec in sorted(catalogue().items())]
    if as_json:
        typer.echo(json.dumps(described, ensure_ascii=False, indent=2))
        return
    for entry in described:
        typer.echo(f"{entry['name']} — ISO 9001 § {entry['clause'] or '—'}")
        typer.echo(f"  {entry['summary']}")
        params = entry["params"]
        assert isinstance(params, list)
        for param in params:
            need = "obligatoire" if param["required"] else "facultatif"
            typer.echo(f"    - {param['name']} ({need}) : {param['description']}")
        typer.echo("")
