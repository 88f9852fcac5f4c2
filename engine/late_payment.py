"""Late-payment interest and the fixed recovery indemnity of one invoice, from dated tables.

The rules (docs/payment.md gives the sources, the unsure points and worked examples):

* **Lateness** (L2192-13): interest runs from the day after the payment period's last day up
  to the day the principal is paid, both counted, so ``days late = payment date - due date``.
  A payment on or before the last day is not late: no interest, no indemnity.
* **Rate** (R2192-31): the ECB main refinancing operations rate in force on the first day of
  the calendar half-year in which interest began to run (table ``taux_bce_refinancement``),
  plus the majoration (table ``marge_interets_moratoires``, 8 points). One rate for the whole
  delay, even when it spans several half-years.
* **Indemnity** (D2192-35): a fixed amount per late invoice (table
  ``indemnite_forfaitaire_recouvrement``, 40 €).
* **When** (R2192-36): interest and indemnity are paid within a number of days after the
  principal is paid (table ``delai_paiement_interets_moratoires``, 45): the payment date plus
  that number, not moved off a weekend or a holiday.
* **[UNSURE] choices, never hidden**: the base (HT or TTC) is the caller's — it passes the
  amount and names its base; the day count is ``fixe`` (days late / the year length of table
  ``interets_moratoires_jours_par_an``, 365) or ``exact`` (each late day / the length of its
  calendar year, 365 or 366).

The interest is computed exactly (rational arithmetic on the decimals) and rounded once, to
the cent, half up (``ROUND_HALF_UP``: 0.005 € becomes 0.01 €). Pure: no clock, no file; every
value comes from a :class:`~engine.rules.ParameterLookup`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from engine.errors import EngineError, InvalidValue
from engine.legal_calendar import french_date
from engine.parameters import ParameterMissing

if TYPE_CHECKING:
    from engine.rules import ParameterLookup

ECB_RATE_TABLE = "taux_bce_refinancement"
"""ECB main refinancing operations rate in force on 1 January / 1 July (% a year)."""
MAJORATION_TABLE = "marge_interets_moratoires"
"""Points added to the ECB rate (R2192-31)."""
INDEMNITY_TABLE = "indemnite_forfaitaire_recouvrement"
"""Fixed recovery indemnity per late invoice, in euros (D2192-35)."""
PAYABLE_WITHIN_TABLE = "delai_paiement_interets_moratoires"
"""Days after the principal's payment within which interest and indemnity are paid (R2192-36)."""
YEAR_DAYS_TABLE = "interets_moratoires_jours_par_an"
"""Divisor of the ``fixe`` day count (365) — an [UNSURE] choice kept as data."""

_CENT = Fraction(1, 100)
_HALF = Fraction(1, 2)
_TWO = Decimal("0.01")
_THIN_SPACE = "\u202f"


class AmountBase(StrEnum):
    """Which amount the interest is computed on: a choice of the caller ([UNSURE] in law)."""

    HT = "HT"
    TTC = "TTC"

    @classmethod
    def parse(cls, text: str) -> AmountBase:
        """Read ``HT`` or ``TTC`` (any case).

        Raises:
            InvalidValue: the text is neither.
        """
        try:
            return cls(text.strip().upper())
        except ValueError:
            raise InvalidValue(
                "assiette",
                f"L'assiette « {text} » est inconnue : choisissez HT ou TTC (montant sur lequel "
                "les intérêts moratoires sont calculés).",
            ) from None


class DayCount(StrEnum):
    """How late days become a fraction of a year ([UNSURE] in law, so a parameter)."""

    FIXED = "fixe"
    """Days late divided by the year length of table ``interets_moratoires_jours_par_an``."""
    ACTUAL = "exact"
    """Each late day divided by the length of its own calendar year (365 or 366)."""

    @classmethod
    def parse(cls, text: str) -> DayCount:
        """Read ``fixe`` or ``exact`` (any case).

        Raises:
            InvalidValue: the text is neither.
        """
        try:
            return cls(text.strip().lower())
        except ValueError:
            raise InvalidValue(
                "decompte",
                f"Le décompte des jours « {text} » est inconnu : choisissez fixe (jours de "
                f"retard divisés par le nombre de jours de l'année de la table {YEAR_DAYS_TABLE})"
                " ou exact (chaque jour divisé par la durée de son année).",
            ) from None


class EcbRateMissing(ParameterMissing):
    """No ECB rate is known for the half-year in which interest began to run."""

    code = "taux_bce_manquant"


@dataclass(frozen=True, slots=True)
class YearShare:
    """Late days counted against one year length: ``days / year_days`` of a year."""

    days: int
    year_days: int

    @property
    def fraction(self) -> Fraction:
        """The share of a year, exactly."""
        return Fraction(self.days, self.year_days)


@dataclass(frozen=True, slots=True)
class LatePayment:
    """What a late (or timely) payment of one invoice owes, with every step of the computation.

    Attributes:
        due_date: The payment period's last day.
        payment_date: The day the principal was paid (mise en paiement).
        amount: The base the interest is computed on, as given by the caller.
        base: Whether ``amount`` is HT or TTC (the caller's choice).
        day_count: How late days were turned into a fraction of a year.
        days_late: Days from the day after ``due_date`` to ``payment_date``, both counted; 0
            when the payment is not late.
        interest_start: The first day of interest (``due_date`` + 1), None when not late.
        half_year_start: 1 January or 1 July of the half-year of ``interest_start``: the day
            whose ECB rate applies. None when not late.
        ecb_rate: The ECB rate in force on ``half_year_start`` (% a year), None when not late.
        majoration: The points added to it, None when not late.
        annual_rate: ``ecb_rate + majoration`` (% a year), None when not late.
        shares: The late days against their year length (one share for ``fixe``; one per
            calendar year for ``exact``); empty when not late.
        interest: The interest, rounded to the cent half up; ``0.00`` when not late.
        indemnity: The fixed recovery indemnity; ``0.00`` when not late.
        payable_within: Days after ``payment_date`` to pay them, None when not late.
        payable_by: The last day to pay interest and indemnity, None when not late.
    """

    due_date: date
    payment_date: date
    amount: Decimal
    base: AmountBase
    day_count: DayCount
    days_late: int
    interest_start: date | None
    half_year_start: date | None
    ecb_rate: Decimal | None
    majoration: Decimal | None
    annual_rate: Decimal | None
    shares: tuple[YearShare, ...]
    interest: Decimal
    indemnity: Decimal
    payable_within: int | None
    payable_by: date | None

    @property
    def late(self) -> bool:
        """True when the principal was paid after the period's last day."""
        return self.days_late > 0

    @property
    def total(self) -> Decimal:
        """Interest plus indemnity."""
        return self.interest + self.indemnity

    def summary(self) -> list[str]:
        """The figures in a few French lines, before the explanation."""
        if not self.late:
            return ["Aucun retard : ni intérêts moratoires ni indemnité forfaitaire."]
        days = f"{self.days_late} jour{'s' if self.days_late > 1 else ''}"
        assert self.annual_rate is not None  # set on every late result
        assert self.payable_by is not None
        return [
            f"Retard : {days}",
            f"Taux des intérêts moratoires : {_percent(self.annual_rate)} l'an",
            f"Intérêts moratoires : {_euros(self.interest)}",
            f"Indemnité forfaitaire pour frais de recouvrement : {_euros(self.indemnity)}",
            f"Total à payer : {_euros(self.total)}, au plus tard le {french_date(self.payable_by)}",
        ]

    def explain(self) -> list[str]:
        """French sentences an officer can read, each step with its source."""
        lines = [
            f"Délai de paiement : dernier jour le {french_date(self.due_date)} ; principal mis "
            f"en paiement le {french_date(self.payment_date)}."
        ]
        if not self.late:
            when = "le dernier jour" if self.payment_date == self.due_date else "avant la fin"
            lines.append(
                f"Le principal a été mis en paiement {when} du délai : aucun retard, donc ni "
                "intérêts moratoires (L2192-13) ni indemnité forfaitaire pour frais de "
                "recouvrement (D2192-35)."
            )
            return lines
        return lines + _explain_late(self)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready form: ISO dates, amounts and rates as exact decimal strings."""
        return {
            "due_date": self.due_date.isoformat(),
            "payment_date": self.payment_date.isoformat(),
            "amount": _plain(self.amount),
            "base": self.base.value,
            "day_count": self.day_count.value,
            "late": self.late,
            "days_late": self.days_late,
            "interest_start": _iso(self.interest_start),
            "half_year_start": _iso(self.half_year_start),
            "ecb_rate": _plain(self.ecb_rate),
            "majoration": _plain(self.majoration),
            "annual_rate": _plain(self.annual_rate),
            "shares": [{"days": s.days, "year_days": s.year_days} for s in self.shares],
            "interest": _plain(self.interest),
            "indemnity": _plain(self.indemnity),
            "total": _plain(self.total),
            "payable_within": self.payable_within,
            "payable_by": _iso(self.payable_by),
            "explanation": self.explain(),
        }


def half_year_start(day: date) -> date:
    """1 January or 1 July of the calendar half-year holding ``day``."""
    return date(day.year, 1 if day.month <= 6 else 7, 1)


def compute_late_payment(
    due_date: date,
    payment_date: date,
    amount: Decimal,
    parameters: ParameterLookup,
    *,
    base: AmountBase,
    day_count: DayCount = DayCount.FIXED,
) -> LatePayment:
    """The interest and indemnity owed when ``amount`` is paid on ``payment_date``.

    Args:
        due_date: The payment period's last day (from ``jalon calendar due``, for instance).
        payment_date: The day the principal was paid.
        amount: The base of the interest, exact, strictly positive: the HT or TTC amount of
            the invoice, as the caller decides (the law's base is [UNSURE]).
        parameters: Where the dated values are read (a ``ParameterBook``).
        base: Which amount ``amount`` is, recorded in the result and its explanation.
        day_count: ``fixe`` (default: days / the year length of the table) or ``exact``.

    Which date each value is read on: the ECB rate and the majoration on the half-year's first
    day (R2192-31 fixes the rate then); the indemnity and the year length on the first day of
    interest; the delay to pay them on the day the principal was paid.

    Raises:
        InvalidValue: ``amount`` is not a finite, strictly positive ``Decimal``.
        EcbRateMissing: The ECB table has no row for the half-year; the sentence names the
            table and the half-year.
        EngineError: Another table has no value on its date (``ParameterMissing``), or a
            table's value cannot be used (a year of zero days).
    """
    _check_amount(amount)
    days_late = max(0, (payment_date - due_date).days)
    if days_late == 0:
        zero = Decimal("0.00")
        return LatePayment(
            due_date=due_date,
            payment_date=payment_date,
            amount=amount,
            base=base,
            day_count=day_count,
            days_late=0,
            interest_start=None,
            half_year_start=None,
            ecb_rate=None,
            majoration=None,
            annual_rate=None,
            shares=(),
            interest=zero,
            indemnity=zero,
            payable_within=None,
            payable_by=None,
        )
    start = due_date + timedelta(days=1)
    reference = half_year_start(start)
    ecb_rate = _ecb_rate(parameters, reference)
    majoration = parameters.value(MAJORATION_TABLE, reference)
    annual_rate = ecb_rate + majoration
    shares = _shares(parameters, start, payment_date, day_count)
    exact = Fraction(amount) * Fraction(annual_rate) / 100 * sum(s.fraction for s in shares)
    indemnity = _to_cents(Fraction(parameters.value(INDEMNITY_TABLE, start)))
    within = _whole_days(parameters, PAYABLE_WITHIN_TABLE, payment_date, minimum=0)
    return LatePayment(
        due_date=due_date,
        payment_date=payment_date,
        amount=amount,
        base=base,
        day_count=day_count,
        days_late=days_late,
        interest_start=start,
        half_year_start=reference,
        ecb_rate=ecb_rate,
        majoration=majoration,
        annual_rate=annual_rate,
        shares=shares,
        interest=_to_cents(exact),
        indemnity=indemnity,
        payable_within=within,
        payable_by=payment_date + timedelta(days=within),
    )


def half_year_name(day: date) -> str:
    """``premier semestre 2026`` or ``second semestre 2026``."""
    return f"{'premier' if day.month <= 6 else 'second'} semestre {day.year}"


def _check_amount(amount: Decimal) -> None:
    if not isinstance(amount, Decimal):
        raise InvalidValue(
            "montant",
            f"Le montant ({amount!r}) doit être un nombre décimal exact, pas un nombre à "
            "virgule flottante.",
        )
    if not amount.is_finite() or amount <= 0:
        raise InvalidValue(
            "montant",
            f"Le montant sur lequel les intérêts sont calculés doit être strictement positif "
            f"(valeur reçue : {amount}).",
        )


def _ecb_rate(parameters: ParameterLookup, reference: date) -> Decimal:
    try:
        return parameters.value(ECB_RATE_TABLE, reference)
    except EngineError as error:
        raise EcbRateMissing(
            ECB_RATE_TABLE,
            reference,
            f"Aucun taux de la BCE n'est renseigné pour le {half_year_name(reference)} : la "
            f"table « {ECB_RATE_TABLE} » n'a pas de ligne pour le "
            f"{french_date(reference)}, premier jour du semestre où les intérêts moratoires "
            "ont commencé à courir (R2192-31) ; ajoutez le taux des opérations principales de "
            "refinancement en vigueur ce jour-là, lu sur le site de la BCE, dans les fichiers "
            "de paramètres (paiement.yaml) : aucun taux n'est supposé.",
        ) from error


def _whole_days(parameters: ParameterLookup, table: str, on: date, *, minimum: int) -> int:
    value = parameters.value(table, on)
    if value != value.to_integral_value() or value < minimum:
        raise EngineError(
            f"La valeur de la table « {table} » le {on.isoformat()} ({value}) n'est pas un "
            f"nombre entier de jours au moins égal à {minimum} : corrigez la table."
        )
    return int(value)


def _shares(
    parameters: ParameterLookup, start: date, end: date, day_count: DayCount
) -> tuple[YearShare, ...]:
    """The late days from ``start`` to ``end`` (both counted) against their year length."""
    if day_count is DayCount.FIXED:
        year_days = _whole_days(parameters, YEAR_DAYS_TABLE, start, minimum=1)
        return (YearShare((end - start).days + 1, year_days),)
    shares = []
    for year in range(start.year, end.year + 1):
        first, last = max(start, date(year, 1, 1)), min(end, date(year, 12, 31))
        length = (date(year + 1, 1, 1) - date(year, 1, 1)).days
        shares.append(YearShare((last - first).days + 1, length))
    return tuple(shares)


def _to_cents(value: Fraction) -> Decimal:
    """``value`` rounded to the cent, half up (``ROUND_HALF_UP``: halves away from zero)."""
    cents = math.floor(abs(value) / _CENT + _HALF)
    whole, rest = divmod(cents, 100)
    return Decimal(f"{'-' if value < 0 else ''}{whole}.{rest:02d}")


def _explain_late(result: LatePayment) -> list[str]:
    start, reference = result.interest_start, result.half_year_start
    ecb, majoration, annual = result.ecb_rate, result.majoration, result.annual_rate
    # A late result has every one of these (see compute_late_payment); mypy cannot know it.
    assert start is not None
    assert reference is not None
    assert result.payable_by is not None
    assert ecb is not None
    assert majoration is not None
    assert annual is not None
    days = result.days_late
    if result.day_count is DayCount.FIXED:
        count = (
            f"Décompte des jours : jours de retard divisés par {result.shares[0].year_days} "
            f"(table {YEAR_DAYS_TABLE} ; choix de calcul non confirmé par un texte [UNSURE])."
        )
    else:
        count = (
            "Décompte des jours : chaque jour de retard divisé par la durée de son année civile "
            "(365 ou 366 jours) ; choix de calcul non confirmé par un texte [UNSURE]."
        )
    shares = " + ".join(f"{s.days} / {s.year_days}" for s in result.shares)
    if len(result.shares) > 1:
        shares = f"({shares})"
    return [
        f"Les intérêts moratoires courent du lendemain du dernier jour du délai, le "
        f"{french_date(start)}, jusqu'à la mise en paiement du principal, le "
        f"{french_date(result.payment_date)}, ces deux jours compris : {days} "
        f"jour{'s' if days > 1 else ''} de retard (L2192-13, R2192-31).",
        f"Taux de la BCE (opérations principales de refinancement) en vigueur le "
        f"{french_date(reference)}, premier jour du {half_year_name(reference)} où les intérêts "
        f"ont commencé à courir : {_percent(ecb)} ; ce taux vaut pour toute la durée du retard "
        f"(R2192-31 ; table {ECB_RATE_TABLE}).",
        f"Taux des intérêts moratoires : {_percent(ecb)} + {_number(majoration)} points = "
        f"{_percent(annual)} l'an (R2192-31 ; table {MAJORATION_TABLE}).",
        f"Assiette : {_euros(result.amount)} {result.base.value}, choisie par l'appelant (la "
        "référence métier ne tranche pas entre HT et TTC [UNSURE]).",
        count,
        f"Intérêts moratoires : {_euros(result.amount)} × {_percent(annual)} × {shares} = "
        f"{_euros(result.interest)}, arrondis au centime (un demi-centime est arrondi au "
        "centime supérieur).",
        f"Indemnité forfaitaire pour frais de recouvrement : {_euros(result.indemnity)} pour "
        f"cette facture payée en retard (D2192-35 ; table {INDEMNITY_TABLE}).",
        f"Intérêts et indemnité, soit {_euros(result.total)}, sont à payer au plus tard le "
        f"{french_date(result.payable_by)}, {result.payable_within} jours après la mise en "
        f"paiement du principal (R2192-36 ; table {PAYABLE_WITHIN_TABLE}).",
    ]


def _number(value: Decimal) -> str:
    """A decimal in French, as exact as given: ``8``, ``2,15``."""
    return format(value, "f").replace(".", ",")


def _two_decimals_at_least(value: Decimal) -> Decimal:
    """``8`` as ``8.00``; ``3.125`` unchanged: never rounds away a digit."""
    exponent = value.as_tuple().exponent
    return value if isinstance(exponent, int) and exponent < -2 else value.quantize(_TWO)


def _percent(value: Decimal) -> str:
    """A rate in French with at least two decimals: ``3,15 %``, ``8,00 %``."""
    return f"{_number(_two_decimals_at_least(value))} %"


def _euros(value: Decimal) -> str:
    """``10000.5`` as ``10 000,50 €`` (thin spaces between thousands)."""
    whole, _, cents = f"{_two_decimals_at_least(value):,f}".partition(".")
    return f"{whole.replace(',', _THIN_SPACE)},{cents} €"


def _plain(value: Decimal | None) -> str | None:
    """Positional decimal text (never ``1E+3``), or None."""
    return None if value is None else format(value, "f")


def _iso(day: date | None) -> str | None:
    return None if day is None else day.isoformat()
