"""An example control plugin for Jalon: the SIRET numbers given in a case are well formed.

A SIRET identifies an establishment of a company: its SIREN (9 digits) followed by a NIC
(5 digits); its last digit makes the Luhn checksum of the 14 digits right, so that most typing
mistakes (one wrong digit, two neighbours swapped) are caught before a contract is signed with
an establishment that does not exist. The establishments of La Poste (SIREN 356 000 000) are the
documented exception: the sum of their 14 digits is a multiple of 5 instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Annotated, Any

from pydantic import Field

from engine.controls import CaseSnapshot, ControlSpec, Params, is_missing
from engine.validation import Reference, ReferenceKind

LA_POSTE_SIREN = "356000000"
"""The SIREN whose establishments follow the « multiple of 5 » rule instead of Luhn's."""

_SPACES = re.compile(r"[\s\u00a0\u202f]+")
_FOURTEEN_DIGITS = re.compile(r"[0-9]{14}")
_FIELD_NAME = r"^[a-z][a-z0-9_]*$"


def luhn_valid(digits: str) -> bool:
    """True when the Luhn checksum of ``digits`` (ASCII digits only) is right."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        digit = int(char)
        if position % 2 == 1:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def siret_problem(value: str) -> str | None:
    """What is wrong with the SIRET ``value`` (spaces allowed), in French; ``None`` if valid."""
    number = _SPACES.sub("", value)
    if not _FOURTEEN_DIGITS.fullmatch(number):
        return f"« {value} » n'est pas un SIRET : 14 chiffres attendus"
    if luhn_valid(number):
        return None
    if number.startswith(LA_POSTE_SIREN) and sum(int(char) for char in number) % 5 == 0:
        return None
    if not luhn_valid(number[:9]):
        return f"{spaced(number)} : la clé du SIREN {number[:9]} est fausse (faute de frappe ?)"
    return f"{spaced(number)} : la clé de contrôle est fausse (faute de frappe dans le NIC ?)"


def spaced(number: str) -> str:
    """A 14-digit SIRET as it is usually written: ``732 829 320 00074``."""
    return f"{number[:3]} {number[3:6]} {number[6:9]} {number[9:]}"


class SiretsValidesParams(Params):
    """Parameters of ``sirets_valides``."""

    fields: list[Annotated[str, Field(pattern=_FIELD_NAME)]] = Field(
        min_length=1,
        description="Les champs qui contiennent un SIRET (ou une liste de SIRET).",
    )
    required: bool = Field(
        default=True,
        description="Un champ non renseigné fait échouer le contrôle (true par défaut).",
    )

    def references(self) -> Iterator[Reference]:
        """The fields named, so that validation reports a typo at its line."""
        for index, name in enumerate(self.fields):
            yield Reference(("fields", index), ReferenceKind.FIELD, name)


def _values(name: str, value: Any) -> Iterator[tuple[str, str]]:
    """(where, text) of each SIRET held by field ``name``: one, or one per list item."""
    if isinstance(value, list):
        for position, item in enumerate(value, start=1):
            yield f"{name}[{position}]", str(item)
    else:
        yield name, str(value)


def sirets_valides(params: SiretsValidesParams, snapshot: CaseSnapshot) -> tuple[bool, str]:
    """The check: every SIRET of the listed fields is valid (a pure function of the snapshot)."""
    missing: list[str] = []
    wrong: list[str] = []
    checked: list[str] = []
    for name in params.fields:
        value = snapshot.data.get(name)
        if is_missing(value):
            missing.append(name)
            continue
        for where, text in _values(name, value):
            problem = siret_problem(text)
            if problem is None:
                checked.append(where)
            else:
                wrong.append(f"{where} : {problem}")
    findings = [f"SIRET invalide — {item}" for item in wrong]
    if missing and params.required:
        findings.append(f"champ(s) non renseigné(s) : {', '.join(missing)}")
    if findings:
        return False, " ; ".join(findings)
    if not checked:
        return True, f"aucun SIRET à vérifier ({', '.join(missing)} non renseigné(s))"
    return True, f"SIRET valide(s) : {', '.join(checked)}"


SIRETS_VALIDES = ControlSpec(
    name="sirets_valides",
    clause="8.4.1",
    summary="Les champs listés contiennent des numéros SIRET valides (14 chiffres, clé de Luhn).",
    check=sirets_valides,
    params=SiretsValidesParams,
)
"""The control, named by the ``jalon.controls`` entry point (Jalon's loader registers it)."""
