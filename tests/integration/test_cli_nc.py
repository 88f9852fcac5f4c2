"""``jalon nc`` and ``jalon case fire --derogation`` as a user runs them (real console script)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.sample_workflow import ACHAT_V1, write_library

JALON = str(Path(sys.executable).parent / "jalon")
WITH_AUTHORITY = ACHAT_V1.replace("code: ACH\n", "code: ACH\nderogation_roles: [directeur]\n")
Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def run(tmp_path: Path) -> Run:
    """Run ``jalon`` on a temporary SQLite file, a test library and a frozen clock."""
    env = {
        **os.environ,
        "JALON_DATABASE_URL": str(tmp_path / "jalon.db"),
        "JALON_WORKFLOWS": str(write_library(tmp_path / "library", WITH_AUTHORITY)),
        "JALON_NOW": "2026-03-02T09:00:00Z",
        "COLUMNS": "200",
    }

    def jalon(*args: str, code: int = 0) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [JALON, *args], capture_output=True, text=True, env=env, cwd=tmp_path, check=False
        )
        assert result.returncode == code, f"jalon {' '.join(args)}:\n{result.stderr}"
        assert "Traceback" not in result.stderr
        return result

    return jalon


def opened(run: Run, *values: str) -> str:
    sets = [item for value in values for item in ("--set", value)]
    return str(
        run("case", "open", "achat", "--org", "AMP", *sets, "--as", "marie:acheteur").stdout
    ).strip()


def test_a_non_blocking_failure_is_listed_shown_and_treated(run: Run) -> None:
    ref = opened(run, "objet=Papier", "montant=1200")
    fired = run("case", "fire", ref, "valider", "--as", "marie:acheteur").stdout
    assert "non-conformité ouverte : AMP-2026-NC-0001" in fired
    listed = json.loads(run("nc", "list", "--json").stdout)
    assert [(n["reference"], n["case"], n["severity"]) for n in listed] == [
        ("AMP-2026-NC-0001", ref, "minor")
    ]
    assert json.loads(run("nc", "list", "--severity", "majeure", "--json").stdout) == []
    assert len(json.loads(run("nc", "list", "--workflow", "achat", "--json").stdout)) == 1
    assert json.loads(run("nc", "list", "--clause", "9.2", "--json").stdout) == []
    shown = run("nc", "show", "AMP-2026-NC-0001").stdout
    assert "écart mineure" in shown
    assert f"Dossier {ref}" in shown
    assert "enregistrer" in shown
    run("nc", "fire", "AMP-2026-NC-0001", "enregistrer", "--as", "quentin:responsable_qualite")
    run(
        "nc",
        "set",
        "AMP-2026-NC-0001",
        "correction=Date saisie",
        "date_correction=03/03/2026",
        "--as",
        "pierre:pilote_processus",
    )
    moved = run("nc", "fire", "AMP-2026-NC-0001", "corriger", "--as", "pierre:pilote_processus")
    assert "Enregistrée → Correction réalisée" in moved.stdout
    detail = json.loads(run("nc", "show", "AMP-2026-NC-0001", "--json").stdout)
    assert detail["state"] == "corrigee"
    assert detail["case_view"]["data"]["correction"] == "Date saisie"


def test_a_derogation_from_the_command_line(run: Run) -> None:
    ref = opened(run, "objet=Papier", "montant=1200", "date_besoin=2026-03-10")
    run("case", "fire", ref, "valider", "--as", "marie:acheteur")
    refused = run(
        "case",
        "fire",
        ref,
        "commander",
        "--as",
        "paul:responsable",
        "--derogation",
        "Urgence impérieuse, devis remis en main propre",
        code=1,
    )
    assert "ne détient pas l'autorité" in refused.stderr
    passed = run(
        "case",
        "fire",
        ref,
        "commander",
        "--as",
        "claire:responsable,directeur",
        "--derogation",
        "Urgence impérieuse, devis remis en main propre",
    ).stdout
    assert "étape franchie par dérogation" in passed
    assert "dérogé : required_documents" in passed
    concession = json.loads(run("nc", "list", "--nature", "concession", "--json").stdout)
    assert [(n["severity"], n["control"]) for n in concession] == [("major", "required_documents")]


def test_open_by_hand_and_similar(run: Run) -> None:
    first = opened(run, "objet=Papier", "montant=1200", "date_besoin=2026-03-10")
    second = opened(run, "objet=Encre", "montant=300", "date_besoin=2026-03-10")
    for ref in (first, second):
        run(
            "nc",
            "open",
            ref,
            "--clause",
            "7.5.3",
            "--severity",
            "minor",
            "--origin",
            "internal_audit",
            "--finding",
            "Pièces nommées sans convention",
            "--as",
            "alice:responsable_qualite",
        )
    similar = json.loads(run("nc", "similar", "AMP-2026-NC-0001", "--json").stdout)
    assert [(n["reference"], n["case"]) for n in similar] == [("AMP-2026-NC-0002", second)]
    bad = run(
        "nc",
        "open",
        first,
        "--clause",
        "huit",
        "--severity",
        "minor",
        "--finding",
        "Un constat assez long",
        code=1,
    )
    assert "Clause ISO 9001 « huit » illisible" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
    fixed = run("nc", "set", "AMP-2026-NC-0001", "gravite=major", code=1)
    assert "fixé à l'ouverture" in fixed.stderr
    not_nc = run("nc", "show", first, code=1)
    assert "n'est pas une non-conformité" in not_nc.stderr
