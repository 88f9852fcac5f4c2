"""``jalon demo``, the README's main job: it runs to the end and leaves a database to explore."""

from __future__ import annotations

import json
from pathlib import Path

from tests.integration.conftest import RunJalon


def test_the_demo_walks_every_scene_and_leaves_an_intact_trail(
    run_jalon: RunJalon, tmp_path: Path
) -> None:
    database = tmp_path / "demo.db"
    result = run_jalon("demo", "--file", str(database), env={"COLUMNS": "200"})
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    out = result.stdout
    assert "piste intacte" in out
    assert "non-conformité ouverte : AMP-2026-NC-0001" in out
    assert "par dérogation" in out
    assert "actor_not_named" in out  # the action's owner may not check its effectiveness
    assert "Action corrective réalisée → Close (action efficace) (nadia.ferrand)" in out
    assert "délai delai_global_paiement relancé" in out  # interrupted, then a fresh period
    assert "1 × clock.missed" in out  # the scheduler's sweeps on simulated days
    assert "Intérêts moratoires" in out  # computed, or why not (no ECB rate yet)
    register = json.loads(run_jalon("--db", str(database), "nc", "list", "--json").stdout)
    assert sorted((n["nature"], n["origin"], n["state"]) for n in register) == [
        ("concession", "control", "detectee"),
        ("nonconformity", "control", "close"),
        ("nonconformity", "missed_deadline", "detectee"),
        ("nonconformity", "missed_deadline", "detectee"),
    ]
    verified = run_jalon("--db", str(database), "audit", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
