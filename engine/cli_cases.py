"""``jalon case``: open cases, set their data, attach documents, declare, tick, fire, show."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from engine.cli_audit import print_trail
from engine.cli_context import AS_HELP, actor_from_option, state
from engine.errors import InvalidValue
from engine.views import CaseView, FireOutcome

case_app = typer.Typer(
    help="Dossiers : ouvrir, renseigner, joindre, avancer.", no_args_is_help=True
)
out = Console(highlight=False)

AsOption = Annotated[str | None, typer.Option("--as", help=AS_HELP)]
IfVersion = Annotated[
    int | None,
    typer.Option("--if-version", help="Refuser si le dossier n'est plus à cette version."),
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Sortie JSON (pour les scripts).")]


def parse_assignments(assignments: list[str]) -> dict[str, str]:
    """Read ``FIELD=VALUE`` pairs (an empty VALUE clears the field)."""
    values: dict[str, str] = {}
    for assignment in assignments:
        name, sep, value = assignment.partition("=")
        if not sep or not name.strip():
            raise InvalidValue(
                assignment, f"« {assignment} » : écrivez CHAMP=VALEUR, par exemple objet=Papier."
            )
        values[name.strip()] = value
    return values


def case_as_json(view: CaseView) -> dict[str, Any]:
    """The JSON form of a case view printed by ``--json``."""
    return {
        "reference": view.reference,
        "workflow": view.row.workflow_id,
        "workflow_version": view.row.workflow_version,
        "org": view.row.org,
        "state": view.row.state,
        "state_label": view.state_label,
        "version": view.row.version,
        "opened_at": view.row.opened_at,
        "closed_at": view.row.closed_at,
        "data": view.data,
        "documents": [
            {
                "type": d.doc_type,
                "name": d.name,
                "size": d.size,
                "sha256": d.sha256,
                "signed_by": d.signed_by,
            }
            for d in view.documents
        ],
        "steps": [
            {
                "trigger": s.trigger,
                "label": s.label,
                "dest": s.dest,
                "roles": list(s.roles),
                "failing_controls": [r.as_payload() for r in s.failing],
            }
            for s in view.steps
        ],
    }


def print_case(view: CaseView) -> None:
    """Print a case for a person: state, data, documents, steps available now."""
    row = view.row
    out.print(
        f"[bold]{view.reference}[/] — {view.definition.title} (v{row.workflow_version}) — {row.org}"
    )
    out.print(f"État : [bold]{view.state_label}[/] ({row.state}) · version {row.version}")
    data = Table(title="Données", show_header=True, title_justify="left")
    data.add_column("Champ")
    data.add_column("Valeur")
    for name, field in view.definition.fields.items():
        if name in view.data:
            data.add_row(field.label, str(view.data[name]))
    out.print(data)
    if view.documents:
        docs = Table(title="Pièces", title_justify="left")
        for column in ("Type", "Nom", "Taille", "SHA-256", "Signée par"):
            docs.add_column(column)
        for d in view.documents:
            docs.add_row(d.doc_type, d.name, str(d.size), d.sha256[:16] + "…", d.signed_by or "—")
        out.print(docs)
    if not view.steps:
        out.print("Aucune étape disponible (dossier clos).")
        return
    steps = Table(title="Étapes possibles", title_justify="left")
    for column in ("Déclencheur", "Action", "Vers", "Rôles", "Contrôles qui échoueraient"):
        steps.add_column(column)
    for s in view.steps:
        failing = "\n".join(f"{r.control} : {r.reason}" for r in s.failing) or "—"
        steps.add_row(s.trigger, s.label, s.dest_label, ", ".join(s.roles) or "tous", failing)
    out.print(steps)


@case_app.command("open")
def open_command(
    ctx: typer.Context,
    workflow: Annotated[str, typer.Argument(help="Identifiant de la procédure, ex. mapa.")],
    org: Annotated[str, typer.Option("--org", envvar="JALON_ORG", help="Organisation.")] = "JALON",
    assignments: Annotated[
        list[str] | None, typer.Option("--set", help="CHAMP=VALEUR (répétable).")
    ] = None,
    version: Annotated[int | None, typer.Option("--version", help="Version précise.")] = None,
    actor: AsOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Ouvrir un dossier sur une procédure ; affiche sa référence."""
    engine = state(ctx).engine()
    view = engine.open_case(
        workflow,
        org=org,
        actor=actor_from_option(actor),
        values=parse_assignments(assignments or []),
        version=version,
    )
    if as_json:
        typer.echo(json.dumps(case_as_json(view), ensure_ascii=False, indent=2))
    else:
        typer.echo(view.reference)


@case_app.command("set")
def set_command(
    ctx: typer.Context,
    reference: str,
    assignments: Annotated[list[str], typer.Argument(help="CHAMP=VALEUR ...")],
    actor: AsOption = None,
    if_version: IfVersion = None,
) -> None:
    """Renseigner des champs du dossier (valeur vide : effacer le champ)."""
    engine = state(ctx).engine()
    view = engine.set_values(
        reference, parse_assignments(assignments), actor_from_option(actor), if_version
    )
    typer.echo(
        f"{view.reference} : {len(assignments)} champ(s) enregistré(s), version {view.row.version}"
    )


@case_app.command("attach")
def attach_command(
    ctx: typer.Context,
    reference: str,
    file: Annotated[Path, typer.Argument(help="Fichier de la pièce (il reste où il est).")],
    doc_type: Annotated[str, typer.Option("--type", help="Type de pièce, ex. rapport_analyse.")],
    actor: AsOption = None,
    if_version: IfVersion = None,
    signed_by: Annotated[
        str | None,
        typer.Option(
            "--signed-by",
            help="Signataire de la pièce, déclaré par vous (la signature électronique elle-même "
            "n'est pas vérifiée).",
        ),
    ] = None,
) -> None:
    """Joindre une pièce : son nom, son type, sa taille et son empreinte SHA-256."""
    engine = state(ctx).engine()
    document = engine.attach(
        reference, file, doc_type, actor_from_option(actor), if_version, signed_by=signed_by
    )
    signed = f", signée par {document.signed_by}" if document.signed_by else ""
    typer.echo(
        f"{reference} : pièce {document.doc_type} « {document.name} » sha256 "
        f"{document.sha256}{signed}"
    )


@case_app.command("declare")
def declare_command(
    ctx: typer.Context,
    reference: str,
    declaration: Annotated[
        str, typer.Option("--type", help="Type de déclaration, ex. absence_conflit_interets.")
    ],
    statement: Annotated[
        str | None, typer.Option("--statement", help="Texte de la déclaration.")
    ] = None,
    actor: AsOption = None,
    if_version: IfVersion = None,
) -> None:
    """Enregistrer une déclaration de l'intervenant (ex. absence de conflit d'intérêts)."""
    engine = state(ctx).engine()
    view = engine.declare(reference, declaration, actor_from_option(actor), statement, if_version)
    typer.echo(f"{reference} : déclaration {declaration} enregistrée, version {view.row.version}")


@case_app.command("check")
def check_command(
    ctx: typer.Context,
    reference: str,
    item: Annotated[str, typer.Argument(help="Identifiant du point de la liste.")],
    evidence: Annotated[str, typer.Option("--evidence", help="La preuve du point coché.")],
    actor: AsOption = None,
    if_version: IfVersion = None,
) -> None:
    """Cocher un point de la liste de vérification, avec sa preuve."""
    engine = state(ctx).engine()
    view = engine.tick(reference, item, evidence, actor_from_option(actor), if_version)
    typer.echo(f"{reference} : point {item} coché, version {view.row.version}")


@case_app.command("fire")
def fire_command(
    ctx: typer.Context,
    reference: str,
    trigger: str,
    actor: AsOption = None,
    if_version: IfVersion = None,
    derogation: Annotated[
        str | None,
        typer.Option(
            "--derogation",
            help="Justification écrite d'une dérogation : l'étape passe malgré des contrôles "
            "bloquants en échec si vous détenez l'autorité de déroger ; chaque contrôle "
            "dérogé ouvre une non-conformité de type concession.",
        ),
    ] = None,
) -> None:
    """Franchir une étape si le rôle le permet et si les contrôles bloquants sont satisfaits."""
    engine = state(ctx).engine()
    outcome = engine.fire(
        reference, trigger, actor_from_option(actor), if_version, derogation=derogation
    )
    typer.echo(
        f"{reference} : {outcome.from_label} → {outcome.to_label} (version {outcome.version})"
    )
    print_outcome_findings(outcome)


def print_outcome_findings(outcome: FireOutcome) -> None:
    """Print the controls that failed on a step that passed, and what they raised."""
    if outcome.derogated:
        typer.echo("  étape franchie par dérogation")
    for result in outcome.results:
        if not result.passed:
            kind = "dérogé" if result.blocks else "non bloquant"
            typer.echo(f"  {kind} : {result.control} : {result.reason}")
    for nc in outcome.nonconformities:
        typer.echo(f"  non-conformité ouverte : {nc}")


@case_app.command("show")
def show_command(
    ctx: typer.Context,
    reference: str,
    actor: AsOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Afficher un dossier : état, données, pièces, étapes possibles et contrôles en échec."""
    engine = state(ctx).engine()
    view = engine.show(reference, actor_from_option(actor) if actor else None)
    if as_json:
        typer.echo(json.dumps(case_as_json(view), ensure_ascii=False, indent=2))
    else:
        print_case(view)


@case_app.command("list")
def list_command(
    ctx: typer.Context,
    workflow: Annotated[str | None, typer.Option("--workflow")] = None,
    case_state: Annotated[str | None, typer.Option("--state")] = None,
    org: Annotated[str | None, typer.Option("--org")] = None,
    limit: Annotated[int, typer.Option("--limit")] = 200,
    as_json: JsonFlag = False,
) -> None:
    """Lister les dossiers, filtrés par procédure, état ou organisation."""
    rows = state(ctx).engine().list_cases(workflow=workflow, state=case_state, org=org, limit=limit)
    if as_json:
        typer.echo(
            json.dumps(
                [
                    {
                        "reference": r.reference,
                        "workflow": r.workflow_id,
                        "version": r.workflow_version,
                        "org": r.org,
                        "state": r.state,
                        "updated_at": r.updated_at,
                    }
                    for r in rows
                ],
                ensure_ascii=False,
                indent=2,
            )
        )
        return
    table = Table(title=f"{len(rows)} dossier(s)", title_justify="left")
    for column in ("Référence", "Procédure", "Organisation", "État", "Mis à jour"):
        table.add_column(column)
    for r in rows:
        table.add_row(
            r.reference,
            f"{r.workflow_id} v{r.workflow_version}",
            r.org,
            r.state,
            r.updated_at[:19].replace("T", " "),
        )
    out.print(table)


@case_app.command("history")
def history_command(ctx: typer.Context, reference: str, as_json: JsonFlag = False) -> None:
    """Rejouer l'historique d'un dossier (toutes ses entrées d'audit)."""
    print_trail(state(ctx).engine(), reference, as_json)
