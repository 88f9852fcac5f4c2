"""Parameter tables: YAML format, dated lookups, overlaps refused, coverage, French problems."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from engine.errors import EngineError
from engine.parameters import (
    Confidence,
    CoverageKind,
    ParameterBook,
    ParameterMissing,
    ParameterRow,
    ParametersInvalid,
    ParameterTable,
    Unit,
    UnknownParameter,
)

VALID = """\
description: Seuils de démonstration
tables:
  seuil_demo:
    label: Seuil de démonstration
    unit: EUR_HT
    note: Pour les tests
    rows:
      - value: 40000
        valid_from: 2024-01-01
        valid_to: 2026-03-31
        source: Décret de démonstration, art. 1
        confidence: verified
      - value: "60000.50"
        valid_from: "2026-04-01"
        valid_to: null
        source: https://example.org/decret
        confidence: unsure
        note: À vérifier
  vide:
    label: Table vide
    unit: taux
    rows: []
"""


def write(folder: Path, text: str, name: str = "demo.yaml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(folder: Path) -> list[str]:
    with pytest.raises(ParametersInvalid) as caught:
        ParameterBook.load(folder)
    return [str(problem) for problem in caught.value.problems]


def row(start: date, end: date | None, value: int = 1) -> ParameterRow:
    return ParameterRow(Decimal(value), start, end, "source", Confidence.VERIFIED)


@pytest.fixture
def book(tmp_path: Path) -> ParameterBook:
    write(tmp_path, VALID)
    return ParameterBook.load(tmp_path)


def test_a_valid_file_loads_every_table(book: ParameterBook) -> None:
    """Tables come back sorted by id, with their label, unit, note, file and line."""
    assert [table.id for table in book.tables()] == ["seuil_demo", "vide"]
    table = book.table("seuil_demo")
    assert (table.label, table.unit, table.note) == (
        "Seuil de démonstration",
        Unit.EUR_HT,
        "Pour les tests",
    )
    assert table.path.endswith("demo.yaml")
    assert table.line == 3
    assert "seuil_demo" in book
    assert len(book) == 2


def test_values_are_exact_decimals_from_ints_and_strings(book: ParameterBook) -> None:
    """An int and a decimal text both become Decimal, with no float on the way."""
    assert book.value("seuil_demo", date(2025, 6, 1)) == Decimal(40000)
    value = book.value("seuil_demo", date(2026, 6, 1))
    assert isinstance(value, Decimal)
    assert str(value) == "60000.50"


def test_boundaries_are_inclusive(book: ParameterBook) -> None:
    """valid_from and valid_to both belong to the row's period."""
    assert book.value("seuil_demo", date(2024, 1, 1)) == 40000
    assert book.value("seuil_demo", date(2026, 3, 31)) == 40000
    assert book.value("seuil_demo", date(2026, 4, 1)) == Decimal("60000.50")
    assert book.value("seuil_demo", date(2099, 12, 31)) == Decimal("60000.50")


def test_row_carries_source_confidence_and_note(book: ParameterBook) -> None:
    """The row says where the value comes from and how sure it is."""
    found = book.row("seuil_demo", date(2026, 4, 1))
    assert found.source == "https://example.org/decret"
    assert found.confidence is Confidence.UNSURE
    assert found.note == "À vérifier"
    assert found.valid_to is None
    assert found.period == "à partir du 2026-04-01"


def test_no_row_on_a_date_raises_parameter_missing_naming_table_and_date(
    book: ParameterBook,
) -> None:
    """Before the first row, the French error names the table, its label and the date."""
    with pytest.raises(ParameterMissing) as caught:
        book.value("seuil_demo", date(2023, 12, 31))
    error = caught.value
    assert isinstance(error, EngineError)
    assert isinstance(error, LookupError)
    assert (error.table_id, error.on) == ("seuil_demo", date(2023, 12, 31))
    assert "seuil_demo" in error.message
    assert "2023-12-31" in error.message
    assert "Seuil de démonstration" in error.message
    assert "du 2024-01-01 au 2026-03-31" in error.message


def test_an_empty_table_has_no_value(book: ParameterBook) -> None:
    """A table without rows is allowed, but every lookup fails."""
    with pytest.raises(ParameterMissing, match="aucune période renseignée"):
        book.value("vide", date(2026, 1, 1))


def test_unknown_table_suggests_a_close_name(book: ParameterBook) -> None:
    """A misspelt id is refused with a suggestion; it is also a ParameterMissing."""
    with pytest.raises(UnknownParameter, match="vouliez-vous dire « seuil_demo »") as caught:
        book.value("seuil_dem", date(2026, 1, 1))
    assert isinstance(caught.value, ParameterMissing)
    assert caught.value.code == "parametre_inconnu"


def test_coverage_reports_empty_tables_gaps_late_starts_and_ends() -> None:
    """Gaps are allowed in a table, and reported; so are empty tables and an end date."""
    gap = ParameterTable(
        "avec_trou",
        "Avec un trou",
        Unit.JOURS,
        (row(date(2024, 1, 1), date(2024, 12, 31)), row(date(2025, 3, 1), date(2025, 12, 31))),
    )
    empty = ParameterTable("vide", "Vide", Unit.TAUX, ())
    book = ParameterBook([gap, empty])
    found = {(f.table_id, f.kind, f.start, f.end) for f in book.coverage()}
    assert found == {
        ("avec_trou", CoverageKind.GAP, date(2025, 1, 1), date(2025, 2, 28)),
        ("avec_trou", CoverageKind.ENDS, date(2026, 1, 1), None),
        ("vide", CoverageKind.EMPTY, None, None),
    }
    late = book.coverage(since=date(2023, 1, 1))
    assert ("avec_trou", CoverageKind.STARTS, date(2023, 1, 1), date(2023, 12, 31)) in {
        (f.table_id, f.kind, f.start, f.end) for f in late
    }
    assert all(str(finding).startswith("« ") for finding in late)


def test_adjacent_rows_leave_no_gap(book: ParameterBook) -> None:
    """A row ending on 31 March and the next starting on 1 April are contiguous."""
    assert [f.kind for f in book.coverage() if f.table_id == "seuil_demo"] == []


def test_a_table_refuses_overlapping_rows_and_sorts_them() -> None:
    """The model itself never holds overlapping rows; rows are kept in date order."""
    later, earlier = row(date(2025, 1, 1), None), row(date(2024, 1, 1), date(2024, 12, 31))
    assert ParameterTable("t", "T", Unit.EUR, (later, earlier)).rows == (earlier, later)
    with pytest.raises(ValueError, match="overlap"):
        ParameterTable("t", "T", Unit.EUR, (row(date(2024, 1, 1), None), later))
    with pytest.raises(ValueError, match="two parameter tables"):
        ParameterBook(
            [ParameterTable("t", "T", Unit.EUR, ()), ParameterTable("t", "U", Unit.EUR, ())]
        )


def test_overlapping_rows_are_reported_with_line_and_field(tmp_path: Path) -> None:
    """The second row of an overlap is named, with both periods."""
    text = VALID.replace("valid_to: 2026-03-31", "valid_to: 2026-04-01")
    write(tmp_path, text)
    assert problems_of(tmp_path) == [
        f"{tmp_path / 'demo.yaml'}:13: [tables.seuil_demo.rows[1]] la période de cette ligne "
        "(à partir du 2026-04-01) chevauche celle de rows[0] (du 2024-01-01 au 2026-04-01)"
    ]


def test_an_open_row_before_another_overlaps(tmp_path: Path) -> None:
    """A row without valid_to runs for ever: any later row overlaps it."""
    write(tmp_path, VALID.replace("valid_to: 2026-03-31", "valid_to: null"))
    assert "chevauche" in problems_of(tmp_path)[0]


@pytest.mark.parametrize(
    ("old", "new", "line", "field", "message"),
    [
        (
            "unit: EUR_HT",
            "unit: euros",
            5,
            "tables.seuil_demo.unit",
            "valeur « euros » non reconnue",
        ),
        (
            "    note: Pour",
            "    notes: Pour",
            6,
            "tables.seuil_demo.notes",
            "clé inconnue « notes » (vouliez-vous dire « note » ?)",
        ),
        (
            "value: 40000",
            "value: 40000.5",
            8,
            "tables.seuil_demo.rows[0].value",
            'écrivez-le entre guillemets avec un point, par exemple « "40000.5" »',
        ),
        (
            "value: 40000",
            "value: 40 000",
            8,
            "tables.seuil_demo.rows[0].value",
            "doit être un nombre entier, ou un nombre décimal",
        ),
        (
            "value: 40000",
            "value: true",
            8,
            "tables.seuil_demo.rows[0].value",
            "doit être un nombre entier",
        ),
        (
            "valid_from: 2024-01-01",
            "valid_from: 01/01/2024",
            9,
            "tables.seuil_demo.rows[0].valid_from",
            "doit être une date au format AAAA-MM-JJ",
        ),
        (
            "valid_to: 2026-03-31",
            "valid_to: 2023-03-31",
            10,
            "tables.seuil_demo.rows[0].valid_to",
            "la fin (2023-03-31) précède le début (2024-01-01)",
        ),
        (
            "confidence: verified",
            "confidence: V",
            12,
            "tables.seuil_demo.rows[0].confidence",
            "valeurs possibles : verified, secondary, unsure",
        ),
        (
            "        source: Décret de démonstration, art. 1\n",
            "",
            8,
            "tables.seuil_demo.rows[0].source",
            "clé obligatoire « source » manquante",
        ),
        (
            "        source: Décret de démonstration, art. 1",
            "        source: ''",
            11,
            "tables.seuil_demo.rows[0].source",
            "doit être un texte non vide",
        ),
        (
            "  seuil_demo:",
            "  Seuil-Demo:",
            3,
            "tables.Seuil-Demo",
            "identifiant de table « Seuil-Demo » invalide",
        ),
        (
            "    unit: taux",
            "    unit: taux\n    unit: jours",
            22,
            "tables.vide.unit",
            "la clé « unit » apparaît deux fois",
        ),
    ],
)
def test_each_mistake_is_reported_with_file_line_and_field(
    tmp_path: Path, old: str, new: str, line: int, field: str, message: str
) -> None:
    """Like definitions, a bad parameter file names file, line and field, in French."""
    assert old in VALID
    path = write(tmp_path, VALID.replace(old, new, 1))
    problems = problems_of(tmp_path)
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{path}:{line}: [{field}] ")
    assert message in problems[0]


def test_whole_days_only_for_a_table_in_days(tmp_path: Path) -> None:
    """A number of days (or months) is a whole number."""
    write(tmp_path, VALID.replace("unit: EUR_HT", "unit: jours"))
    assert problems_of(tmp_path) == [
        f"{tmp_path / 'demo.yaml'}:13: [tables.seuil_demo.rows[1].value] "
        "un nombre de jours est entier"
    ]


def test_yaml_syntax_error_reports_its_line(tmp_path: Path) -> None:
    """A YAML syntax error is one problem with its line (and column)."""
    write(tmp_path, VALID.replace("label: Table vide", "label: Table: vide"))
    (problem,) = problems_of(tmp_path)
    assert problem.startswith(f"{tmp_path / 'demo.yaml'}:20: erreur de syntaxe YAML (colonne 17)")


def test_every_file_of_a_folder_is_checked_and_a_duplicate_table_is_named(tmp_path: Path) -> None:
    """Problems of several files come together; the same id in two files is refused."""
    write(tmp_path, VALID, "a.yaml")
    write(tmp_path, VALID.replace("rows: []", "rows: 3"), "b.yaml")
    write(
        tmp_path,
        "tables:\n  seuil_demo:\n    label: Doublon\n    unit: EUR\n    rows: []\n",
        "c.yaml",
    )
    problems = problems_of(tmp_path)
    assert problems == [
        f"{tmp_path / 'b.yaml'}:22: [tables.vide.rows] "
        "doit être une liste (éléments précédés de « - »)",
        f"{tmp_path / 'c.yaml'}:2: [seuil_demo] la table « seuil_demo » est déjà définie "
        f"({tmp_path / 'a.yaml'}:3)",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "yaml: le fichier est vide"),
        ("- 1\n", "doit être un bloc de clés et de valeurs"),
        ("description: x\n", "[tables] clé obligatoire « tables » manquante"),
        ("tables: [1]\n", "[tables] doit être un bloc « identifiant: table »"),
        ("tables:\n  t: 3\n", "[tables.t] doit être un bloc de clés et de valeurs"),
        (
            "tables:\n  t:\n    label: T\n    unit: EUR\n",
            "[tables.t.rows] clé obligatoire « rows » manquante",
        ),
        (
            "tables:\n  t:\n    label: T\n    unit: EUR\n    rows: [3]\n",
            "[tables.t.rows[0]] doit être un bloc",
        ),
    ],
)
def test_shape_problems(tmp_path: Path, text: str, expected: str) -> None:
    """Whole-file shape mistakes are reported too."""
    write(tmp_path, text)
    assert any(expected in problem for problem in problems_of(tmp_path))


def test_an_empty_folder_is_a_problem(tmp_path: Path) -> None:
    """A folder without *.yaml files is reported rather than giving an empty book."""
    (problem,) = problems_of(tmp_path)
    assert "aucun fichier *.yaml" in problem


def test_unreadable_file_is_a_problem(tmp_path: Path) -> None:
    """A file that is not UTF-8 is reported with its name."""
    (tmp_path / "latin1.yaml").write_bytes("tables: {é: 1}".encode("latin-1"))
    (problem,) = problems_of(tmp_path)
    assert "UTF-8" in problem
