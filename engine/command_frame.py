"""The frame around one write command: its logger, its refusals recorded, then sealing."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType

from engine.actors import Actor
from engine.errors import ConcurrentModification, EngineError
from engine.facts import record_refusal
from engine.log import CommandLog, Logger
from storage.errors import StaleRecord
from storage.store import Store


class CommandFrame:
    """Context manager around one write command (a class: it runs once per command).

    On entry it gives the command a logger carrying its context; a refusal or a conflict
    raised inside is recorded in the trail (in a transaction of its own) before it reaches
    the caller; after a successful command, ``after_success`` runs (the checkpoint policy).
    """

    __slots__ = (
        "_actor",
        "_after_success",
        "_command",
        "_context",
        "_log",
        "_logger",
        "_now",
        "_store",
    )

    def __init__(
        self,
        *,
        store: Store,
        log: Logger,
        now: Callable[[], str],
        after_success: Callable[[], None],
        command: str,
        actor: Actor,
        context: dict[str, str],
    ) -> None:
        self._store = store
        self._logger = log
        self._now = now
        self._after_success = after_success
        self._command = command
        self._actor = actor
        self._context = context

    def __enter__(self) -> CommandLog:
        self._log = CommandLog(
            self._logger, command=self._command, actor=self._actor, **self._context
        )
        return self._log

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        if error is None:
            self._after_success()
            return
        refusal: EngineError
        if isinstance(error, StaleRecord):
            refusal = ConcurrentModification(
                f"Le dossier {self._context.get('case', '')} a été modifié par une autre "
                "commande pendant celle-ci : rechargez-le et recommencez."
            )
        elif isinstance(error, EngineError):
            refusal = error
        else:
            return  # a bug or an interruption: let it through untouched
        record_refusal(
            self._store, self._now, self._log, self._command, self._actor, refusal, self._context
        )
        if refusal is not error:
            raise refusal from error
