"""``jalon payment interest``: text, JSON, options and one-sentence errors.

The command runs through Typer's ``CliRunner`` on ``engine.cli.app`` once ``payment_app`` is
registered there as ``paiement``, and on a small app holding only ``paiement`` until then.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from engine import cli
from engine.errors import InvalidValue
from engine.late_payment import EcbRateMissing
from engine.parameters import ParametersInvalid

APP = cli.app


def run(*args: str) -> Result:
    """Run ``jalon payment ARGS`` and return Typer's result."""
    return CliRunner().invoke(APP, ["payment", *args])


def ok(*args: str) -> str:
    """Run a command that must succeed; return its standard output."""
    result = run(*args)
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


TABLES = """\
tables:
  taux_bce_refinancement:
    label: Taux BCE
    unit: taux
    rows:
      - value: "3.15"
        valid_from: 2025-01-01
        valid_to: 2025-06-30
        source: tableau de test de la BCE
        confidence: verified
  marge_interets_moratoires:
    label: Marge
    unit: points
    rows:
      - {value: 8, valid_from: 2024-01-01, source: CCP R2192-31 (test), confidence: verified}
  indemnite_forfaitaire_recouvrement:
    label: Indemnité
    unit: EUR
    rows:
      - {value: 40, valid_from: 2024-01-01, source: CCP D2192-35 (test), confidence: verified}
  delai_paiement_interets_moratoires:
    label: Délai
    unit: jours
    rows:
      - {value: 45, valid_from: 2024-01-01, source: CCP R2192-36 (test), confidence: verified}
  interets_moratoires_jours_par_an:
    label: Jours par an
    unit: jours
    rows:
      - {value: 360, valid_from: 2024-01-01, source: choix de test (360), confidence: verified}
"""


# ------------------------------------------------------------------ results


def test_interest_prints_the_figures_then_why() -> None:
    """10 000 € TTC due 31 March 2025, paid 15 May 2025: 45 days at 3.15 + 8 = 11.15 %.

    1 115 × 45 / 365 = 137.4657… → 137.47 €; + 40 € = 177.47 €, by 15 May + 45 = 29 June.
    """
    lines = ok("interest", "2025-03-31", "2025-05-15", "10000").splitlines()
    assert lines[:5] == [
        "Retard : 45 jours",
        "Taux des intérêts moratoires : 11,15 % l'an",
        "Intérêts moratoires : 137,47 €",
        "Indemnité forfaitaire pour frais de recouvrement : 40,00 €",
        "Total à payer : 177,47 €, au plus tard le dimanche 29 juin 2025",
    ]
    assert lines[5] == (
        "- Délai de paiement : dernier jour le lundi 31 mars 2025 ; principal mis en paiement "
        "le jeudi 15 mai 2025."
    )
    assert len(lines) == 14
    assert all(line.startswith("- ") for line in lines[5:])
    assert any("(R2192-36 ; table delai_paiement_interets_moratoires)" in ln for ln in lines)


def test_french_dates_and_amounts_are_read_too() -> None:
    """``31/03/2025`` and ``10 000,00 €`` are the same inputs as the ISO forms."""
    french = ok("interest", "31/03/2025", "15/05/2025", "10 000,00 €")
    assert french == ok("interest", "2025-03-31", "2025-05-15", "10000")


def test_json_gives_exact_decimal_strings() -> None:
    """``--json``: amounts and rates as strings with their exact digits; ISO dates."""
    data = json.loads(ok("interest", "2025-03-31", "2025-05-15", "10000", "--json"))
    assert data["amount"] == "10000.00"
    assert (data["ecb_rate"], data["majoration"], data["annual_rate"]) == ("3.15", "8", "11.15")
    assert (data["interest"], data["indemnity"], data["total"]) == ("137.47", "40.00", "177.47")
    assert (data["days_late"], data["half_year_start"]) == (45, "2025-01-01")
    assert data["payable_by"] == "2025-06-29"
    assert (data["base"], data["day_count"]) == ("TTC", "fixe")
    assert data["explanation"][0].startswith("Délai de paiement : dernier jour le lundi")


def test_the_base_and_the_day_count_are_options() -> None:
    """``--assiette HT --decompte exact``: 10 000 € HT due 15 Dec. 2024, paid 14 Feb. 2025.

    Start 16 December 2024, ECB of 1 July 2024 4.25 % + 8 = 12.25 %: 1 225 € a year;
    16 days of 2024 (366 days) and 45 of 2025 (365):
    1 225 × (16 / 366 + 45 / 365) = 53.5519… + 151.0273… = 204.5793… → 204.58 €.
    """
    data = json.loads(
        ok(
            "interest",
            "2024-12-15",
            "2025-02-14",
            "10000",
            "--assiette",
            "ht",
            "--decompte",
            "exact",
            "--json",
        )
    )
    assert (data["base"], data["day_count"], data["interest"]) == ("HT", "exact", "204.58")
    assert data["shares"] == [{"days": 16, "year_days": 366}, {"days": 45, "year_days": 365}]


def test_no_delay_no_interest() -> None:
    """Paid on the last day: nothing owed."""
    lines = ok("interest", "2025-03-31", "2025-03-31", "10000").splitlines()
    assert lines[0] == "Aucun retard : ni intérêts moratoires ni indemnité forfaitaire."
    data = json.loads(ok("interest", "2025-03-31", "2025-03-20", "10000", "--json"))
    assert (data["late"], data["interest"], data["indemnity"]) == (False, "0.00", "0.00")
    assert data["payable_by"] is None


def test_another_parameter_folder(tmp_path: Path) -> None:
    """``--parametres``: the tables of that folder (here a 360-day year).

    1 115 × 45 / 360 = 50 175 / 360 = 139.375 → 139.38 € (half up).
    """
    (tmp_path / "paiement.yaml").write_text(TABLES, encoding="utf-8")
    data = json.loads(
        ok(
            "interest",
            "2025-03-31",
            "2025-05-15",
            "10000",
            "--parametres",
            str(tmp_path),
            "--json",
        )
    )
    assert data["interest"] == "139.38"


# ------------------------------------------------------------------ errors


def test_a_missing_ecb_rate_is_refused_in_one_sentence(tmp_path: Path) -> None:
    """The folder knows only the first half of 2025: a start on 1 July 2025 is refused."""
    (tmp_path / "paiement.yaml").write_text(TABLES, encoding="utf-8")
    result = run("interest", "2025-06-30", "2025-07-10", "10000", "--parametres", str(tmp_path))
    assert result.exit_code == 1
    error = result.exception
    assert isinstance(error, EcbRateMissing)
    assert "« taux_bce_refinancement »" in error.message
    assert "second semestre 2025" in error.message
    assert result.output == ""


def test_an_invalid_parameter_folder_is_refused(tmp_path: Path) -> None:
    """A folder without tables: the book's own refusal."""
    result = run("interest", "2025-03-31", "2025-05-15", "10000", "--parametres", str(tmp_path))
    assert result.exit_code == 1
    assert isinstance(result.exception, ParametersInvalid)


@pytest.mark.parametrize(
    ("args", "field", "quoted"),
    [
        (("2025-02-30", "2025-05-15", "10000"), "date", "« 2025-02-30 » n'existe pas"),
        (("2025-03-31", "15-05-2025", "10000"), "date", "« 15-05-2025 » n'est pas reconnue"),
        (("2025-03-31", "2025-05-15", "dix mille"), "montant", "« dix mille »"),
        (("2025-03-31", "2025-05-15", "10,123"), "montant", "deux décimales au plus"),
        (("2025-03-31", "2025-05-15", "0"), "montant", "strictement positif"),
        (("2025-03-31", "2025-05-15", "10000", "--assiette", "brut"), "assiette", "« brut »"),
        (("2025-03-31", "2025-05-15", "10000", "--decompte", "360"), "decompte", "« 360 »"),
    ],
)
def test_bad_input_is_one_french_sentence(args: tuple[str, ...], field: str, quoted: str) -> None:
    """The command raises InvalidValue; ``jalon``'s main() prints its one sentence, exit 1."""
    result = run("interest", *args)
    assert result.exit_code == 1
    error = result.exception
    assert isinstance(error, InvalidValue)
    assert error.field == field
    assert quoted in error.message
    assert error.message.endswith(".")
    assert "\n" not in error.message
    assert result.output == ""


def test_help_is_in_french() -> None:
    """The group and the command describe themselves in French."""
    assert "intérêts moratoires" in ok("--help")
    text = ok("interest", "--help")
    assert "DERNIER_JOUR" in text
    assert "--assiette" in text
    assert "--decompte" in text


def test_the_jalon_command_prints_the_sentence_and_exits_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Through ``engine.cli.main``: one French sentence, exit 1, no traceback."""
    monkeypatch.setattr(
        "sys.argv", ["jalon", "payment", "interest", "2025-03-31", "2025-05-15", "0"]
    )
    with pytest.raises(SystemExit) as exited:
        cli.main()
    assert exited.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("Refusé : Le montant sur lequel les intérêts sont calculés")
    assert err.count("\n") == 1
