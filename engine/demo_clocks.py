"""The demo's clock scene: a supplier payment interrupted, then late; the scheduler's sweeps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from rich.console import Console
from rich.table import Table

from engine.actors import Actor
from engine.clock import FrozenClock
from engine.errors import CommandRefused
from engine.service import Engine

ORDONNATEUR = Actor("olivier.garnier", frozenset({"ordonnateur"}))
COMPTABLE = Actor("sophie.bernard", frozenset({"comptable"}))


def clocks_story(engine: Engine, clock: FrozenClock, out: Console) -> str:
    """Play the scene on simulated time; return the reference of the late payment."""
    out.rule("Délai global de paiement : interruption, alertes, dépassement")
    clock.set(datetime(2026, 9, 1, 8, tzinfo=UTC))
    late = _payment(engine, "Papeterie du Vieux-Port SAS", "F-2026-0917", "41 870,00", out)
    on_time = _payment(engine, "Nettoyage Azur", "NA-5521", "3 600,00", out)
    clock.advance(timedelta(days=6))
    engine.set_values(
        late,
        {
            "motif_suspension": "Facture sans numéro d'engagement",
            "pieces_manquantes": "bon de commande",
        },
        ORDONNATEUR,
    )
    _step(engine, late, "suspendre", ORDONNATEUR, out)
    clock.advance(timedelta(days=9))
    _step(engine, late, "completer", ORDONNATEUR, out)
    _step(engine, on_time, "mandater", ORDONNATEUR, out)
    engine.set_values(on_time, {"date_paiement": "2026-09-18"}, COMPTABLE)
    clock.advance(timedelta(days=2))
    _step(engine, on_time, "payer", COMPTABLE, out)
    out.print("Le planificateur passe chaque jour (temps simulé) :")
    for _day in range(40):
        clock.advance(timedelta(days=1))
        report = engine.sweep_clocks()
        for kind, count in sorted(report.fired.items()):
            out.print(f"  {clock.now().date()} : {count} × {kind}")
        for nc in report.nonconformities:
            out.print(f"    [yellow]non-conformité ouverte[/] : {nc}")
    _step(engine, late, "mandater", ORDONNATEUR, out)
    engine.set_values(late, {"date_paiement": clock.now().date().isoformat()}, COMPTABLE)
    outcome = _step(engine, late, "payer", COMPTABLE, out)
    for fact in outcome:
        interest = fact.get("late_payment")
        if fact.get("late_payment_error"):
            out.print(f"  [yellow]{fact['late_payment_error']}[/]")
        if interest:
            out.print(
                f"  Paiement en retard de {interest['days_late']} jour(s) : intérêts moratoires "
                f"{interest['interest']} € (taux {interest['annual_rate']} %) + indemnité "
                f"forfaitaire {interest['indemnity']} €, à verser avant le {interest['payable_by']}"
            )
    _clocks_table(engine, out)
    return late


def _payment(engine: Engine, supplier: str, invoice: str, amount: str, out: Console) -> str:
    received = engine.clock.now().date().isoformat()
    view = engine.open_case(
        "paiement_fournisseur",
        org="AMP",
        actor=ORDONNATEUR,
        values={
            "fournisseur": supplier,
            "numero_facture": invoice,
            "montant_ttc": amount,
            "date_reception_demande": received,
        },
    )
    out.print(f"Demande de paiement [bold]{view.reference}[/] : {supplier}, {amount} € TTC")
    _step(engine, view.reference, "enregistrer", ORDONNATEUR, out)
    return view.reference


def _step(
    engine: Engine, reference: str, trigger: str, actor: Actor, out: Console
) -> tuple[dict[str, Any], ...]:
    try:
        outcome = engine.fire(reference, trigger, actor)
    except CommandRefused as refusal:
        out.print(f"  [yellow]refusé[/] {trigger} par {actor.user} — {refusal.message}")
        return ()
    out.print(f"  [green]✓[/] {outcome.from_label} → {outcome.to_label} ({actor.user})")
    for fact in outcome.clocks:
        event, name = fact.get("event"), fact.get("clock")
        if event == "started":
            out.print(f"    délai {name} : échéance le {fact['due_on']} ({fact['chosen']})")
        elif event == "restarted":
            out.print(f"    délai {name} relancé : échéance le {fact['due_on']} ({fact['rule']})")
        elif event == "interrupted":
            out.print(f"    délai {name} interrompu ({fact['remaining_days']} jour(s) restant(s))")
        elif event == "stopped":
            verdict = "dans le délai" if fact.get("met") else "[red]hors délai[/]"
            out.print(f"    délai {name} arrêté {verdict}")
    return outcome.clocks


def _clocks_table(engine: Engine, out: Console) -> None:
    table = Table(title="Délais", title_justify="left")
    for column in ("Dossier", "Délai", "État", "Échéance"):
        table.add_column(column)
    for item in engine.clocks():
        table.add_row(item.reference, item.clock.name, item.clock.status, item.clock.due_on)
    out.print(table)
