"""``jalon audit``: verify the hash chains, print a case's timeline, take checkpoints."""

from __future__ import annotations

import json
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.table import Table

from engine.cli_context import state
from engine.service import Engine

EXIT_NOT_INTACT = 4

audit_app = typer.Typer(help="Piste d'audit : vérifier, retracer, sceller.", no_args_is_help=True)
out = Console(highlight=False)


@audit_app.command("verify")
def verify_command(
    ctx: typer.Context,
    reference: Annotated[
        str | None, typer.Argument(help="Un dossier ; sans : toute la base.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Prouver qu'aucune entrée n'a été modifiée, supprimée, insérée ou déplacée."""
    report = state(ctx).engine().verify(reference)
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "intact": report.intact,
                    "entries": report.entries,
                    "chains": report.chains,
                    "checkpoints": report.checkpoints,
                    "findings": [
                        {
                            "chain": f.chain_id,
                            "case": f.reference,
                            "seq": f.seq,
                            "problem": f.problem,
                            "message": f.message,
                        }
                        for f in report.findings
                    ],
                },
                ensure_ascii=False,
                indent=2,
            )
        )
    elif report.intact:
        out.print(
            f"[green]Piste intacte[/] : {report.entries} entrée(s), {report.chains} chaîne(s), "
            f"{report.checkpoints} point(s) de contrôle vérifiés."
        )
    else:
        out.print(
            f"[bold red]Piste altérée[/] : {len(report.findings)} anomalie(s) sur "
            f"{report.entries} entrée(s) vérifiée(s)."
        )
        for finding in report.findings:
            out.print(f"  - [{finding.problem}] {finding.message}")
    if not report.intact:
        raise typer.Exit(EXIT_NOT_INTACT)


@audit_app.command("trail")
def trail_command(
    ctx: typer.Context,
    reference: str,
    as_json: Annotated[bool, typer.Option("--json", help="Entrées brutes, une par ligne.")] = False,
) -> None:
    """Afficher la chronologie d'un dossier."""
    print_trail(state(ctx).engine(), reference, as_json)


def print_trail(engine: Engine, reference: str, as_json: bool) -> None:
    """Print a case's audit entries as a timeline, or as JSON Lines (body, prev_hash, hash)."""
    entries = engine.history(reference)
    if as_json:
        for entry in entries:
            typer.echo(
                json.dumps(
                    {"body": entry.body, "prev_hash": entry.prev_hash, "hash": entry.hash},
                    ensure_ascii=False,
                )
            )
        return
    table = Table(title=f"Historique de {reference}", title_justify="left")
    for column in ("N°", "Date (UTC)", "Acteur", "Fait", "De → vers", "Détail"):
        table.add_column(column)
    for entry in entries:
        payload = orjson.loads(entry.body)["payload"]
        move = ""
        if entry.from_state != entry.to_state:
            move = f"{entry.from_state or '∅'} → {entry.to_state or '∅'}"
        table.add_row(
            str(entry.seq),
            entry.recorded_at[:19].replace("T", " "),
            entry.actor,
            entry.kind,
            move,
            _detail(entry.kind, payload),
        )
    out.print(table)


def _detail(kind: str, payload: dict[str, Any]) -> str:
    if kind == "case.transition":
        failed = [c for c in payload.get("controls", []) if not c["passed"]]
        note = f" ({len(failed)} contrôle(s) non bloquant(s) en échec)" if failed else ""
        return f"{payload.get('trigger')}{note}"
    if kind == "case.data_set":
        return ", ".join(f"{k}={v}" for k, v in payload.get("values", {}).items())
    if kind == "case.document_attached":
        return f"{payload.get('type')} « {payload.get('name')} »"
    if kind == "command.refused":
        return f"{payload.get('command')} refusé : {payload.get('message')}"
    if kind == "case.opened":
        return f"{payload.get('workflow')} v{payload.get('version')}"
    return ""


@audit_app.command("checkpoint")
def checkpoint_command(ctx: typer.Context) -> None:
    """Sceller l'état de toutes les chaînes (à conserver aussi hors de la base)."""
    checkpoint = state(ctx).engine().checkpoint()
    typer.echo(
        f"Point de contrôle {checkpoint.seq} : {checkpoint.chains} chaîne(s), "
        f"empreinte {checkpoint.hash}"
    )
