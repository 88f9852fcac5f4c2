"""``jalon nc``: the register of non-conformities — open, list, show, advance, find similar."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from engine.cli_cases import (
    AsOption,
    IfVersion,
    JsonFlag,
    case_as_json,
    parse_assignments,
    print_case,
    print_outcome_findings,
)
from engine.cli_context import actor_from_option, state
from engine.nc_commands import NonconformityView
from engine.nonconformity import (
    NATURE_LABELS,
    ORIGIN_LABELS,
    ORIGINS,
    SEVERITY_ALIASES,
    SEVERITY_LABELS,
)
from storage.nonconformity_index import NcRow

nc_app = typer.Typer(
    help="Non-conformités (ISO 9001 §8.7, §10.2) : ouvrir, lister, traiter, rapprocher.",
    no_args_is_help=True,
)
out = Console(highlight=False)

SeverityOption = Annotated[
    str | None,
    typer.Option("--severity", help="Gravité : major (majeure), minor (mineure), observation."),
]


def nc_as_json(row: NcRow) -> dict[str, Any]:
    """The JSON form of a listed non-conformity."""
    return {
        "reference": row.reference,
        "state": row.state,
        "closed_at": row.closed_at,
        "case": row.source_reference,
        "workflow": row.workflow_id,
        "workflow_version": row.workflow_version,
        "trigger": row.trigger,
        "control": row.control,
        "clause": row.clause,
        "severity": row.severity,
        "origin": row.origin,
        "nature": row.nature,
        "raised_at": row.raised_at,
        "raised_by": row.raised_by,
    }


def print_rows(rows: list[NcRow], title: str) -> None:
    """Print non-conformities as a table, one line each."""
    table = Table(title=title, title_justify="left")
    for column in ("Référence", "État", "Dossier", "Étape", "Contrôle", "Clause", "Gravité"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            row.reference,
            row.state,
            row.source_reference,
            row.trigger or "—",
            row.control or "—",
            row.clause or "—",
            SEVERITY_LABELS.get(row.severity, row.severity),
        )
    out.print(table)
    out.print(f"{len(rows)} non-conformité(s).")


def _severity(value: str | None) -> str | None:
    if value is None:
        return None
    lowered = value.strip().lower()
    return SEVERITY_ALIASES.get(lowered, lowered)


@nc_app.command("open")
def open_command(
    ctx: typer.Context,
    reference: Annotated[str, typer.Argument(help="Le dossier concerné, ex. AMP-2026-MAPA-0001.")],
    clause: Annotated[str, typer.Option("--clause", help="Clause ISO 9001, ex. 8.5.1.")],
    severity: Annotated[
        str, typer.Option("--severity", help="major (majeure), minor (mineure) ou observation.")
    ],
    finding: Annotated[str, typer.Option("--finding", help="Le constat, en une phrase au moins.")],
    origin: Annotated[
        str, typer.Option("--origin", help=f"Origine : {', '.join(ORIGINS)}.")
    ] = "manual",
    trigger: Annotated[
        str | None, typer.Option("--step", help="Déclencheur de l'étape en cause, s'il y en a une.")
    ] = None,
    actor: AsOption = None,
) -> None:
    """Ouvrir une non-conformité à la main (audit interne, réclamation…) sur un dossier."""
    engine = state(ctx).engine()
    view = engine.open_nonconformity(
        reference,
        clause=clause,
        severity=severity,
        finding=finding,
        origin=origin,
        trigger=trigger,
        actor=actor_from_option(actor),
    )
    typer.echo(view.reference)


@nc_app.command("list")
def list_command(
    ctx: typer.Context,
    status: Annotated[
        str | None, typer.Option("--status", help="État : detectee, enregistree, close…")
    ] = None,
    severity: SeverityOption = None,
    clause: Annotated[str | None, typer.Option("--clause", help="Clause ISO 9001.")] = None,
    workflow: Annotated[
        str | None, typer.Option("--workflow", help="Procédure du dossier concerné.")
    ] = None,
    case: Annotated[str | None, typer.Option("--case", help="Dossier concerné.")] = None,
    control: Annotated[str | None, typer.Option("--control", help="Contrôle en échec.")] = None,
    origin: Annotated[str | None, typer.Option("--origin", help="Origine.")] = None,
    nature: Annotated[
        str | None, typer.Option("--nature", help="nonconformity (écart) ou concession.")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Lister les non-conformités, les plus récentes d'abord, selon les filtres donnés."""
    rows = (
        state(ctx)
        .engine()
        .nonconformities(
            state=status,
            severity=_severity(severity),
            clause=clause,
            workflow=workflow,
            source=case,
            control=control,
            origin=origin,
            nature=nature,
        )
    )
    if as_json:
        typer.echo(json.dumps([nc_as_json(row) for row in rows], ensure_ascii=False, indent=2))
    else:
        print_rows(rows, "Non-conformités")


def print_nonconformity(view: NonconformityView) -> None:
    """Print a non-conformity: its origin, its case (lifecycle) and the similar ones."""
    origin = view.origin
    out.print(
        f"[bold]{origin.reference}[/] — {NATURE_LABELS.get(origin.nature, origin.nature)} "
        f"{SEVERITY_LABELS.get(origin.severity, origin.severity)}, ISO 9001 § "
        f"{origin.clause or '—'}"
    )
    out.print(
        f"Dossier {origin.source_reference} ({origin.workflow_id} v{origin.workflow_version}), "
        f"étape {origin.trigger or '—'}, contrôle {origin.control or '—'} ; origine : "
        f"{ORIGIN_LABELS.get(origin.origin, origin.origin)} ; ouverte le {origin.raised_at} "
        f"par {origin.raised_by}"
    )
    print_case(view.case)
    if view.similar:
        print_rows(list(view.similar), "Non-conformités similaires (même contrôle ou clause)")
    else:
        out.print("Aucune non-conformité similaire sur d'autres dossiers.")


@nc_app.command("show")
def show_command(ctx: typer.Context, reference: str, as_json: JsonFlag = False) -> None:
    """Afficher une non-conformité : origine, traitement, étapes possibles, similaires."""
    view = state(ctx).engine().nonconformity(reference)
    if as_json:
        document = {
            **nc_as_json(view.origin),
            "case_view": case_as_json(view.case),
            "similar": [nc_as_json(row) for row in view.similar],
        }
        typer.echo(json.dumps(document, ensure_ascii=False, indent=2))
    else:
        print_nonconformity(view)


@nc_app.command("similar")
def similar_command(ctx: typer.Context, reference: str, as_json: JsonFlag = False) -> None:
    """Les non-conformités d'autres dossiers au même contrôle ou à la même clause (§10.2.1 b)."""
    similar = list(state(ctx).engine().nonconformity(reference).similar)
    if as_json:
        typer.echo(json.dumps([nc_as_json(row) for row in similar], ensure_ascii=False, indent=2))
    else:
        print_rows(similar, f"Non-conformités similaires à {reference}")


@nc_app.command("set")
def set_command(
    ctx: typer.Context,
    reference: str,
    assignments: Annotated[list[str], typer.Argument(help="CHAMP=VALEUR, ex. cause_racine=…")],
    actor: AsOption = None,
    if_version: IfVersion = None,
) -> None:
    """Renseigner le traitement d'une non-conformité (correction, cause racine, action…)."""
    engine = state(ctx).engine()
    engine.require_nonconformity(reference)
    view = engine.set_values(
        reference, parse_assignments(assignments), actor_from_option(actor), if_version
    )
    typer.echo(f"{reference} : version {view.row.version}")


@nc_app.command("fire")
def fire_command(
    ctx: typer.Context,
    reference: str,
    trigger: str,
    actor: AsOption = None,
    if_version: IfVersion = None,
) -> None:
    """Franchir une étape du traitement (enregistrer, corriger, analyser_cause…)."""
    engine = state(ctx).engine()
    engine.require_nonconformity(reference)
    outcome = engine.fire(reference, trigger, actor_from_option(actor), if_version)
    typer.echo(
        f"{reference} : {outcome.from_label} → {outcome.to_label} (version {outcome.version})"
    )
    print_outcome_findings(outcome)
