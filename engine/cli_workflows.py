"""``jalon workflows``: validate, list, show, draw and register procedure definitions."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from engine.cli_context import AS_HELP, actor_from_option, state
from engine.controls import catalogue as control_catalogue
from engine.definition import WorkflowDef
from engine.errors import Problem
from engine.loader import collect_problems, load_definition
from engine.machine import compile_workflow
from engine.schema_export import render_schema, write_schema
from storage.database import Database, default_url, normalize_url
from storage.migrate import HEAD_REVISION, current_revision
from storage.store import Store
from workflows.catalogue import Catalogue, schema_path

workflows_app = typer.Typer(
    help="Procédures : valider, lister, afficher, dessiner, enregistrer.", no_args_is_help=True
)
out = Console(highlight=False)
_CONNECT_TIMEOUT_S = 5
"""How long ``list`` waits for a PostgreSQL server before leaving out the « Enregistrée » column."""


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
    problems: list[Problem] = []
    for path in _yaml_files(paths):
        problems.extend(collect_problems(path, known_controls=control_catalogue()))
    _print_problems(problems)
    if problems:
        typer.echo(f"{len(problems)} problème(s).", err=True)
        raise typer.Exit(1)


def _print_problems(problems: Iterable[Problem]) -> None:
    """Print problems on standard error as plain text, one per line, never wrapped nor styled."""
    for problem in problems:
        typer.echo(str(problem), err=True)


@workflows_app.command("list")
def list_command(ctx: typer.Context) -> None:
    """Lister les procédures de la bibliothèque (dossiers du paquet et de $JALON_WORKFLOWS).

    La colonne « Enregistrée » dit si chaque version l'est dans la base ``--db``, quand cette
    base existe et est à jour ; les fichiers en erreur sont signalés après le tableau.
    """
    catalogue = Catalogue()
    entries = catalogue.all()
    registered = _registered(state(ctx).db_url, [definition for _, definition in entries])
    table = Table(title="Procédures", title_justify="left")
    columns = ["Identifiant", "Version", "Code", "Titre", "Pilote", "Fichier"]
    for column in columns + (["Enregistrée"] if registered is not None else []):
        table.add_column(column, overflow="fold")  # a narrow terminal folds paths, never cuts
    for path, definition in entries:
        row = [
            definition.id,
            str(definition.version),
            definition.code,
            definition.title,
            definition.owner,
            str(path),
        ]
        if registered is not None:
            row.append("oui" if (definition.id, definition.version) in registered else "non")
        _add_row(table, *row)
    out.print(table)
    if catalogue.problems:
        typer.echo(
            f"Attention : {len(catalogue.problems)} problème(s) dans la bibliothèque, "
            "les fichiers concernés sont ignorés :",
            err=True,
        )
        _print_problems(catalogue.problems)


def _registered(db_url: str | None, definitions: list[WorkflowDef]) -> set[tuple[str, int]] | None:
    """The ``(id, version)`` pairs registered in the database, or None when it is not usable.

    The database is only read: a missing SQLite file is not created, and a database that is
    not at the latest revision, or cannot be reached within a few seconds, gives None.
    """
    url = normalize_url(db_url or default_url())
    if url.startswith("sqlite:"):
        file = url.partition("///")[2].partition("?")[0]
        if not file or file == ":memory:" or not Path(file).is_file():
            return None
    elif "connect_timeout=" not in url:
        url += ("&" if "?" in url else "?") + f"connect_timeout={_CONNECT_TIMEOUT_S}"
    # The column is optional: whatever stops the reading (bad URL, driver, network, a file
    # that is not a database) leaves it out; the commands that need the base report it.
    try:
        database = Database(url)
    except Exception:
        return None
    try:
        if current_revision(database) != HEAD_REVISION:
            return None
        store = Store(database)
        try:
            with store.read() as tx:
                return {(d.id, d.version) for d in definitions if tx.workflow(d.id, d.version)}
        finally:
            store.close()
    except Exception:
        return None
    finally:
        database.dispose()


@workflows_app.command("show")
def show_command(
    workflow: str,
    version: Annotated[int | None, typer.Option("--version")] = None,
) -> None:
    """Afficher une procédure : champs, étapes et transitions avec rôles et contrôles."""
    definition = Catalogue().get(workflow, version)
    out.print(
        Text.assemble(
            (definition.title, "bold"),
            f" — {definition.id} v{definition.version} (code {definition.code}) — "
            f"pilote : {definition.owner}",
        )
    )
    if definition.legal_references:
        out.print(Text("Références : " + " ; ".join(definition.legal_references)))
    fields = Table(title="Champs", title_justify="left")
    for column in ("Champ", "Type", "Libellé"):
        fields.add_column(column)
    for name, field in definition.fields.items():
        kind = field.type.value + (f" [{', '.join(field.values)}]" if field.values else "")
        _add_row(fields, name, kind, field.label)
    out.print(fields)
    states = Table(title="Étapes", title_justify="left")
    for column in ("État", "Libellé", "Rôle", "Base légale", "Pièces attendues"):
        states.add_column(column)
    for name, st in definition.states.items():
        flag = " (initial)" if st.initial else " (final)" if st.final else ""
        _add_row(
            states,
            name + flag,
            st.label,
            st.role or "",
            ", ".join(st.legal_basis),
            ", ".join(st.documents),
        )
    out.print(states)
    transitions = Table(title="Transitions", title_justify="left")
    for column in ("Déclencheur", "De", "Vers", "Action", "Rôles", "Contrôles"):
        transitions.add_column(column)
    for t in definition.transitions:
        _add_row(
            transitions,
            t.trigger,
            ", ".join(t.sources),
            t.dest,
            t.label,
            ", ".join(t.roles) or "tous",
            ", ".join(c.control for c in t.controls),
        )
    out.print(transitions)


def _add_row(table: Table, *cells: str) -> None:
    """Add a row of plain-text cells: a label holding ``[...]`` is not read as rich markup."""
    table.add_row(*(Text(cell) for cell in cells))


@workflows_app.command("diagram")
def diagram_command(
    workflow: str,
    version: Annotated[int | None, typer.Option("--version")] = None,
    output: Annotated[Path | None, typer.Option("--out", help="Écrire dans ce fichier.")] = None,
) -> None:
    """Dessiner une procédure en diagramme d'états Mermaid."""
    text = compile_workflow(Catalogue().get(workflow, version)).mermaid()  # ends with "\n"
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")


@workflows_app.command("schema")
def schema_command(
    write: Annotated[
        bool, typer.Option("--write", help="Écrire le fichier du schéma de la bibliothèque.")
    ] = False,
) -> None:
    """Afficher (ou écrire) le schéma JSON des définitions, pour la complétion des éditeurs."""
    if write:
        path = schema_path()
        status = "écrit" if write_schema(path) else "déjà à jour"
        typer.echo(f"{path} : {status}")
    else:
        typer.echo(render_schema(), nl=False)


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
        definition = load_definition(path, known_controls=control_catalogue())
        registration = engine.register(definition, path.read_text(encoding="utf-8"), str(path), who)
        status = "enregistrée" if registration.created else "déjà enregistrée (identique)"
        typer.echo(
            f"{definition.id} v{definition.version} : {status}, "
            f"empreinte {registration.digest[:16]}…"
        )
