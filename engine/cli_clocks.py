"""``jalon clocks``: the cases' legal time limits — list, explain, interrupt, restart."""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.table import Table

from engine.cli_cases import AsOption
from engine.cli_context import actor_from_option, state
from engine.clocks import STATUS_LABELS
from engine.errors import InvalidValue
from engine.legal_calendar import french_date
from storage.clock_store import ClockRow, ListedClock

clocks_app = typer.Typer(
    help="Délais légaux des dossiers : lister, expliquer, interrompre, relancer.",
    no_args_is_help=True,
)
out = Console(highlight=False)

JsonFlag = Annotated[bool, typer.Option("--json", help="Sortie JSON (pour les scripts).")]
OnOption = Annotated[
    str | None,
    typer.Option("--on", help="Jour de l'événement (AAAA-MM-JJ), par défaut aujourd'hui."),
]


def _day(text: str | None, option: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidValue(
            option, f"« {text} » n'est pas une date AAAA-MM-JJ ({option})."
        ) from None


def clock_as_json(reference: str, row: ClockRow) -> dict[str, Any]:
    """The JSON form of a clock."""
    return {
        "case": reference,
        "clock": row.name,
        "kind": row.kind,
        "status": row.status,
        "started_on": row.started_on,
        "period": row.period,
        "due_on": row.due_on,
        "due_at": row.due_at,
        "earliest_after": row.earliest_after,
        "interruptions": row.interruptions,
        "remaining_days": row.remaining_days,
        "next_fire_at": row.next_fire_at,
        "ended_at": row.ended_at,
    }


def print_clocks(listed: list[ListedClock]) -> None:
    """Print clocks as a table, soonest due first."""
    table = Table(title="Délais", title_justify="left")
    for column in ("Dossier", "Délai", "Nature", "État", "Départ", "Durée", "Échéance"):
        table.add_column(column)
    for item in listed:
        row = item.clock
        table.add_row(
            item.reference,
            row.name,
            row.kind,
            STATUS_LABELS.get(row.status, row.status),
            row.started_on,
            row.period,
            french_date(date.fromisoformat(row.due_on)),
        )
    out.print(table)
    out.print(f"{len(listed)} délai(s).")


@clocks_app.command("list")
def list_command(
    ctx: typer.Context,
    due_before: Annotated[
        str | None,
        typer.Option("--due-before", help="Échéance avant ce jour (AAAA-MM-JJ, exclu)."),
    ] = None,
    case: Annotated[str | None, typer.Option("--case", help="Un dossier.")] = None,
    status: Annotated[
        str | None,
        typer.Option("--status", help="running, interrupted, stopped, missed ou elapsed."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Lister les délais des dossiers, les plus proches de leur échéance d'abord."""
    before = _day(due_before, "--due-before")
    listed = state(ctx).engine().clocks(reference=case, due_before=before, status=status)
    if as_json:
        rows = [clock_as_json(item.reference, item.clock) for item in listed]
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
    else:
        print_clocks(listed)


@clocks_app.command("explain")
def explain_command(
    ctx: typer.Context, reference: str, clock: str, as_json: JsonFlag = False
) -> None:
    """Expliquer un délai : événement de départ, règle, durée, chaque report et pourquoi."""
    detail = state(ctx).engine().clock_detail(reference, clock)
    row = detail.clock
    if as_json:
        document = {**clock_as_json(reference, row), "explanation": detail.explanation}
        typer.echo(json.dumps(document, ensure_ascii=False, indent=2))
        return
    out.print(f"[bold]{detail.definition.label}[/] ({row.name}) — dossier {reference}")
    out.print(
        f"État : {STATUS_LABELS.get(row.status, row.status)} · départ {row.started_on} · "
        f"durée {row.period} ({detail.explanation.get('chosen', '')})"
    )
    if detail.definition.legal_basis:
        out.print(f"Base légale : {', '.join(detail.definition.legal_basis)}")
    for line in detail.explanation.get("explanation", []):
        out.print(f"  {line}")
    for event in detail.explanation.get("history", []):
        out.print(
            f"  {event.get('event')} le {event.get('on')} : {event.get('rule', '')}".rstrip(" :")
        )
        for line in event.get("explanation", []):
            out.print(f"    {line}")
    out.print(f"Échéance : fin du {french_date(date.fromisoformat(row.due_on))}")
    if row.next_fire_at:
        out.print(f"Prochaine action du planificateur : {row.next_fire_at}")


@clocks_app.command("interrupt")
def interrupt_command(
    ctx: typer.Context,
    reference: str,
    clock: str,
    reason: Annotated[str, typer.Option("--reason", help="Motif de l'interruption.")],
    missing: Annotated[
        list[str] | None,
        typer.Option("--missing", help="Pièce manquante (répétable), ex. --missing RIB."),
    ] = None,
    on: OnOption = None,
    actor: AsOption = None,
) -> None:
    """Interrompre un délai (ex. demande de paiement incomplète, pièces manquantes listées)."""
    row = (
        state(ctx)
        .engine()
        .interrupt_clock(
            reference,
            clock,
            actor_from_option(actor),
            reason=reason,
            missing=missing or [],
            on=_day(on, "--on"),
        )
    )
    typer.echo(
        f"{reference} : délai {clock} interrompu le {row.interrupted_on} "
        f"({row.remaining_days} jour(s) restant(s))"
    )


@clocks_app.command("restart")
def restart_command(
    ctx: typer.Context, reference: str, clock: str, on: OnOption = None, actor: AsOption = None
) -> None:
    """Relancer un délai interrompu (toutes les pièces reçues) selon sa règle."""
    row = (
        state(ctx)
        .engine()
        .restart_clock(reference, clock, actor_from_option(actor), on=_day(on, "--on"))
    )
    last = orjson.loads(row.explanation)["history"][-1]
    typer.echo(
        f"{reference} : délai {clock} relancé le {last['on']}, échéance le "
        f"{french_date(date.fromisoformat(row.due_on))} ({last['rule']})"
    )
