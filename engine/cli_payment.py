"""``jalon payment interest``: late-payment interest and recovery indemnity of one invoice."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Annotated

import typer

from engine.cli_calendar import parse_day
from engine.controls import PARAMETERS_FOLDER, default_parameters
from engine.definition import FieldDef, FieldType
from engine.late_payment import (
    YEAR_DAYS_TABLE,
    AmountBase,
    DayCount,
    compute_late_payment,
)
from engine.parameters import ParameterBook
from engine.values import parse_value

payment_app = typer.Typer(
    help="Paiement : intérêts moratoires et indemnité forfaitaire pour frais de recouvrement.",
    no_args_is_help=True,
)

_AMOUNT = FieldDef(type=FieldType.AMOUNT, label="Montant")


@payment_app.command("interest")
def interest_command(
    due_date: Annotated[
        str,
        typer.Argument(
            help="Dernier jour du délai de paiement : AAAA-MM-JJ ou JJ/MM/AAAA.",
            metavar="DERNIER_JOUR",
            show_default=False,
        ),
    ],
    payment_date: Annotated[
        str,
        typer.Argument(
            help="Date de mise en paiement du principal : AAAA-MM-JJ ou JJ/MM/AAAA.",
            metavar="DATE_PAIEMENT",
            show_default=False,
        ),
    ],
    amount: Annotated[
        str,
        typer.Argument(
            help="Montant sur lequel calculer les intérêts, en euros (10000, 10 000,50 €…).",
            metavar="MONTANT",
            show_default=False,
        ),
    ],
    base: Annotated[
        str,
        typer.Option(
            "--assiette",
            help="Le montant donné est HT ou TTC (défaut TTC, l'usage courant ; la règle "
            "n'est pas confirmée par un texte).",
        ),
    ] = AmountBase.TTC.value,
    day_count: Annotated[
        str,
        typer.Option(
            "--decompte",
            help=f"fixe (défaut : jours de retard / nombre de jours de la table "
            f"{YEAR_DAYS_TABLE}, 365) ou exact (chaque jour / durée de son année, 365 ou 366).",
        ),
    ] = DayCount.FIXED.value,
    folder: Annotated[
        Path | None,
        typer.Option(
            "--parametres",
            help="Dossier des tables de paramètres (défaut : "
            f"{PARAMETERS_FOLDER.parent.name}/{PARAMETERS_FOLDER.name} de Jalon).",
            show_default=False,
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Sortie JSON (pour les scripts).")] = (
        False
    ),
) -> None:
    """Calculer les intérêts moratoires et l'indemnité forfaitaire d'une facture payée en retard."""
    due = parse_day(due_date)
    paid = parse_day(payment_date)
    principal = Decimal(parse_value(_AMOUNT, amount, name="montant"))
    chosen_base, chosen_count = AmountBase.parse(base), DayCount.parse(day_count)
    book = ParameterBook.load(folder) if folder is not None else default_parameters()
    result = compute_late_payment(
        due, paid, principal, book, base=chosen_base, day_count=chosen_count
    )
    if as_json:
        typer.echo(json.dumps(result.as_dict(), ensure_ascii=False, indent=2))
        return
    for line in result.summary():
        typer.echo(line)
    for line in result.explain():
        typer.echo(f"- {line}")
