"""The parameter tables shipped in workflows/parameters/: values, dates, sources, confidence."""

from __future__ import annotations

import itertools
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from engine.parameters import (
    Confidence,
    CoverageKind,
    ParameterBook,
    ParameterMissing,
    ParameterTable,
    Unit,
)

FOLDER = Path(__file__).resolve().parents[2] / "workflows" / "parameters"
BOOK = ParameterBook.load(FOLDER)
TABLES = BOOK.tables()


def value(table_id: str, on: str) -> Decimal:
    return BOOK.value(table_id, date.fromisoformat(on))


def test_every_file_loads_and_holds_tables() -> None:
    """Each YAML file of the folder loads without problem and contributes tables."""
    files = {Path(table.path).name for table in TABLES}
    assert files == {path.name for path in FOLDER.glob("*.yaml")}
    assert len(TABLES) >= 40


@pytest.mark.parametrize("table", TABLES, ids=lambda table: table.id)
def test_every_row_has_a_source_a_confidence_and_no_overlap(table: ParameterTable) -> None:
    """Sources are written out, confidence markers set, periods never overlap."""
    assert table.label.strip()
    for row in table.rows:
        assert len(row.source.strip()) >= 10
        assert isinstance(row.confidence, Confidence)
        assert isinstance(row.value, Decimal)
        assert row.valid_to is None or row.valid_from <= row.valid_to
    for before, after in itertools.pairwise(table.rows):
        assert before.valid_to is not None
        assert before.valid_to < after.valid_from


@pytest.mark.parametrize(
    ("table_id", "before", "after"),
    [
        ("seuil_procedure_formalisee_fcs_etat", 143000, 140000),
        ("seuil_procedure_formalisee_fcs_collectivites", 221000, 216000),
        ("seuil_procedure_formalisee_fcs_entites_adjudicatrices", 443000, 432000),
        ("seuil_procedure_formalisee_travaux", 5538000, 5404000),
        ("seuil_controle_legalite", 221000, 216000),
    ],
)
def test_eu_thresholds_change_on_1_january_2026(table_id: str, before: int, after: int) -> None:
    """2024–2025 values until 31 December 2025, 2026–2027 values from 1 January 2026."""
    assert BOOK.table(table_id).unit is Unit.EUR_HT
    assert value(table_id, "2024-01-01") == before
    assert value(table_id, "2025-12-31") == before
    assert value(table_id, "2026-01-01") == after
    assert value(table_id, "2027-12-31") == after
    with pytest.raises(ParameterMissing, match="2028-01-01"):
        value(table_id, "2028-01-01")


def test_dispense_thresholds_around_1_april_2026() -> None:
    """R2122-8: works 100 000 from 2026; supplies and services 40 000 then 60 000."""
    assert value("dispense_fournitures_services", "2026-03-31") == 40000
    assert value("dispense_fournitures_services", "2026-04-01") == 60000
    assert value("dispense_travaux", "2026-01-01") == 100000
    assert value("dispense_travaux", "2026-04-01") == 100000
    with pytest.raises(ParameterMissing):
        value("dispense_travaux", "2025-12-31")  # the reference gives no earlier value


def test_free_dce_threshold_around_1_april_2026() -> None:
    """R2132-2: 40 000 € HT until 31 March 2026, 60 000 € HT from 1 April 2026."""
    assert value("seuil_dce_gratuit", "2026-03-31") == 40000
    assert value("seuil_dce_gratuit", "2026-04-01") == 60000


@pytest.mark.parametrize(
    ("table_id", "expected", "unit"),
    [
        ("seuil_publicite_mapa", 90000, Unit.EUR_HT),
        ("seuil_decp", 40000, Unit.EUR_HT),
        ("achats_innovants_sans_publicite", 100000, Unit.EUR_HT),
        ("seuil_services_sociaux_pouvoirs_adjudicateurs", 750000, Unit.EUR_HT),
        ("seuil_services_sociaux_entites_adjudicatrices", 1000000, Unit.EUR_HT),
        ("delai_paiement_pouvoirs_adjudicateurs", 30, Unit.JOURS),
        ("delai_paiement_etablissements_sante", 50, Unit.JOURS),
        ("delai_paiement_entreprises_publiques", 60, Unit.JOURS),
        ("indemnite_forfaitaire_recouvrement", 40, Unit.EUR),
        ("marge_interets_moratoires", 8, Unit.POINTS),
        ("standstill_electronique", 11, Unit.JOURS),
        ("standstill_autre", 16, Unit.JOURS),
        ("delai_reception_aoo", 35, Unit.JOURS),
        ("delai_reception_aoo_electronique", 30, Unit.JOURS),
        ("delai_reception_aoo_avis_preinformation", 15, Unit.JOURS),
        ("delai_reception_aoo_urgence", 15, Unit.JOURS),
        ("delai_offres_aor_electronique", 25, Unit.JOURS),
        ("delai_offres_pn_urgence", 10, Unit.JOURS),
        ("modification_de_minimis_fournitures_services", 10, Unit.POURCENTAGE),
        ("modification_de_minimis_travaux", 15, Unit.POURCENTAGE),
        ("seuil_avis_cao_avenant", 5, Unit.POURCENTAGE),
    ],
)
def test_values_in_force_in_2026(table_id: str, expected: int, unit: Unit) -> None:
    """The values of the reference (sections 2, 4 and 6), with their unit."""
    assert value(table_id, "2026-05-01") == expected
    assert BOOK.table(table_id).unit is unit


@pytest.mark.parametrize(
    ("table_id", "confidence"),
    [
        ("achats_innovants_sans_publicite", Confidence.UNSURE),
        ("seuil_controle_legalite", Confidence.UNSURE),
        ("seuil_services_sociaux_pouvoirs_adjudicateurs", Confidence.UNSURE),
        ("seuil_services_sociaux_entites_adjudicatrices", Confidence.UNSURE),
        ("delai_candidatures_dialogue_competitif", Confidence.UNSURE),
        ("delai_paiement_pouvoirs_adjudicateurs", Confidence.SECONDARY),
        ("seuil_avis_cao_avenant", Confidence.SECONDARY),
        ("seuil_procedure_formalisee_fcs_collectivites", Confidence.VERIFIED),
        ("dispense_fournitures_services", Confidence.VERIFIED),
        ("standstill_electronique", Confidence.VERIFIED),
        ("indemnite_forfaitaire_recouvrement", Confidence.VERIFIED),
    ],
)
def test_confidence_markers_follow_the_reference(table_id: str, confidence: Confidence) -> None:
    """[UNSURE] items stay data marked unsure; [S] secondary; [V] verified (2026 rows)."""
    assert BOOK.row(table_id, date(2026, 5, 1)).confidence is confidence


def test_unsure_rows_say_why_in_their_note() -> None:
    """Every unsure row explains what to verify."""
    for table in TABLES:
        for row in table.rows:
            if row.confidence is Confidence.UNSURE:
                assert row.note is not None
                assert "UNSURE" in row.note, table.id


def test_2024_2025_eu_values_are_secondary_for_want_of_their_own_marker() -> None:
    """The reference marks only the 2026–2027 EU values [V]."""
    row = BOOK.row("seuil_procedure_formalisee_travaux", date(2025, 6, 1))
    assert row.confidence is Confidence.SECONDARY
    assert BOOK.row("seuil_procedure_formalisee_travaux", date(2026, 6, 1)).confidence is (
        Confidence.VERIFIED
    )


def test_the_ecb_rate_table_holds_sourced_half_years_and_ends_in_june_2026() -> None:
    """The ECB rate of each half-year from 2019 to mid-2026, each row sourced; none after."""
    table = BOOK.table("taux_bce_refinancement")
    assert table.unit is Unit.TAUX
    assert table.rows[0].valid_from == date(2019, 1, 1)
    assert table.rows[-1].valid_to == date(2026, 6, 30)
    assert all(row.source for row in table.rows)
    assert value("taux_bce_refinancement", "2026-05-01") == Decimal("2.15")
    assert value("taux_bce_refinancement", "2023-07-01") == Decimal("4.00")
    with pytest.raises(ParameterMissing, match="taux_bce_refinancement"):
        value("taux_bce_refinancement", "2026-07-01")


def test_coverage_reports_the_ecb_table_end_and_the_2028_end() -> None:
    """Coverage lists the ECB table ending in June 2026, and the EU thresholds after 2027."""
    findings = {(f.table_id, f.kind) for f in BOOK.coverage()}
    assert ("taux_bce_refinancement", CoverageKind.ENDS) in findings
    assert ("seuil_procedure_formalisee_travaux", CoverageKind.ENDS) in findings
    assert not [f for f in BOOK.coverage() if f.kind is CoverageKind.GAP]
    late = {f.table_id for f in BOOK.coverage(since=date(2024, 1, 1))}
    assert "dispense_travaux" in late


def test_the_documentation_lists_every_shipped_table() -> None:
    """docs/parameters.md names every table, so that a new table is documented."""
    text = (FOLDER.parents[1] / "docs" / "parameters.md").read_text(encoding="utf-8")
    missing = [table.id for table in TABLES if f"`{table.id}`" not in text]
    assert not missing, f"not in docs/parameters.md: {', '.join(missing)}"
