"""The ``jalon case`` and ``jalon audit`` commands as a user runs them (real console script)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from storage.migrate import HEAD_REVISION
from tests.integration.sample_workflow import write_library

JALON = str(Path(sys.executable).parent / "jalon")


@pytest.fixture
def run(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Run ``jalon`` on a temporary SQLite file with a test library and a frozen clock."""
    env = {
        **os.environ,
        "JALON_DATABASE_URL": str(tmp_path / "jalon.db"),
        "JALON_WORKFLOWS": str(write_library(tmp_path / "library")),
        "JALON_NOW": "2026-03-02T09:00:00Z",
    }

    def jalon(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [JALON, *args], capture_output=True, text=True, env=env, cwd=tmp_path, check=False
        )
        if check and result.returncode != 0:
            raise AssertionError(f"jalon {' '.join(args)} failed:\n{result.stderr}")
        return result

    return jalon


def test_a_case_from_opening_to_closing(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """An officer opens, fills in, documents and advances a case; show and history agree."""
    ref = run(
        "case", "open", "achat", "--org", "AMP", "--set", "objet=Papier", "--as", "marie:acheteur"
    ).stdout.strip()
    assert ref == "AMP-2026-ACH-0001"
    run("case", "set", ref, "montant=1 500,00", "offres=2", "--as", "marie:acheteur")
    fired = run("case", "fire", ref, "valider", "--as", "marie:acheteur").stdout
    assert "Brouillon → Validé" in fired
    assert "non bloquant : required_fields" in fired
    devis = tmp_path / "devis.pdf"
    devis.write_bytes(b"devis")
    assert (
        "sha256"
        in run(
            "case", "attach", ref, str(devis), "--type", "devis", "--as", "marie:acheteur"
        ).stdout
    )
    shown = json.loads(run("case", "show", ref, "--json").stdout)
    assert shown["state"] == "valide"
    assert shown["data"]["montant"] == "1500.00"
    assert shown["documents"][0]["type"] == "devis"
    assert [s["trigger"] for s in shown["steps"]] == ["commander", "abandonner"]
    run("case", "fire", ref, "commander", "--as", "paul:responsable", "--if-version", "4")
    run("case", "fire", ref, "clore", "--as", "marie:acheteur")
    listed = json.loads(run("case", "list", "--state", "clos", "--json").stdout)
    assert [c["reference"] for c in listed] == [ref]
    trail = [json.loads(line) for line in run("audit", "trail", ref, "--json").stdout.splitlines()]
    assert [json.loads(e["body"])["kind"] for e in trail] == [
        "case.opened",
        "case.data_set",
        "case.transition",
        "case.document_attached",
        "case.transition",
        "case.transition",
    ]
    assert "Étape franchie" in run("case", "history", ref).stdout
    assert "Piste intacte" in run("audit", "verify").stdout
    assert "Point de contrôle 1" in run("audit", "checkpoint").stdout
    assert json.loads(run("audit", "verify", ref, "--json").stdout)["intact"] is True


def test_refusal_is_one_sentence_and_is_recorded(run) -> None:  # type: ignore[no-untyped-def]
    """A refused step prints one French sentence, exits 1, and lands in the trail."""
    ref = run("case", "open", "achat", "--org", "AMP", "--as", "marie:acheteur").stdout.strip()
    refused = run("case", "fire", ref, "valider", "--as", "marie:acheteur", check=False)
    assert refused.returncode == 1
    assert "Traceback" not in refused.stderr
    assert "Refusé" in refused.stderr
    assert "objet, montant" in refused.stderr
    stale = run("case", "set", ref, "objet=x", "--if-version", "7", check=False)
    assert stale.returncode == 3
    assert "Conflit" in stale.stderr
    kinds = [
        json.loads(json.loads(line)["body"])["kind"]
        for line in run("audit", "trail", ref, "--json").stdout.splitlines()
    ]
    assert kinds == ["case.opened", "command.refused", "command.refused"]


def test_json_logs_bind_case_trigger_and_actor(run) -> None:  # type: ignore[no-untyped-def]
    """With --log-format json every command logs JSON lines bound to case, trigger and actor."""
    ref = run("case", "open", "achat", "--org", "AMP", "--as", "marie:acheteur").stdout.strip()
    result = run(
        "--log-format", "json", "case", "fire", ref, "abandonner", "--as", "paul:responsable"
    )
    events = [json.loads(line) for line in result.stderr.splitlines()]
    fired = next(e for e in events if e["event"] == "case.fired")
    assert fired["case"] == ref
    assert fired["trigger"] == "abandonner"
    assert fired["actor"] == "paul:responsable"
    assert fired["level"] == "info"


def test_audit_verify_exits_4_on_a_tampered_trail(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A tampered database makes ``jalon audit verify`` name the case and position, exit 4."""
    ref = run("case", "open", "achat", "--org", "AMP", "--as", "marie:acheteur").stdout.strip()
    run("case", "set", ref, "objet=Papier", "--as", "marie:acheteur")
    connection = sqlite3.connect(tmp_path / "jalon.db")
    connection.execute("DROP TRIGGER audit_entries_no_update")
    connection.execute(
        "UPDATE audit_entries SET body = replace(body, 'Papier', 'Ciseaux') "
        "WHERE seq = 2 AND chain_id = 1"
    )
    connection.commit()
    connection.close()
    result = run("audit", "verify", check=False)
    assert result.returncode == 4
    assert f"le dossier {ref}" in result.stdout
    assert "entrée 2" in result.stdout


def test_db_upgrade_and_current(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """``jalon db upgrade`` migrates a new database; ``db current`` reports the revision."""
    upgraded = run("db", "upgrade").stdout
    assert f"vide → {HEAD_REVISION}" in upgraded
    assert (tmp_path / "jalon.db").exists()
    current = run("db", "current").stdout
    assert f"base : {HEAD_REVISION} ; attendue : {HEAD_REVISION}" in current
    assert f"{HEAD_REVISION} → {HEAD_REVISION}" in run("db", "upgrade").stdout


def test_declare_and_check_show_in_the_history(run) -> None:  # type: ignore[no-untyped-def]
    """Declarations and ticked items are recorded and printed in the case's history."""
    ref = run("case", "open", "achat", "--org", "AMP", "--as", "marie:acheteur").stdout.strip()
    declared = run(
        "case",
        "declare",
        ref,
        "--type",
        "absence_conflit_interets",
        "--statement",
        "Aucun lien.",
        "--as",
        "marie:acheteur",
    ).stdout
    assert "déclaration absence_conflit_interets enregistrée, version 2" in declared
    checked = run(
        "case", "check", ref, "devis_compares", "--evidence", "Tableau", "--as", "marie:acheteur"
    ).stdout
    assert "point devis_compares coché, version 3" in checked
    refused = run("case", "check", ref, "devis_compares", "--evidence", " ", check=False)
    assert refused.returncode != 0
    assert "sans preuve" in refused.stderr
    history = " ".join(run("case", "history", ref).stdout.split())
    assert "Déclaration" in history
    assert "absence_conflit_interets : « Aucun lien. »" in history
    assert "Point de liste coché" in history
    assert "devis_compares — preuve : Tableau" in history
    assert "coche refusée" in history


def test_a_document_is_attached_with_its_declared_signatory(  # type: ignore[no-untyped-def]
    run, tmp_path: Path
) -> None:
    """``--signed-by`` is kept with the document, shown, and written in the trail."""
    ref = run("case", "open", "achat", "--org", "AMP", "--as", "marie:acheteur").stdout.strip()
    acte = tmp_path / "acte.pdf"
    acte.write_bytes(b"%PDF acte")
    attached = run(
        "case", "attach", ref, str(acte), "--type", "devis", "--signed-by", "Le vice-président"
    ).stdout
    assert "signée par Le vice-président" in attached
    shown = json.loads(run("case", "show", ref, "--json").stdout)
    assert shown["documents"][0]["signed_by"] == "Le vice-président"
    lines = run("audit", "trail", ref, "--json").stdout.splitlines()
    attached_fact = json.loads(json.loads(lines[-1])["body"])
    assert attached_fact["kind"] == "case.document_attached"
    assert attached_fact["payload"]["signed_by"] == "Le vice-président"
    refused = run(
        "case", "attach", ref, str(acte), "--type", "devis", "--signed-by", " ", check=False
    )
    assert refused.returncode == 1
    assert "signataire" in refused.stderr
