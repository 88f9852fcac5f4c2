"""``jalon calendar due`` and ``jalon calendar holidays``: text, JSON, and one-sentence errors.

The commands run through Typer's ``CliRunner`` on ``engine.cli.app`` once ``calendar_app`` is
registered there, and on a small app holding only ``calendar`` until then.
"""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner, Result

from engine import cli
from engine.cli_calendar import calendar_app
from engine.errors import InvalidValue
from engine.legal_calendar import CALENDARS

REGISTERED = any(group.name == "calendar" for group in cli.app.registered_groups)


def _small_app() -> typer.Typer:
    app = typer.Typer(pretty_exceptions_enable=False, add_completion=False)

    @app.callback()
    def options() -> None:
        """Nothing to set: the calendar needs no database."""

    app.add_typer(calendar_app, name="calendar")
    return app


APP = cli.app if REGISTERED else _small_app()


def run(*args: str) -> Result:
    """Run ``jalon calendar ARGS`` and return Typer's result."""
    return CliRunner().invoke(APP, ["calendar", *args])


def ok(*args: str) -> str:
    """Run a command that must succeed; return its standard output."""
    result = run(*args)
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


# ------------------------------------------------------------------ due


def test_due_prints_the_last_day_and_why() -> None:
    """Section 5.1's first row: 30 Apr 2026 + 30 d ends on Monday 1 June, after two moves."""
    lines = ok("due", "2026-04-30", "30d").splitlines()
    assert lines[0] == "Dernier jour du délai : lundi 1 juin 2026"
    assert lines[1] == "Acte possible après le délai à partir du : mardi 2 juin 2026"
    assert lines[2:] == [
        "- Méthode : règlement (CEE, Euratom) n° 1182/71, avec les jours fériés du calendrier "
        "France métropolitaine (FR).",
        "- Événement : le jeudi 30 avril 2026 ; ce jour n'est pas compté (art. 3, § 1).",
        "- Durée : 30 jours calendaires, samedis, dimanches et jours fériés compris "
        "(art. 3, § 3) ; le dernier jour est le samedi 30 mai 2026.",
        "- Le samedi 30 mai 2026 n'est pas un jour ouvrable (samedi) : le délai est reporté au "
        "dimanche 31 mai 2026 (art. 3, § 4).",
        "- Le dimanche 31 mai 2026 n'est pas un jour ouvrable (dimanche) : le délai est reporté "
        "au lundi 1 juin 2026 (art. 3, § 4).",
        "- Le délai expire à la fin du lundi 1 juin 2026 ; un acte qui doit suivre l'expiration "
        "du délai est possible à partir du mardi 2 juin 2026.",
    ]


def test_due_reads_french_dates_too() -> None:
    """``30/04/2026`` is the same day as ``2026-04-30``."""
    assert ok("due", "30/04/2026", "30d") == ok("due", "2026-04-30", "30d")


def test_due_json_gives_the_iso_last_day() -> None:
    """``--json``: ``end`` is the ISO date of the period's last day; moves and explanation."""
    data = json.loads(ok("due", "2026-08-31", "2m", "--json"))
    assert data["end"] == "2026-11-02"
    assert data["raw_end"] == "2026-10-31"
    assert data["earliest_after"] == "2026-11-03"
    assert [move["reason"] for move in data["moves"]] == [
        "samedi",
        "dimanche et jour férié : Toussaint",
    ]
    assert data["explanation"][0].startswith("Méthode : règlement (CEE, Euratom) n° 1182/71")


def test_due_standstill_by_both_methods() -> None:
    """Rejections e-mailed Mon 4 May 2026, 11 d: CE expiry Thu 14 (sign ≥ Fri 15); 1182: Fri 15."""
    ce = json.loads(ok("due", "2026-05-04", "11d", "--method", "date-a-date", "--json"))
    assert (ce["method"], ce["end"], ce["earliest_after"]) == (
        "date-a-date",
        "2026-05-14",
        "2026-05-15",
    )
    reg = json.loads(ok("due", "2026-05-04", "11d", "--json"))
    assert (reg["end"], reg["earliest_after"]) == ("2026-05-15", "2026-05-16")
    text = ok("due", "04/05/2026", "11d", "--method", "date-a-date")
    assert text.splitlines()[0] == "Dernier jour du délai : jeudi 14 mai 2026"
    assert "cette méthode ne reporte pas le délai" in text


def test_due_uses_the_calendar_asked_for() -> None:
    """Good Friday is a holiday in Alsace-Moselle, not in mainland France."""
    mainland = json.loads(ok("due", "2026-03-30", "4d", "--json"))
    alsace = json.loads(ok("due", "2026-03-30", "4d", "--calendar", "FR-ALSACE-MOSELLE", "--json"))
    assert (mainland["end"], alsace["end"]) == ("2026-04-03", "2026-04-07")
    assert alsace["calendar"] == "FR-ALSACE-MOSELLE"
    assert alsace["moves"][0]["reason"] == "jour férié : Vendredi saint"


def test_due_in_working_days() -> None:
    """10 working days after 30 Apr 2026 skip 1, 8 and 14 May and the weekends."""
    assert json.loads(ok("due", "2026-04-30", "10wd", "--json"))["end"] == "2026-05-19"


# ------------------------------------------------------------------ holidays


def test_holidays_lists_the_year_with_french_names() -> None:
    """Alsace-Moselle 2026: thirteen days, Good Friday and Saint-Étienne among them."""
    lines = ok("holidays", "2026", "--calendar", "FR-ALSACE-MOSELLE").splitlines()
    assert lines[0] == "Jours fériés 2026 — Alsace-Moselle (FR-ALSACE-MOSELLE) :"
    assert len(lines) == 14
    assert lines[1] == "jeudi 1 janvier 2026 : Jour de l'an"
    assert "vendredi 3 avril 2026 : Vendredi saint" in lines
    assert lines[-1] == "samedi 26 décembre 2026 : Saint-Étienne"


def test_holidays_json() -> None:
    """``--json``: ISO dates and names, mainland by default."""
    data = json.loads(ok("holidays", "2027", "--json"))
    assert data["calendar"] == "FR"
    assert len(data["holidays"]) == 11
    assert data["holidays"][1] == {"date": "2027-03-29", "name": "Lundi de Pâques"}


@pytest.mark.parametrize("code", sorted(CALENDARS))
def test_holidays_of_every_calendar(code: str) -> None:
    """Each known code lists its year."""
    assert ok("holidays", "2026", "--calendar", code).startswith("Jours fériés 2026 — ")


# ------------------------------------------------------------------ errors


@pytest.mark.parametrize(
    ("args", "field", "quoted"),
    [
        (("due", "2026-13-01", "30d"), "date", "« 2026-13-01 » n'existe pas"),
        (("due", "30-04-2026", "30d"), "date", "« 30-04-2026 » n'est pas reconnue"),
        (("due", "2026-04-30", "30x"), "duree", "« 30x » n'est pas reconnue"),
        (("due", "2026-04-30", "0d"), "duree", "« 0d » est nulle"),
        (("due", "2026-04-30", "30d", "--calendar", "FR-75"), "calendrier", "« FR-75 »"),
        (("due", "2026-04-30", "30d", "--method", "civil"), "methode", "« civil »"),
        (("due", "2026-04-30", "10wd", "--method", "date-a-date"), "methode", "(10wd)"),
        (("due", "2300-01-01", "30d"), "date", "l'année 2300"),
        (("holidays", "1800"), "date", "l'année 1800"),
        (("holidays", "2026", "--calendar", "ZZ"), "calendrier", "« ZZ »"),
    ],
)
def test_bad_input_is_one_french_sentence(args: tuple[str, ...], field: str, quoted: str) -> None:
    """The command raises InvalidValue; ``jalon``'s main() prints its one sentence, exit 1."""
    result = run(*args)
    assert result.exit_code == 1
    error = result.exception
    assert isinstance(error, InvalidValue)
    assert error.field == field
    assert quoted in error.message
    assert error.message.endswith(".")
    assert "\n" not in error.message
    assert result.output == ""


def test_the_jalon_command_prints_the_sentence_and_exits_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Through ``engine.cli.main``, once ``calendar_app`` is registered there."""
    if not REGISTERED:
        pytest.skip("calendar_app is not registered in engine/cli.py yet")
    monkeypatch.setattr("sys.argv", ["jalon", "calendar", "due", "2026-04-30", "30x"])
    with pytest.raises(SystemExit) as exited:
        cli.main()
    assert exited.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("Refusé : La durée « 30x » n'est pas reconnue")
    assert err.count("\n") == 1
