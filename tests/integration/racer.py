"""A worker process for the race tests: waits at a barrier, fires once, reports the outcome."""

from __future__ import annotations

from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path

from engine.actors import Actor
from engine.errors import CommandRefused, ConcurrentModification
from tests.integration.sample_workflow import make_engine


def race(
    url: str,
    library: str,
    reference: str,
    trigger: str,
    expected: int | None,
    barrier: Barrier,
    results: Queue[str],
) -> None:
    """Fire ``trigger`` on ``reference`` as soon as every racer is ready; report what happened."""
    try:
        outcome = _fire(url, library, reference, trigger, expected, barrier)
    except Exception as error:  # report, never hang the parent waiting on the queue
        outcome = f"error: {type(error).__name__}: {error}"
    results.put(outcome)


def _fire(
    url: str, library: str, reference: str, trigger: str, expected: int | None, barrier: Barrier
) -> str:
    engine = make_engine(url, Path(library))
    try:
        engine.show(reference)  # connect and compile before the start line
        barrier.wait(timeout=60)
        engine.fire(reference, trigger, Actor("racer", frozenset({"responsable"})), expected)
    except ConcurrentModification:
        return "conflict"
    except CommandRefused:
        return "refused"
    finally:
        engine.close()
    return "won"
