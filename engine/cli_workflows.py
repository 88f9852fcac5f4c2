"""``jalon workflows``: validate, list, show, draw and register procedure definitions."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from engine.cli_context import AS_HELP, actor_from_option, state
from engine.controls import catalogue as control_catalogue
from engine.loader import collect_problems, load_definition
from engine.machine import compile_workflow
from engine.schema_export import render_schema
from workflows.catalogue import Catalogue, library_dir

workflows_app = typer.Typer(
    help="Procédures : valider, lister, afficher, dessiner, enregistrer.", no_args_is_help=True
)
out = Console(highlight=False)
err = Console(stderr=True, highlight=False)
SCHEMA_FILE = "workflow.schema.json"


def _yaml_files(paths: list[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        files.extend(sorted(path.glob("*.yaml")) if path.is_dir() else [path])
    return files


@workflows_app.command("validate")
def validate_command(
    paths: Annotated[list[Path], typer.Argument(help="Fichiers YAML ou dossiers.")],
) -> None:
    """Valider des définitions : chaque problème (fichier, ligne, champ) ; muet si tout va bien."""
    problems = []
    for path in _yaml_files(paths):
        problems.extend(collect_problems(path, known_controls=control_catalogue().keys()))
    for problem in problems:
        err.print(str(problem))
    if problems:
        err.print(f"{len(problems)} problème(s).")
        raise typer.Exit(1)


@workflows_app.command("list")
def list_command() -> None:
    """Lister les procédures de la bibliothèque (dossiers du paquet et de $JALON_WORKFLOWS)."""
    table = Table(title="Procédures", title_justify="left")
    for column in ("Identifiant", "Version", "Code", "Titre", "Pilote", "Fichier"):
        table.add_column(column)
    for path, definition in Catalogue().all():
        table.add_row(
            definition.id,
            str(definition.version),
            definition.code,
            definition.title,
            definition.owner,
            str(path),
        )
    out.print(table)


@workflows_app.command("show")
def show_command(
    workflow: str,
    version: Annotated[int | None, typer.Option("--version")] = None,
) -> None:
    """Afficher une procédure : champs, étapes et transitions avec rôles et contrôles."""
    definition = Catalogue().get(workflow, version)
    out.print(
        f"[bold]{definition.title}[/] — {definition.id} v{definition.version} "
        f"(code {definition.code}) — pilote : {definition.owner}"
    )
    if definition.legal_references:
        out.print("Références : " + " ; ".join(definition.legal_references))
    fields = Table(title="Champs", title_justify="left")
    for column in ("Champ", "Type", "Libellé"):
        fields.add_column(column)
    for name, field in definition.fields.items():
        kind = field.type.value + (f" [{', '.join(field.values)}]" if field.values else "")
        fields.add_row(name, kind, field.label)
    out.print(fields)
    states = Table(title="Étapes", title_justify="left")
    for column in ("État", "Libellé", "Rôle", "Base légale", "Pièces attendues"):
        states.add_column(column)
    for name, st in definition.states.items():
        flag = " (initial)" if st.initial else " (final)" if st.final else ""
        states.add_row(
            name + flag, st.label, st.role or "", ", ".join(st.legal_basis), ", ".join(st.documents)
        )
    out.print(states)
    transitions = Table(title="Transitions", title_justify="left")
    for column in ("Déclencheur", "De", "Vers", "Action", "Rôles", "Contrôles"):
        transitions.add_column(column)
    for t in definition.transitions:
        transitions.add_row(
            t.trigger,
            ", ".join(t.sources),
            t.dest,
            t.label,
            ", ".join(t.roles) or "tous",
            ", ".join(c.control for c in t.controls),
        )
    out.print(transitions)


@workflows_app.command("diagram")
def diagram_command(
    workflow: str,
    version: Annotated[int | None, typer.Option("--version")] = None,
    output: Annotated[Path | None, typer.Option("--out", help="Écrire dans ce fichier.")] = None,
) -> None:
    """Dessiner une procédure en diagramme d'états Mermaid."""
    text = compile_workflow(Catalogue().get(workflow, version)).mermaid()
    if output is None:
        typer.echo(text)
    else:
        output.write_text(text + "\n", encoding="utf-8")


@workflows_app.command("schema")
def schema_command(
    write: Annotated[
        bool, typer.Option("--write", help=f"Écrire workflows/{SCHEMA_FILE}.")
    ] = False,
) -> None:
    """Afficher (ou écrire) le schéma JSON des définitions, pour la complétion des éditeurs."""
    text = render_schema()
    if write:
        (library_dir() / SCHEMA_FILE).write_text(text, encoding="utf-8")
    else:
        typer.echo(text, nl=False)


@workflows_app.command("register")
def register_command(
    ctx: typer.Context,
    paths: Annotated[list[Path], typer.Argument(help="Fichiers YAML à enregistrer.")],
    actor: Annotated[str | None, typer.Option("--as", help=AS_HELP)] = None,
) -> None:
    """Enregistrer des versions de définitions dans la base (une version ne change plus)."""
    engine = state(ctx).engine()
    who = actor_from_option(actor)
    for path in _yaml_files(paths):
        definition = load_definition(path, known_controls=control_catalogue().keys())
        registration = engine.register(definition, path.read_text(encoding="utf-8"), str(path), who)
        status = "enregistrée" if registration.created else "déjà enregistrée (identique)"
        typer.echo(
            f"{definition.id} v{definition.version} : {status}, "
            f"empreinte {registration.digest[:16]}…"
        )
