"""Dated, sourced legal parameters (thresholds, days, percentages, rates) read from YAML tables."""

from __future__ import annotations

import difflib
import itertools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

from engine.definition import IDENTIFIER
from engine.errors import DefinitionSyntaxError, EngineError, Problem
from engine.loader import LineMap, parse_yaml
from engine.loader import read_source as read_text
from engine.validation import PathPart, field_path

_IDENTIFIER_RE = re.compile(IDENTIFIER)
_DECIMAL_RE = re.compile(r"-?\d+(\.\d+)?")
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
_ONE_DAY = timedelta(days=1)
_E = TypeVar("_E", bound=StrEnum)


class Unit(StrEnum):
    """What a parameter's value counts."""

    EUR_HT = "EUR_HT"
    EUR = "EUR"
    JOURS = "jours"
    MOIS = "mois"
    POURCENTAGE = "pourcentage"
    POINTS = "points"
    TAUX = "taux"
    COEFFICIENT = "coefficient"


class Confidence(StrEnum):
    """How sure the source is: the reference's markers [V], [S] and [UNSURE]."""

    VERIFIED = "verified"
    SECONDARY = "secondary"
    UNSURE = "unsure"


class CoverageKind(StrEnum):
    """What a coverage finding reports about a table's periods."""

    EMPTY = "empty"
    STARTS = "starts"
    GAP = "gap"
    ENDS = "ends"


class ParameterMissing(EngineError, LookupError):
    """No row of a parameter table applies on the date asked."""

    code = "parametre_manquant"

    def __init__(self, table_id: str, on: date | None, message: str) -> None:
        self.table_id = table_id
        self.on = on
        super().__init__(message)


class UnknownParameter(ParameterMissing):
    """No parameter table has this id."""

    code = "parametre_inconnu"


class ParametersInvalid(EngineError):
    """Parameter files break rules; ``problems`` lists every one with file, line and field."""

    code = "parametres_invalides"

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        lines = "\n".join(str(problem) for problem in self.problems)
        super().__init__(f"{len(self.problems)} problème(s) dans les paramètres :\n{lines}")


@dataclass(frozen=True, slots=True)
class ParameterRow:
    """One dated value of a table: from ``valid_from`` to ``valid_to`` included (open if None)."""

    value: Decimal
    valid_from: date
    valid_to: date | None
    source: str
    confidence: Confidence
    note: str | None = None

    def applies_on(self, on: date) -> bool:
        """True when ``on`` falls within this row's period."""
        return self.valid_from <= on and (self.valid_to is None or on <= self.valid_to)

    @property
    def period(self) -> str:
        """The period in French, e.g. ``du 2026-01-01 au 2027-12-31`` or ``à partir du …``."""
        if self.valid_to is None:
            return f"à partir du {self.valid_from.isoformat()}"
        return f"du {self.valid_from.isoformat()} au {self.valid_to.isoformat()}"


@dataclass(frozen=True, slots=True)
class ParameterTable:
    """A legal parameter and its dated values, rows sorted by start date, never overlapping."""

    id: str
    label: str
    unit: Unit
    rows: tuple[ParameterRow, ...]
    note: str | None = None
    path: str = ""
    line: int | None = None

    def __post_init__(self) -> None:
        ordered = tuple(sorted(self.rows, key=lambda row: row.valid_from))
        object.__setattr__(self, "rows", ordered)
        clash = _first_overlap(ordered)
        if clash is not None:
            raise ValueError(f"rows of {self.id!r} overlap: {ordered[clash]} and the next one")

    def row(self, on: date) -> ParameterRow | None:
        """The row that applies on ``on``, or ``None``."""
        return next((row for row in self.rows if row.applies_on(on)), None)


@dataclass(frozen=True, slots=True)
class CoverageFinding:
    """A hole in a table's periods: no row, a late start, a gap between rows, or an end."""

    table_id: str
    kind: CoverageKind
    start: date | None
    end: date | None
    message: str

    def __str__(self) -> str:
        return self.message


class ParameterBook:
    """Every parameter table, by id; answers which value applies on a date."""

    def __init__(self, tables: Iterable[ParameterTable]) -> None:
        self._tables: dict[str, ParameterTable] = {}
        for table in tables:
            if table.id in self._tables:
                raise ValueError(f"two parameter tables are named {table.id!r}")
            self._tables[table.id] = table

    @classmethod
    def load(cls, folder: Path | str) -> ParameterBook:
        """Read every ``*.yaml`` file of ``folder`` (not recursive).

        Raises:
            ParametersInvalid: Some file breaks a rule; every problem of every file is listed.
        """
        tables: dict[str, ParameterTable] = {}
        problems: list[Problem] = []
        paths = sorted(Path(folder).glob("*.yaml"))
        if not paths:
            problems.append(Problem(str(folder), None, "", "aucun fichier *.yaml de paramètres"))
        for path in paths:
            found, file_problems = _load_file(path)
            problems.extend(file_problems)
            for table in found:
                first = tables.setdefault(table.id, table)
                if first is not table:
                    message = (
                        f"la table « {table.id} » est déjà définie ({first.path}:{first.line})"
                    )
                    problems.append(Problem(table.path, table.line, table.id, message))
        if problems:
            raise ParametersInvalid(problems)
        return cls(tables.values())

    def tables(self) -> tuple[ParameterTable, ...]:
        """Every table, sorted by id."""
        return tuple(self._tables[key] for key in sorted(self._tables))

    def table(self, table_id: str) -> ParameterTable:
        """The table ``table_id``; raises :class:`UnknownParameter` when there is none."""
        table = self._tables.get(table_id)
        if table is None:
            close = difflib.get_close_matches(table_id, list(self._tables), n=1, cutoff=0.6)
            hint = f" (vouliez-vous dire « {close[0]} » ?)" if close else ""
            message = f"Paramètre « {table_id} » inconnu{hint} : aucune table ne porte ce nom."
            raise UnknownParameter(table_id, None, message)
        return table

    def row(self, table_id: str, on: date) -> ParameterRow:
        """The row of ``table_id`` that applies on ``on``, with its source and confidence.

        Raises:
            UnknownParameter: No table has this id.
            ParameterMissing: The table has no row for this date.
        """
        table = self.table(table_id)
        row = table.row(on)
        if row is None:
            periods = " ; ".join(r.period for r in table.rows) or "aucune période renseignée"
            raise ParameterMissing(
                table_id,
                on,
                f"Aucune valeur du paramètre « {table.label} » ({table_id}) ne s'applique le "
                f"{on.isoformat()} (périodes connues : {periods}) : complétez la table dans "
                f"{table.path or 'les fichiers de paramètres'}.",
            )
        return row

    def value(self, table_id: str, on: date) -> Decimal:
        """The exact value of ``table_id`` on ``on`` (see :meth:`row` for the errors)."""
        return self.row(table_id, on).value

    def coverage(self, since: date | None = None) -> list[CoverageFinding]:
        """Holes in the tables' periods: empty tables, gaps between rows, end dates.

        Args:
            since: When given, tables whose first row starts after this date are reported too.
        """
        return [finding for table in self.tables() for finding in _holes(table, since)]

    def __contains__(self, table_id: object) -> bool:
        return table_id in self._tables

    def __len__(self) -> int:
        return len(self._tables)


def _holes(table: ParameterTable, since: date | None) -> Iterable[CoverageFinding]:
    name = f"« {table.label} » ({table.id})"
    if not table.rows:
        yield CoverageFinding(table.id, CoverageKind.EMPTY, None, None, f"{name} : aucune valeur")
        return
    first, last = table.rows[0].valid_from, table.rows[-1].valid_to
    if since is not None and first > since:
        message = f"{name} : aucune valeur du {since} au {first - _ONE_DAY}"
        yield CoverageFinding(table.id, CoverageKind.STARTS, since, first - _ONE_DAY, message)
    for before, after in itertools.pairwise(table.rows):
        end = before.valid_to or after.valid_from  # rows never overlap: valid_to is set
        if after.valid_from - end > _ONE_DAY:
            start, stop = end + _ONE_DAY, after.valid_from - _ONE_DAY
            message = f"{name} : aucune valeur du {start} au {stop}"
            yield CoverageFinding(table.id, CoverageKind.GAP, start, stop, message)
    if last is not None:
        message = f"{name} : aucune valeur à partir du {last + _ONE_DAY}"
        yield CoverageFinding(table.id, CoverageKind.ENDS, last + _ONE_DAY, None, message)


def _first_overlap(rows: Sequence[ParameterRow]) -> int | None:
    """Index of the first row (sorted by start) whose period meets the next one's."""
    for index, (before, after) in enumerate(itertools.pairwise(rows)):
        if before.valid_to is None or before.valid_to >= after.valid_from:
            return index
    return None


_KEYS: dict[str, tuple[str, ...]] = {
    "file": ("description", "tables"),
    "table": ("label", "unit", "note", "rows"),
    "row": ("value", "valid_from", "valid_to", "source", "confidence", "note"),
}
_REQUIRED: dict[str, tuple[str, ...]] = {
    "file": ("tables",),
    "table": ("label", "unit", "rows"),
    "row": ("value", "valid_from", "source", "confidence"),
}


def _load_file(path: Path) -> tuple[list[ParameterTable], list[Problem]]:
    """The tables of one file (none if it has a problem), and its problems."""
    try:
        parsed = parse_yaml(read_text(path), str(path))
    except DefinitionSyntaxError as error:
        return [], [error.problem]
    checker = _Checker(str(path), parsed.lines)
    checker.problems.extend(parsed.problems)
    tables = checker.file(parsed.data)
    checker.problems.sort(key=lambda p: p.line if p.line is not None else 0)
    return (tables if not checker.problems else []), checker.problems


class _Checker:
    """Checks the shape of one parameter file; every problem lands with its line and field."""

    def __init__(self, path: str, lines: LineMap) -> None:
        self.path = path
        self.lines = lines
        self.problems: list[Problem] = []

    def line(self, loc: tuple[PathPart, ...]) -> int | None:
        for end in range(len(loc), -1, -1):
            if loc[:end] in self.lines:
                return self.lines[loc[:end]]
        return None

    def fail(self, loc: tuple[PathPart, ...], message: str) -> None:
        self.problems.append(Problem(self.path, self.line(loc), field_path(*loc), message))

    def file(self, data: Any) -> list[ParameterTable]:
        if data is None:
            self.fail((), "le fichier est vide : il doit décrire des tables de paramètres")
        block = self.block((), data, "file") if data is not None else None
        if block is None or block.get("tables") is None:
            return []
        self.text(("description",), block.get("description"))
        if not isinstance(block["tables"], dict):
            self.fail(("tables",), "doit être un bloc « identifiant: table »")
            return []
        found = [self.table(table_id, body) for table_id, body in block["tables"].items()]
        return [table for table in found if table is not None]

    def block(self, loc: tuple[PathPart, ...], data: Any, kind: str) -> dict[str, Any] | None:
        if not isinstance(data, dict):
            self.fail(loc, "doit être un bloc de clés et de valeurs (clé: valeur)")
            return None
        keys = _KEYS[kind]
        for key in data:
            if key not in keys:
                close = difflib.get_close_matches(str(key), keys, n=1, cutoff=0.6)
                hint = f" (vouliez-vous dire « {close[0]} » ?)" if close else ""
                message = f"clé inconnue « {key} »{hint} ; clés possibles : {', '.join(keys)}"
                self.fail((*loc, str(key)), message)
        for key in _REQUIRED[kind]:
            if data.get(key) is None:
                self.fail((*loc, key), f"clé obligatoire « {key} » manquante")
        return data

    def table(self, table_id: Any, body: Any) -> ParameterTable | None:
        loc: tuple[PathPart, ...] = ("tables", str(table_id))
        before = len(self.problems)
        if not isinstance(table_id, str) or not _IDENTIFIER_RE.match(table_id):
            self.fail(
                loc,
                f"identifiant de table « {table_id} » invalide : lettres minuscules "
                "sans accent, chiffres et « _ », en commençant par une lettre",
            )
        block = self.block(loc, body, "table")
        if block is None:
            return None
        label = self.text((*loc, "label"), block.get("label"))
        note = self.text((*loc, "note"), block.get("note"))
        unit = self.choice((*loc, "unit"), block.get("unit"), Unit)
        items = block.get("rows")
        if items is not None and not isinstance(items, list):
            self.fail((*loc, "rows"), "doit être une liste (éléments précédés de « - »)")
        items = items if isinstance(items, list) else []
        read = [(i, self.row((*loc, "rows", i), item)) for i, item in enumerate(items)]
        rows = sorted(
            ((i, row) for i, row in read if row is not None), key=lambda r: r[1].valid_from
        )
        for (first, earlier), (second, later) in itertools.pairwise(rows):
            if _first_overlap([earlier, later]) is not None:
                self.fail(
                    (*loc, "rows", second),
                    f"la période de cette ligne ({later.period}) "
                    f"chevauche celle de rows[{first}] ({earlier.period})",
                )
        if unit in (Unit.JOURS, Unit.MOIS):
            for i, row in rows:
                if row.value != row.value.to_integral_value():
                    self.fail((*loc, "rows", i, "value"), f"un nombre de {unit} est entier")
        if len(self.problems) > before or label is None or unit is None:
            return None
        found = tuple(row for _, row in rows)
        return ParameterTable(table_id, label, unit, found, note, self.path, self.line(loc))

    def row(self, loc: tuple[PathPart, ...], data: Any) -> ParameterRow | None:
        before = len(self.problems)
        block = self.block(loc, data, "row")
        if block is None:
            return None
        value = self.decimal((*loc, "value"), block.get("value"))
        start = self.date((*loc, "valid_from"), block.get("valid_from"))
        end = self.date((*loc, "valid_to"), block.get("valid_to"))
        source = self.text((*loc, "source"), block.get("source"))
        confidence = self.choice((*loc, "confidence"), block.get("confidence"), Confidence)
        note = self.text((*loc, "note"), block.get("note"))
        if start is not None and end is not None and end < start:
            self.fail((*loc, "valid_to"), f"la fin ({end}) précède le début ({start})")
        if len(self.problems) > before or value is None or start is None:
            return None
        if source is None or confidence is None:
            return None
        return ParameterRow(value, start, end, source, confidence, note)

    def text(self, loc: tuple[PathPart, ...], value: Any) -> str | None:
        if value is not None and (not isinstance(value, str) or not value.strip()):
            self.fail(loc, "doit être un texte non vide" + _shown(value))
        return value.strip() if isinstance(value, str) and value.strip() else None

    def decimal(self, loc: tuple[PathPart, ...], value: Any) -> Decimal | None:
        if isinstance(value, int) and not isinstance(value, bool):
            return Decimal(value)
        if isinstance(value, str) and _DECIMAL_RE.fullmatch(value.strip()):
            return Decimal(value.strip())
        if isinstance(value, float):
            self.fail(
                loc,
                f"nombre à virgule lu par YAML, donc inexact ({value}) : écrivez-le "
                f'entre guillemets avec un point, par exemple « "{value}" »',
            )
        elif value is not None:
            self.fail(
                loc,
                "doit être un nombre entier, ou un nombre décimal entre guillemets "
                'avec un point (140000, "8.5")' + _shown(value),
            )
        return None

    def date(self, loc: tuple[PathPart, ...], value: Any) -> date | None:
        if isinstance(value, date) and not isinstance(value, datetime):
            return value
        if isinstance(value, str) and _DATE_RE.fullmatch(value.strip()):
            try:
                return date.fromisoformat(value.strip())
            except ValueError:
                pass
        if value is not None:
            self.fail(loc, "doit être une date au format AAAA-MM-JJ" + _shown(value))
        return None

    def choice(self, loc: tuple[PathPart, ...], value: Any, kind: type[_E]) -> _E | None:
        allowed = [member.value for member in kind]
        if isinstance(value, str) and value in allowed:
            return kind(value)
        if value is not None:
            self.fail(
                loc, f"valeur « {value} » non reconnue ; valeurs possibles : {', '.join(allowed)}"
            )
        return None


def _shown(value: Any) -> str:
    text = str(value)
    return f" (valeur lue : « {text if len(text) <= 60 else text[:57] + '...'} »)"
