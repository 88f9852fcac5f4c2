"""``jalon calendar``: the end of a legal time limit, and the public holidays of a year."""

from __future__ import annotations

import json
import re
from datetime import date
from typing import Annotated

import typer

from engine.errors import InvalidValue
from engine.legal_calendar import CALENDARS, DEFAULT_CALENDAR, calendar_for, french_date
from engine.legal_periods import Method, compute_due

calendar_app = typer.Typer(
    help="Calendrier légal : fin des délais (règlement n° 1182/71, CE 2011) et jours fériés.",
    no_args_is_help=True,
)

_ISO_DATE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
_FRENCH_DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")

CalendarOption = Annotated[
    str,
    typer.Option(
        "--calendar",
        help=f"Calendrier des jours fériés : {', '.join(CALENDARS)}.",
    ),
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Sortie JSON (pour les scripts).")]


def parse_day(text: str) -> date:
    """Read a day typed as ``2026-04-30`` or ``30/04/2026``.

    Raises:
        InvalidValue: the text is not a date in either form, or names a day that does not exist.
    """
    raw = text.strip()
    if match := _ISO_DATE.fullmatch(raw):
        year, month, day = (int(part) for part in match.groups())
    elif match := _FRENCH_DATE.fullmatch(raw):
        day, month, year = (int(part) for part in match.groups())
    else:
        raise InvalidValue(
            "date",
            f"La date « {text} » n'est pas reconnue : écrivez-la AAAA-MM-JJ ou JJ/MM/AAAA, "
            "par exemple 2026-04-30 ou 30/04/2026.",
        )
    try:
        return date(year, month, day)
    except ValueError as error:
        raise InvalidValue("date", f"La date « {text} » n'existe pas.") from error


@calendar_app.command("due")
def due_command(
    start: Annotated[str, typer.Argument(help="Jour de l'événement : AAAA-MM-JJ ou JJ/MM/AAAA.")],
    period: Annotated[
        str,
        typer.Argument(
            help="Durée : 30d (jours), 10wd (jours ouvrables), 2w (semaines), 2m (mois), 1y (ans).",
        ),
    ],
    calendar: CalendarOption = DEFAULT_CALENDAR,
    method: Annotated[
        str,
        typer.Option(
            "--method",
            help="reg1182 (règlement n° 1182/71, par défaut) ou date-a-date (CE, 2 août 2011).",
        ),
    ] = Method.REG1182.value,
    as_json: JsonFlag = False,
) -> None:
    """Calculer le dernier jour d'un délai légal et expliquer le calcul."""
    due = compute_due(parse_day(start), period, calendar=calendar, method=method)
    if as_json:
        typer.echo(json.dumps(due.as_dict(), ensure_ascii=False, indent=2))
        return
    typer.echo(f"Dernier jour du délai : {french_date(due.end)}")
    typer.echo(f"Acte possible après le délai à partir du : {french_date(due.earliest_after)}")
    for line in due.explain():
        typer.echo(f"- {line}")


@calendar_app.command("holidays")
def holidays_command(
    year: Annotated[int, typer.Argument(help="Année, par exemple 2026.")],
    calendar: CalendarOption = DEFAULT_CALENDAR,
    as_json: JsonFlag = False,
) -> None:
    """Lister les jours fériés d'une année, avec leur nom."""
    place = calendar_for(calendar)
    holidays = place.holidays_of(year)
    if as_json:
        listed = [{"date": day.isoformat(), "name": name} for day, name in holidays.items()]
        payload = {"year": year, "calendar": place.code, "holidays": listed}
        typer.echo(json.dumps(payload, ensure_ascii=False, indent=2))
        return
    typer.echo(f"Jours fériés {year} — {place.label} ({place.code}) :")
    for day, name in holidays.items():
        typer.echo(f"{french_date(day)} : {name}")
