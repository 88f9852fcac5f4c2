"""``jalon scheduler run``: the process that fires the clocks' warnings and deadlines."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

import typer

from engine.cli_context import state
from engine.clock_commands import SWEEP_BATCH, SweepReport
from engine.errors import InvalidValue
from engine.scheduler import (
    DEFAULT_SWEEP_INTERVAL,
    DUE,
    MANUAL,
    ONCE,
    SAFETY,
    STARTUP,
    ClockScheduler,
    Sweep,
    run_once,
)

scheduler_app = typer.Typer(
    help="Planificateur des délais : avertissements, échéances dépassées, escalades.",
    no_args_is_help=True,
)

REASON_LABELS = {
    STARTUP: "démarrage",
    DUE: "échéance",
    SAFETY: "balayage de sécurité",
    MANUAL: "balayage",
    ONCE: "balayage unique",
}
"""Why a sweep ran, as the user reads it."""


def report_as_json(report: SweepReport, next_action: str | None) -> dict[str, Any]:
    """The JSON form of a sweep (``--once --json``)."""
    late = report.lateness_seconds
    return {
        "at": report.at,
        "fired": dict(report.fired),
        "total": report.total,
        "warnings": report.fired.get("clock.warning", 0),
        "missed": report.fired.get("clock.missed", 0),
        "elapsed": report.fired.get("clock.elapsed", 0),
        "nonconformities": list(report.nonconformities),
        "escalations": list(report.escalations),
        "retried": report.retried,
        "lateness_seconds": {
            "count": len(late),
            "max": max(late) if late else None,
            "mean": round(sum(late) / len(late), 3) if late else None,
        },
        "next_action": next_action,
    }


def duration_text(seconds: float) -> str:
    """A lateness in French: ``2 j 3 h``, ``8 h 0 min``, ``42 s``."""
    whole = round(seconds)
    days, rest = divmod(whole, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} j {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {secs} s"
    return f"{secs} s"


def lateness_text(report: SweepReport) -> str:
    """How late the deadlines fired: how many, the longest, or that there were none."""
    late = report.lateness_seconds
    if not late:
        return "aucune échéance atteinte"
    return f"{len(late)} échéance(s) atteinte(s), retard maximal {duration_text(max(late))}"


def report_lines(report: SweepReport, next_action: str | None) -> list[str]:
    """What a sweep did, line by line, in French."""
    fired = report.fired
    ncs = report.nonconformities
    shown = ", ".join(ncs[:5]) + (", …" if len(ncs) > 5 else "")
    lines = [
        f"Balayage des délais au {report.at} :",
        f"  avertissements : {fired.get('clock.warning', 0)}",
        f"  dépassements : {fired.get('clock.missed', 0)}",
        f"  écoulements : {fired.get('clock.elapsed', 0)}",
        f"  non-conformités ouvertes : {len(ncs)}" + (f" ({shown})" if ncs else ""),
        f"  escalades : {len(report.escalations)}",
        f"  retards : {lateness_text(report)}",
    ]
    if report.retried:
        lines.append(f"  lots repris après un conflit : {report.retried}")
    lines.append(f"Prochaine action : {next_action or 'aucune'}")
    return lines


def sweep_line(sweep: Sweep) -> str:
    """One line for a sweep of the running scheduler."""
    reason = REASON_LABELS.get(sweep.reason, sweep.reason)
    if sweep.report is None:
        return f"[{reason}] balayage en échec : {sweep.error} (nouvel essai au prochain balayage)"
    report = sweep.report
    fired = report.fired
    wake = _wake_text(sweep.next_action, sweep.wake_at)
    return (
        f"[{reason}] {report.at} : {fired.get('clock.warning', 0)} avertissement(s), "
        f"{fired.get('clock.missed', 0)} dépassement(s), "
        f"{fired.get('clock.elapsed', 0)} écoulement(s), "
        f"{len(report.nonconformities)} non-conformité(s), "
        f"{len(report.escalations)} escalade(s) ; {wake}"
    )


def _wake_text(next_action: str | None, wake_at: datetime | None) -> str:
    if next_action is None:
        return "aucune action en attente"
    if wake_at is None:
        return f"prochaine action {next_action}"
    return f"prochaine action {next_action} (réveil à {wake_at.isoformat(timespec='seconds')})"


def _print_sweep(sweep: Sweep) -> None:
    if sweep.report is None and sweep.error is None:
        return  # skipped: the scheduler is stopping
    if sweep.report is None:
        typer.echo(sweep_line(sweep), err=True)
    elif sweep.report.total or sweep.reason == STARTUP:
        typer.echo(sweep_line(sweep))


@scheduler_app.command(
    "run",
    help=(
        "Déclencher les délais à leur heure : avertissements, dépassements, escalades. "
        "Sans --once, le planificateur rattrape d'abord les échéances passées pendant son "
        "arrêt, puis se réveille à la prochaine échéance ; Ctrl+C ou SIGTERM l'arrêtent "
        "proprement. Plusieurs planificateurs peuvent tourner ensemble : chaque délai n'est "
        "déclenché qu'une fois."
    ),
)
def run_command(
    ctx: typer.Context,
    once: Annotated[
        bool,
        typer.Option(
            "--once",
            help="Un seul balayage puis sortie (pour cron) : affiche ce qui a été déclenché.",
        ),
    ] = False,
    sweep_interval: Annotated[
        float,
        typer.Option(
            "--sweep-interval",
            help="Secondes entre deux balayages de sécurité (sans effet avec --once).",
        ),
    ] = DEFAULT_SWEEP_INTERVAL,
    batch: Annotated[
        int,
        typer.Option("--batch", help="Délais traités par transaction."),
    ] = SWEEP_BATCH,
    as_json: Annotated[
        bool, typer.Option("--json", help="Avec --once : sortie JSON (pour les scripts).")
    ] = False,
) -> None:
    """Run the scheduler, or sweep once (the French help is the command's ``help``)."""
    if sweep_interval <= 0:
        raise InvalidValue(
            "--sweep-interval",
            f"Intervalle de balayage « {sweep_interval:g} » invalide : un nombre de secondes "
            "strictement positif est attendu, par exemple 60.",
        )
    if batch < 1:
        raise InvalidValue(
            "--batch",
            f"Taille de lot « {batch} » invalide : au moins 1 délai par transaction.",
        )
    if as_json and not once:
        raise InvalidValue("--json", "--json ne s'emploie qu'avec --once.")
    engine = state(ctx).engine()
    if once:
        report = run_once(engine, batch)
        next_action = engine.next_clock_action()
        if as_json:
            document = report_as_json(report, next_action)
            typer.echo(json.dumps(document, ensure_ascii=False, indent=2))
        else:
            for line in report_lines(report, next_action):
                typer.echo(line)
        return
    scheduler = ClockScheduler(
        engine, sweep_interval=sweep_interval, batch=batch, on_sweep=_print_sweep
    )
    typer.echo(
        f"Planificateur démarré : balayage de sécurité toutes les {sweep_interval:g} s, "
        f"lots de {batch} délais. Ctrl+C pour arrêter."
    )
    scheduler.run()
    typer.echo("Planificateur arrêté.")
