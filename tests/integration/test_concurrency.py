"""Commands racing on one case from separate processes: exactly one wins, nothing half-written."""

from __future__ import annotations

import multiprocessing
from collections import Counter
from pathlib import Path

import pytest

from engine.actors import Actor
from tests.integration.racer import race
from tests.integration.sample_workflow import make_engine, write_library

RACERS = 4
AGENT = Actor("marie", frozenset({"acheteur"}))


def run_race(url: str, library: Path, reference: str, expected: int | None) -> Counter[str]:
    """Start the racers as separate processes (spawned: nothing shared but the database)."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(RACERS)
    results = context.Queue()
    racers = [
        context.Process(
            target=race,
            args=(url, str(library), reference, "abandonner", expected, barrier, results),
        )
        for _ in range(RACERS)
    ]
    for racer in racers:
        racer.start()
    outcomes = Counter(results.get(timeout=120) for _ in racers)
    for racer in racers:
        racer.join(timeout=60)
        assert racer.exitcode == 0
    return outcomes


@pytest.mark.parametrize("expected_version", [1, None], ids=["if-version", "no-version"])
def test_exactly_one_of_racing_commands_wins(
    database_url: str, tmp_path: Path, expected_version: int | None
) -> None:
    """Four processes fire the same step at once: one wins, the others are refused cleanly.

    With ``--if-version`` the losers get a conflict; without it, a loser either conflicts or,
    having read the case after the winner committed, is refused because the step is no longer
    possible (the case is closed). Either way the case moved once and every refusal is in an
    intact trail.
    """
    library = write_library(tmp_path / "library")
    engine = make_engine(database_url, library)
    reference = engine.open_case("achat", org="AMP", actor=AGENT).reference
    outcomes = run_race(database_url, library, reference, expected_version)
    assert outcomes["won"] == 1, outcomes
    if expected_version is not None:
        assert outcomes["conflict"] == RACERS - 1, outcomes
    else:
        assert outcomes["conflict"] + outcomes["refused"] == RACERS - 1, outcomes
    view = engine.show(reference)
    assert (view.row.state, view.row.version) == ("abandonne", 2)
    kinds = Counter(entry.kind for entry in engine.history(reference))
    assert kinds == Counter({"case.opened": 1, "case.transition": 1, "command.refused": RACERS - 1})
    assert engine.verify().intact
    engine.close()
