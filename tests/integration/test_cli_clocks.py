"""``jalon clocks`` as a user runs it (real console script, frozen time)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.clock_workflows import write_clock_library

JALON = str(Path(sys.executable).parent / "jalon")
Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def run(tmp_path: Path) -> Run:
    env = {
        **os.environ,
        "JALON_DATABASE_URL": str(tmp_path / "jalon.db"),
        "JALON_WORKFLOWS": str(write_clock_library(tmp_path / "library")),
        "JALON_NOW": "2026-03-02T09:00:00Z",
        "JALON_ACTOR": "sophie:comptable",
        "COLUMNS": "200",
    }

    def jalon(
        *args: str, code: int = 0, now: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        environment = {**env, "JALON_NOW": now} if now else env
        result = subprocess.run(
            [JALON, *args],
            capture_output=True,
            text=True,
            env=environment,
            cwd=tmp_path,
            check=False,
        )
        assert result.returncode == code, f"jalon {' '.join(args)}:\n{result.stderr}"
        assert "Traceback" not in result.stderr
        return result

    return jalon


def test_list_explain_interrupt_and_restart_a_payment_clock(run: Run) -> None:
    ref = run(
        "case", "open", "paiement", "--org", "AMP", "--set", "date_reception=2026-03-02"
    ).stdout.strip()
    fired = run("case", "fire", ref, "enregistrer").stdout
    assert "Déposée → En instruction" in fired
    listed = json.loads(run("clocks", "list", "--case", ref, "--json").stdout)
    assert [(c["clock"], c["due_on"]) for c in listed] == [
        ("objectif_20_jours", "2026-03-23"),
        ("delai_paiement", "2026-04-01"),
    ]
    assert (
        json.loads(run("clocks", "list", "--due-before", "2026-03-24", "--json").stdout)[0]["clock"]
        == "objectif_20_jours"
    )
    explained = run("clocks", "explain", ref, "delai_paiement").stdout
    assert "Délai global de paiement" in explained
    assert "CCP R2192-10" in explained
    assert "mercredi 1 avril 2026" in explained
    interrupted = run(
        "clocks",
        "interrupt",
        ref,
        "delai_paiement",
        "--reason",
        "Facture sans bon de commande",
        "--missing",
        "bon de commande",
        "--on",
        "2026-03-10",
    ).stdout
    assert "22 jour(s) restant(s)" in interrupted
    restarted = run("clocks", "restart", ref, "delai_paiement", "--on", "2026-03-20").stdout
    assert "lundi 20 avril 2026" in restarted
    refused = run(
        "clocks", "interrupt", ref, "delai_paiement", "--reason", "Encore une pièce", code=1
    )
    assert "une seule fois" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    detail = json.loads(run("clocks", "explain", ref, "delai_paiement", "--json").stdout)
    assert [e["event"] for e in detail["explanation"]["history"]] == ["interrupted", "restarted"]
    assert detail["explanation"]["history"][0]["missing"] == ["bon de commande"]
    bad_day = run("clocks", "list", "--due-before", "demain", code=1)
    assert "--due-before" in bad_day.stderr
    unknown = run("clocks", "explain", ref, "standstill", code=1)
    assert "délais : delai_paiement, objectif_20_jours" in unknown.stderr
