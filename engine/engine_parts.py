"""What the Engine's command mixins may use of the Engine: one protocol for all of them.

``CaseRecords``, ``StepCommands``, ``NonconformityCommands`` and ``ClockCommands`` are mixed
into ``engine.service.Engine``; each types ``self`` with a protocol that extends this one with
the methods of the other mixins it calls.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from engine.actors import Actor
from engine.clock import Clock
from engine.command_frame import CommandFrame
from engine.controls import CaseSnapshot
from engine.definition import WorkflowDef
from engine.machine import CompiledWorkflow
from engine.registry import CompiledCache
from engine.snapshots import HistoryCache
from engine.views import CaseView
from storage.store import CaseRow, DocumentRow, Store, Tx
from workflows.catalogue import Catalogue

if TYPE_CHECKING:  # engine.steps implements part of this protocol and imports it
    from engine.nonconformity import NcDraft
    from engine.steps import StepTaken


class EngineCore(Protocol):
    """The Engine's own parts: its store, clock, caches, and the helpers its mixins share
    (``_raise_in``, ``_ensure_nc_workflow`` and ``_step_in`` are ``StepCommands``')."""

    @property
    def store(self) -> Store:
        """This thread's store."""
        ...

    @property
    def clock(self) -> Clock:
        """The engine's time source."""
        ...

    @property
    def catalogue(self) -> Catalogue:
        """The procedure library."""
        ...

    @property
    def _compiled(self) -> CompiledCache: ...

    @property
    def _history(self) -> HistoryCache: ...

    def _command(self, command: str, actor: Actor, **context: str) -> CommandFrame: ...

    def _now(self) -> str: ...

    def _case(self, tx: Tx, reference: str) -> CaseRow: ...

    def _load(
        self, tx: Tx, reference: str, expected_version: int | None
    ) -> tuple[CaseRow, CompiledWorkflow]: ...

    def _refuse_if_closed(self, case: CaseRow, compiled: CompiledWorkflow) -> None: ...

    def _snapshot(
        self,
        tx: Tx,
        case: CaseRow,
        compiled: CompiledWorkflow,
        actor: Actor,
        documents: Sequence[DocumentRow] | None = None,
        *,
        uncommitted: bool = False,
    ) -> CaseSnapshot: ...

    def _register_in(
        self, tx: Tx, definition: WorkflowDef, source: str, source_path: str, actor: Actor
    ) -> bool: ...

    def _raise_in(
        self, tx: Tx, source: CaseRow, source_seq: int, drafts: Sequence[NcDraft], actor: Actor
    ) -> list[str]: ...

    def _ensure_nc_workflow(self) -> None: ...

    def _step_in(
        self,
        tx: Tx,
        case: CaseRow,
        compiled: CompiledWorkflow,
        trigger: str,
        actor: Actor,
        derogation: str | None = None,
        *,
        uncommitted: bool = False,
    ) -> StepTaken: ...

    def show(self, reference: str, actor: Actor | None = None) -> CaseView:
        """The case with the steps available now."""
        ...
