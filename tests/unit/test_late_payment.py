"""Late-payment interest and the recovery indemnity: worked examples, boundaries, properties.

Every expected figure is computed by hand in the test's comments. The tables are built here
(``make_book``) so that the examples do not move when the shipped tables gain a row; one test
reads the shipped tables (``workflows/parameters``) to check that they plug in as they are.
"""

from __future__ import annotations

import json
import math
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.controls import PARAMETERS_FOLDER
from engine.errors import EngineError, InvalidValue
from engine.late_payment import (
    ECB_RATE_TABLE,
    INDEMNITY_TABLE,
    MAJORATION_TABLE,
    PAYABLE_WITHIN_TABLE,
    YEAR_DAYS_TABLE,
    AmountBase,
    DayCount,
    EcbRateMissing,
    LatePayment,
    compute_late_payment,
    half_year_name,
    half_year_start,
)
from engine.parameters import (
    Confidence,
    ParameterBook,
    ParameterMissing,
    ParameterRow,
    ParameterTable,
    Unit,
)

TTC = AmountBase.TTC
ECB_RATES = {
    date(2022, 1, 1): "0.00",
    date(2022, 7, 1): "0.00",
    date(2023, 1, 1): "2.50",
    date(2023, 7, 1): "4.00",
    date(2024, 1, 1): "4.50",
    date(2024, 7, 1): "4.25",
    date(2025, 1, 1): "3.15",
    date(2025, 7, 1): "2.15",
    date(2026, 1, 1): "2.15",
}
"""The ECB rate of each half-year, as shipped; no row from 1 July 2026."""


def _row(value: str, start: date, end: date | None = None) -> ParameterRow:
    return ParameterRow(Decimal(value), start, end, "source de test", Confidence.VERIFIED)


def _half_year_end(start: date) -> date:
    return date(start.year, 6, 30) if start.month == 1 else date(start.year, 12, 31)


def make_book(
    *,
    ecb: dict[date, str] | None = None,
    majoration: str = "8",
    indemnity: str = "40",
    within: str = "45",
    year_days: str = "365",
) -> ParameterBook:
    """The five tables the computation reads, open-ended from 2019 except the ECB's."""
    since = date(2019, 1, 1)
    rates = ECB_RATES if ecb is None else ecb
    ecb_rows = tuple(_row(rate, start, _half_year_end(start)) for start, rate in rates.items())
    return ParameterBook(
        [
            ParameterTable(ECB_RATE_TABLE, "Taux BCE", Unit.TAUX, ecb_rows),
            ParameterTable(MAJORATION_TABLE, "Marge", Unit.POINTS, (_row(majoration, since),)),
            ParameterTable(INDEMNITY_TABLE, "Indemnité", Unit.EUR, (_row(indemnity, since),)),
            ParameterTable(PAYABLE_WITHIN_TABLE, "Délai", Unit.JOURS, (_row(within, since),)),
            ParameterTable(YEAR_DAYS_TABLE, "Jours par an", Unit.JOURS, (_row(year_days, since),)),
        ]
    )


BOOK = make_book()


def compute(
    due: str,
    paid: str,
    amount: str,
    *,
    book: ParameterBook = BOOK,
    day_count: DayCount = DayCount.FIXED,
    base: AmountBase = TTC,
) -> LatePayment:
    return compute_late_payment(
        date.fromisoformat(due),
        date.fromisoformat(paid),
        Decimal(amount),
        book,
        base=base,
        day_count=day_count,
    )


# ------------------------------------------------------------------ worked examples


def test_a_payment_45_days_late_in_the_first_half_of_2025() -> None:
    """10 000 € TTC due 31 March 2025, paid 15 May 2025.

    Interest runs from Tue 1 April to Thu 15 May, both counted: 30 (April) + 15 (May) = 45 days.
    Half-year of 1 April 2025: the first, ECB rate on 1 January 2025 = 3.15 %; + 8 = 11.15 %.
    10 000 × 11.15 % = 1 115 € a year; × 45 / 365 = 50 175 / 365 = 137.4657… → 137.47 €.
    Indemnity 40 €; total 177.47 €; payable by 15 May + 45 days = 29 June 2025
    (16 days left in May + 29 in June).
    """
    result = compute("2025-03-31", "2025-05-15", "10000.00")
    assert result.late
    assert result.days_late == 45
    assert result.interest_start == date(2025, 4, 1)
    assert result.half_year_start == date(2025, 1, 1)
    assert (result.ecb_rate, result.majoration, result.annual_rate) == (
        Decimal("3.15"),
        Decimal("8"),
        Decimal("11.15"),
    )
    assert result.interest == Decimal("137.47")
    assert result.indemnity == Decimal("40.00")
    assert result.total == Decimal("177.47")
    assert result.payable_within == 45
    assert result.payable_by == date(2025, 6, 29)
    assert str(result.interest) == "137.47"  # exactly two decimals, not 137.4700 or 1.3747E+2


def test_the_explanation_names_every_step_and_its_source() -> None:
    """Same example: one French sentence per step, each with its article or table."""
    lines = compute("2025-03-31", "2025-05-15", "10000.00").explain()
    assert lines[0] == (
        "Délai de paiement : dernier jour le lundi 31 mars 2025 ; principal mis en paiement le "
        "jeudi 15 mai 2025."
    )
    assert lines[1].endswith("ces deux jours compris : 45 jours de retard (L2192-13, R2192-31).")
    assert "le mercredi 1 janvier 2025, premier jour du premier semestre 2025" in lines[2]
    assert "3,15 %" in lines[2]
    assert "(R2192-31 ; table taux_bce_refinancement)" in lines[2]
    assert lines[3] == (
        "Taux des intérêts moratoires : 3,15 % + 8 points = 11,15 % l'an "
        "(R2192-31 ; table marge_interets_moratoires)."
    )
    assert lines[4].startswith("Assiette : 10\u202f000,00 € TTC, choisie par l'appelant")
    assert "[UNSURE]" in lines[4]
    assert "divisés par 365 (table interets_moratoires_jours_par_an" in lines[5]
    assert "[UNSURE]" in lines[5]
    assert lines[6].startswith(
        "Intérêts moratoires : 10\u202f000,00 € × 11,15 % × 45 / 365 = 137,47 €, arrondis"
    )
    assert "40,00 €" in lines[7]
    assert "(D2192-35 ; table indemnite_forfaitaire_recouvrement)" in lines[7]
    assert "soit 177,47 €" in lines[8]
    assert "dimanche 29 juin 2025" in lines[8]
    assert "(R2192-36 ; table delai_paiement_interets_moratoires)" in lines[8]
    assert all(line.endswith(".") and "\n" not in line for line in lines)


def test_a_half_cent_is_rounded_up() -> None:
    """14.60 € paid one day late in the first half of 2024: 4.50 % + 8 = 12.50 %.

    14.60 × 12.50 % = 1.825 € a year; / 365 = 0.005 € exactly → 0.01 € (ROUND_HALF_UP; the
    banker's rounding of Python's Decimal default would give 0.00 €).
    """
    result = compute("2024-01-31", "2024-02-01", "14.60")
    assert result.days_late == 1
    assert result.annual_rate == Decimal("12.50")
    assert result.interest == Decimal("0.01")


def test_just_under_a_half_cent_is_rounded_down() -> None:
    """14.59 € one day at 12.50 %: 14.59 × 0.125 / 365 = 0.0049965… € → 0.00 €."""
    assert compute("2024-01-31", "2024-02-01", "14.59").interest == Decimal("0.00")


def test_fixed_and_exact_day_counts_across_a_leap_year() -> None:
    """10 000 € due 15 December 2023, paid 14 February 2024 (2024 has 366 days).

    Start 16 December 2023, second half of 2023: ECB 4.00 % + 8 = 12 %; 1 200 € a year.
    Late days: 16 in 2023 (16–31 Dec) + 45 in 2024 (31 in January + 14 in February) = 61.
    fixe:  1 200 × 61 / 365 = 73 200 / 365 = 200.5479… → 200.55 €.
    exact: 1 200 × (16 / 365 + 45 / 366) = 52.6027… + 147.5409… = 200.1437… → 200.14 €.
    Payable by 14 February + 45 days = 30 March 2024 (15 days left in February + 30).
    """
    fixed = compute("2023-12-15", "2024-02-14", "10000")
    exact = compute("2023-12-15", "2024-02-14", "10000", day_count=DayCount.ACTUAL)
    assert fixed.days_late == exact.days_late == 61
    assert fixed.annual_rate == exact.annual_rate == Decimal("12.00")
    assert [(s.days, s.year_days) for s in fixed.shares] == [(61, 365)]
    assert [(s.days, s.year_days) for s in exact.shares] == [(16, 365), (45, 366)]
    assert fixed.interest == Decimal("200.55")
    assert exact.interest == Decimal("200.14")
    assert exact.payable_by == date(2024, 3, 30)
    assert "× (16 / 365 + 45 / 366) = 200,14 €" in exact.explain()[6]
    assert "durée de son année civile (365 ou 366 jours)" in exact.explain()[5]


def test_one_rate_for_the_whole_delay_even_across_half_years() -> None:
    """Due 31 May 2023, paid 30 August 2023: the rate of 1 January 2023 (2.50 %) all along.

    1 June to 30 August, both counted: 30 (June) + 31 (July) + 30 (August) = 91 days.
    2.50 + 8 = 10.50 %; 10 000 × 10.50 % = 1 050 € a year;
    1 050 × 91 / 365 = 95 550 / 365 = 261.7808… → 261.78 €.
    """
    result = compute("2023-05-31", "2023-08-30", "10000")
    assert result.days_late == 91
    assert result.half_year_start == date(2023, 1, 1)
    assert result.ecb_rate == Decimal("2.50")  # not the 4.00 % of 1 July 2023
    assert result.interest == Decimal("261.78")


def test_the_shipped_tables_give_the_second_half_of_2024() -> None:
    """workflows/parameters: 10 000 € due 30 September 2024, paid 30 October 2024.

    Half-year of 1 October 2024: the second; ECB on 1 July 2024 = 4.25 % (in force since
    12 June 2024); + 8 = 12.25 %. 1 to 30 October: 30 days.
    1 225 × 30 / 365 = 36 750 / 365 = 100.6849… → 100.68 €; payable by 30 October + 45 days
    = 14 December 2024 (1 day left in October + 30 in November + 14).
    """
    shipped = ParameterBook.load(PARAMETERS_FOLDER)
    result = compute("2024-09-30", "2024-10-30", "10000", book=shipped)
    assert (result.ecb_rate, result.annual_rate) == (Decimal("4.25"), Decimal("12.25"))
    assert result.interest == Decimal("100.68")
    assert result.indemnity == Decimal("40.00")
    assert result.payable_by == date(2024, 12, 14)


def test_every_value_comes_from_the_tables() -> None:
    """Change a table, the result follows: no value is written in the code.

    Majoration 7, indemnity 50, 30 days to pay, 360-day year; 10 000 € 45 days late in the
    first half of 2025: (3.15 + 7) % = 10.15 %; 1 015 × 45 / 360 = 45 675 / 360 = 126.875
    → 126.88 €.
    """
    other = make_book(majoration="7", indemnity="50", within="30", year_days="360")
    result = compute("2025-03-31", "2025-05-15", "10000", book=other)
    assert result.annual_rate == Decimal("10.15")
    assert result.interest == Decimal("126.88")
    assert result.indemnity == Decimal("50.00")
    assert result.payable_by == date(2025, 6, 14)
    assert "divisés par 360" in result.explain()[5]


def test_the_base_is_the_callers_and_is_shown() -> None:
    """HT or TTC does not change the arithmetic: the caller passes the amount of its base."""
    result = compute("2025-03-31", "2025-05-15", "8333.33", base=AmountBase.HT)
    assert result.base is AmountBase.HT
    assert "8\u202f333,33 € HT" in result.explain()[4]
    assert result.as_dict()["base"] == "HT"


# ------------------------------------------------------------------ not late


@pytest.mark.parametrize("paid", ["2025-03-31", "2025-03-01", "2024-12-31"])
def test_no_late_payment_no_interest_no_indemnity(paid: str) -> None:
    """Paid on or before the period's last day: 0.00 € and nothing to pay later."""
    result = compute("2025-03-31", paid, "10000")
    assert not result.late
    assert result.days_late == 0
    assert result.interest == result.indemnity == result.total == Decimal("0.00")
    assert result.payable_by is None
    assert result.ecb_rate is None
    assert result.half_year_start is None
    assert result.summary() == ["Aucun retard : ni intérêts moratoires ni indemnité forfaitaire."]
    assert len(result.explain()) == 2
    assert "aucun retard" in result.explain()[1]


def test_a_timely_payment_needs_no_ecb_rate() -> None:
    """Nothing is looked up when nothing is owed: an empty ECB table is not an error then."""
    result = compute("2030-01-31", "2030-01-15", "10000", book=make_book(ecb={}))
    assert result.interest == Decimal("0.00")


# ------------------------------------------------------------------ half-year boundaries


def test_interest_starting_on_30_june_takes_the_rate_of_1_january() -> None:
    """Due 29 June 2024, paid 31 July 2024: interest starts Sun 30 June, first half-year.

    ECB 1 January 2024 = 4.50 %; 12.50 %; 32 days (30 June + 31 July days):
    1 250 × 32 / 365 = 40 000 / 365 = 109.5890… → 109.59 €.
    """
    result = compute("2024-06-29", "2024-07-31", "10000")
    assert result.interest_start == date(2024, 6, 30)
    assert result.half_year_start == date(2024, 1, 1)
    assert result.ecb_rate == Decimal("4.50")
    assert result.days_late == 32
    assert result.interest == Decimal("109.59")


def test_interest_starting_on_1_july_takes_the_rate_of_1_july() -> None:
    """Due 30 June 2024, paid 31 July 2024: interest starts Mon 1 July, second half-year.

    ECB 1 July 2024 = 4.25 % (cut of 12 June 2024); 12.25 %; 31 days:
    1 225 × 31 / 365 = 37 975 / 365 = 104.0410… → 104.04 €.
    """
    result = compute("2024-06-30", "2024-07-31", "10000")
    assert result.interest_start == date(2024, 7, 1)
    assert result.half_year_start == date(2024, 7, 1)
    assert result.ecb_rate == Decimal("4.25")
    assert result.days_late == 31
    assert result.interest == Decimal("104.04")


def test_interest_starting_on_1_january_takes_the_new_years_rate() -> None:
    """Due 31 December 2024: interest starts 1 January 2025, rate 3.15 % (not 4.25 %)."""
    result = compute("2024-12-31", "2025-01-10", "10000")
    assert result.half_year_start == date(2025, 1, 1)
    assert result.ecb_rate == Decimal("3.15")


@pytest.mark.parametrize(
    ("day", "start", "name"),
    [
        (date(2026, 1, 1), date(2026, 1, 1), "premier semestre 2026"),
        (date(2026, 6, 30), date(2026, 1, 1), "premier semestre 2026"),
        (date(2026, 7, 1), date(2026, 7, 1), "second semestre 2026"),
        (date(2026, 12, 31), date(2026, 7, 1), "second semestre 2026"),
    ],
)
def test_half_years(day: date, start: date, name: str) -> None:
    """A half-year starts on 1 January or 1 July."""
    assert half_year_start(day) == start
    assert half_year_name(day) == name


# ------------------------------------------------------------------ missing rate, bad input


def test_a_missing_ecb_rate_is_an_error_naming_the_table_and_the_half_year() -> None:
    """Interest starting 1 July 2026, no row for that half-year: refused, never 0 %."""
    with pytest.raises(EcbRateMissing) as raised:
        compute("2026-06-30", "2026-07-20", "10000")
    error = raised.value
    assert isinstance(error, ParameterMissing)
    assert isinstance(error, EngineError)
    assert error.code == "taux_bce_manquant"
    assert error.table_id == "taux_bce_refinancement"
    assert error.on == date(2026, 7, 1)
    assert "second semestre 2026" in error.message
    assert "« taux_bce_refinancement »" in error.message
    assert "mercredi 1 juillet 2026" in error.message
    assert error.message.startswith("Aucun taux de la BCE")
    assert error.message.endswith(".")
    assert "\n" not in error.message


def test_an_empty_ecb_table_is_an_error_too() -> None:
    """The table exists but has no row at all."""
    with pytest.raises(EcbRateMissing, match="premier semestre 2025"):
        compute("2025-03-31", "2025-04-02", "10000", book=make_book(ecb={}))


def test_another_missing_table_keeps_its_own_error() -> None:
    """A majoration without a row on 1 January 2018: the book's ParameterMissing."""
    book = make_book(ecb={date(2018, 1, 1): "0.00"})
    with pytest.raises(ParameterMissing, match="marge_interets_moratoires") as raised:
        compute("2018-03-31", "2018-04-02", "10000", book=book)
    assert not isinstance(raised.value, EcbRateMissing)


def test_a_year_of_zero_days_is_refused() -> None:
    """A table value that cannot divide is a French refusal, not a ZeroDivisionError."""
    with pytest.raises(EngineError, match="interets_moratoires_jours_par_an"):
        compute("2025-03-31", "2025-04-02", "10000", book=make_book(year_days="0"))


@pytest.mark.parametrize("amount", [Decimal(0), Decimal("-1.00"), Decimal("NaN"), Decimal("Inf")])
def test_the_amount_must_be_a_positive_finite_decimal(amount: Decimal) -> None:
    """Zero, negative, NaN and infinite amounts are refused in French."""
    with pytest.raises(InvalidValue, match="strictement positif") as raised:
        compute_late_payment(date(2025, 3, 31), date(2025, 4, 2), amount, BOOK, base=TTC)
    assert raised.value.field == "montant"


def test_a_float_amount_is_refused() -> None:
    """A binary float is not exact: refused rather than converted."""
    with pytest.raises(InvalidValue, match="décimal exact"):
        compute_late_payment(
            date(2025, 3, 31),
            date(2025, 4, 2),
            100.5,  # type: ignore[arg-type]
            BOOK,
            base=TTC,
        )


def test_base_and_day_count_are_read_from_text() -> None:
    """``ttc``/``HT`` and ``fixe``/``EXACT``; anything else is one French sentence."""
    assert AmountBase.parse(" ttc ") is AmountBase.TTC
    assert AmountBase.parse("HT") is AmountBase.HT
    assert DayCount.parse("fixe") is DayCount.FIXED
    assert DayCount.parse("EXACT") is DayCount.ACTUAL
    with pytest.raises(InvalidValue, match="« brut »") as base:
        AmountBase.parse("brut")
    assert base.value.field == "assiette"
    with pytest.raises(InvalidValue, match="« 360 »") as count:
        DayCount.parse("360")
    assert count.value.field == "decompte"


def test_as_dict_gives_exact_decimal_strings() -> None:
    """JSON-ready: amounts and rates as decimal strings, dates ISO, the explanation."""
    data = compute("2023-12-15", "2024-02-14", "10000.00", day_count=DayCount.ACTUAL).as_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["amount"] == "10000.00"
    assert data["interest"] == "200.14"
    assert data["indemnity"] == "40.00"
    assert data["total"] == "240.14"
    assert (data["ecb_rate"], data["majoration"], data["annual_rate"]) == ("4.00", "8", "12.00")
    assert data["half_year_start"] == "2023-07-01"
    assert data["interest_start"] == "2023-12-16"
    assert data["payable_by"] == "2024-03-30"
    assert data["day_count"] == "exact"
    assert data["shares"] == [{"days": 16, "year_days": 365}, {"days": 45, "year_days": 366}]
    assert data["late"] is True
    assert len(data["explanation"]) == 9


# ------------------------------------------------------------------ properties

due_dates = st.dates(min_value=date(2022, 1, 1), max_value=date(2026, 5, 31))
delays = st.integers(min_value=-400, max_value=400)
amounts = st.decimals(min_value=Decimal(100), max_value=Decimal(10) ** 9, places=2, allow_nan=False)
day_counts = st.sampled_from(list(DayCount))


def _pay(due: date, delay: int) -> date:
    return due + timedelta(days=delay)


@settings(max_examples=300, deadline=None)
@given(due_dates, delays, amounts, day_counts)
def test_interest_is_positive_exactly_when_late(
    due: date, delay: int, amount: Decimal, count: DayCount
) -> None:
    """From 100 €, one late day at 8 % at least is 0.02 €: interest > 0 iff late."""
    result = compute_late_payment(due, _pay(due, delay), amount, BOOK, base=TTC, day_count=count)
    assert result.late == (delay > 0)
    assert (result.interest > 0) == (delay > 0)
    assert (result.indemnity > 0) == (delay > 0)
    assert result.days_late == max(delay, 0)


@settings(max_examples=300, deadline=None)
@given(due_dates, delays, delays, amounts, day_counts)
def test_interest_grows_with_the_delay(
    due: date, first: int, second: int, amount: Decimal, count: DayCount
) -> None:
    """Paying later never costs less (the rate is fixed by the start, the same for both)."""
    shorter, longer = sorted((first, second))
    early = compute_late_payment(due, _pay(due, shorter), amount, BOOK, base=TTC, day_count=count)
    late = compute_late_payment(due, _pay(due, longer), amount, BOOK, base=TTC, day_count=count)
    assert early.interest <= late.interest
    assert early.total <= late.total


@settings(max_examples=300, deadline=None)
@given(due_dates, delays, amounts, amounts, day_counts)
def test_interest_grows_with_the_amount(
    due: date, delay: int, first: Decimal, second: Decimal, count: DayCount
) -> None:
    """A larger base never gives less interest."""
    small, large = sorted((first, second))
    paid = _pay(due, delay)
    low = compute_late_payment(due, paid, small, BOOK, base=TTC, day_count=count)
    high = compute_late_payment(due, paid, large, BOOK, base=TTC, day_count=count)
    assert low.interest <= high.interest


@settings(max_examples=300, deadline=None)
@given(due_dates, st.integers(min_value=1, max_value=800), amounts)
def test_interest_is_the_exact_value_rounded_half_up_to_the_cent(
    due: date, delay: int, amount: Decimal
) -> None:
    """A second, naive computation: rational arithmetic, then floor(x × 100 + 1/2) / 100."""
    result = compute_late_payment(due, _pay(due, delay), amount, BOOK, base=TTC)
    start = due + timedelta(days=1)
    rate = Decimal(ECB_RATES[date(start.year, 1 if start.month < 7 else 7, 1)]) + 8
    exact = Fraction(amount) * Fraction(rate) / 100 * Fraction(delay, 365)
    assert result.interest.as_tuple().exponent == -2
    assert Fraction(result.interest) == Fraction(math.floor(exact * 100 + Fraction(1, 2)), 100)
    assert abs(Fraction(result.interest) - exact) <= Fraction(1, 200)


@settings(max_examples=200, deadline=None)
@given(due_dates, st.integers(min_value=1, max_value=800), amounts)
def test_both_day_counts_agree_when_no_leap_day_is_late(
    due: date, delay: int, amount: Decimal
) -> None:
    """When no late day falls in a 366-day year, ``exact`` equals ``fixe``; otherwise less."""
    paid = _pay(due, delay)
    exact = compute_late_payment(due, paid, amount, BOOK, base=TTC, day_count=DayCount.ACTUAL)
    fixed = compute_late_payment(due, paid, amount, BOOK, base=TTC)
    assert sum(share.days for share in exact.shares) == exact.days_late
    if all(share.year_days == 365 for share in exact.shares):
        assert exact.interest == fixed.interest
    else:
        assert exact.interest <= fixed.interest
