"""``jalon audit``: verify the hash chains, print a case's timeline, take checkpoints."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.markup import escape

from engine.cli_context import state
from engine.service import Engine

EXIT_NOT_INTACT = 4
KIND_LABELS = {
    "case.opened": "Ouverture",
    "case.data_set": "Données",
    "case.document_attached": "Pièce jointe",
    "case.transition": "Étape franchie",
    "case.declaration": "Déclaration",
    "case.checklist_ticked": "Point de liste coché",
    "command.refused": "Refus",
    "workflow.registered": "Procédure enregistrée",
}
"""French labels of the kinds of fact (the code names stay in the JSON export)."""
COMMAND_LABELS = {
    "case.open": "ouverture",
    "case.set": "saisie",
    "case.attach": "pièce",
    "case.fire": "étape",
    "case.declare": "déclaration",
    "case.check": "coche",
    "workflow.register": "enregistrement",
}

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
    states = engine.show(reference).definition.states
    out.print(f"[bold]Historique de {reference}[/] ({len(entries)} entrée(s), heure UTC)")
    for entry in entries:
        payload = orjson.loads(entry.body)["payload"]
        line = (
            f"{entry.seq:>4}  {entry.recorded_at[:16].replace('T', ' ')}  {entry.actor}  "
            f"[bold]{KIND_LABELS.get(entry.kind, entry.kind)}[/]"
        )
        if entry.from_state != entry.to_state:
            before = states[entry.from_state].label if entry.from_state else "∅"
            line += f"  {before} → {states[entry.to_state].label if entry.to_state else '∅'}"
        detail = _detail(entry.kind, payload)
        out.print(f"{line} — {escape(detail)}" if detail else line)


def _declaration(payload: dict[str, Any]) -> str:
    statement = payload.get("statement")
    return f"{payload.get('declaration')}" + (f" : « {statement} »" if statement else "")


_DETAILS: dict[str, Callable[[dict[str, Any]], str]] = {
    "case.data_set": lambda p: ", ".join(f"{k}={v}" for k, v in p.get("values", {}).items()),
    "case.document_attached": lambda p: f"{p.get('type')} « {p.get('name')} »",
    "case.opened": lambda p: f"{p.get('workflow')} v{p.get('version')}",
    "case.declaration": _declaration,
    "case.checklist_ticked": lambda p: f"{p.get('item')} — preuve : {p.get('evidence')}",
}
"""The one-line detail of the simple kinds of fact, from their payload."""


def _detail(kind: str, payload: dict[str, Any]) -> str:
    if kind == "case.transition":
        failed = [c for c in payload.get("controls", []) if not c["passed"]]
        note = f" ({len(failed)} contrôle(s) non bloquant(s) en échec)" if failed else ""
        return f"{payload.get('trigger')}{note}"
    if kind == "command.refused":
        command = str(payload.get("command"))
        return f"{COMMAND_LABELS.get(command, command)} refusée : {payload.get('message')}"
    simple = _DETAILS.get(kind)
    return simple(payload) if simple else ""


@audit_app.command("checkpoint")
def checkpoint_command(ctx: typer.Context) -> None:
    """Sceller l'état de toutes les chaînes (à conserver aussi hors de la base)."""
    checkpoint = state(ctx).engine().checkpoint()
    typer.echo(
        f"Point de contrôle {checkpoint.seq} : {checkpoint.chains} chaîne(s), "
        f"empreinte {checkpoint.hash}"
    )
