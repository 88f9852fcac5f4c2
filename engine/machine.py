"""Compiled workflows: the one place that uses the ``transitions`` library.

A definition version is compiled once (:func:`compile_workflow` caches by content digest)
into a ``transitions.Machine`` built with ``auto_transitions=False`` and no model. The
machine is the authority on where a trigger leads: the compiled workflow reads its event
table once (``machine.events[trigger].transitions[source]``) and answers every later
question from it. The machine's own event processing (model state, conditions, callbacks)
is not run per command: Jalon uses none of it — controls are evaluated and recorded by the
caller, the state lives in the case row — and it cost a quarter of the engine's time per
durable step (docs/decisions/0004-transitions-with-a-cursor-model.md).

The diagram is drawn by ``transitions``' own ``GraphMachine(graph_engine="mermaid")``, with
French labels on states and transitions; only final-state markers are added to its text.
"""

from __future__ import annotations

import json
import threading
import weakref
from functools import partial
from typing import Any

from transitions import Machine, State
from transitions.extensions import GraphMachine

from engine.definition import TransitionDef, WorkflowDef
from engine.errors import TriggerNotAllowed


class _LabelledState(State):
    """A ``transitions`` state that carries a display label (read by the diagram)."""

    def __init__(self, *args: Any, label: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.label = label


class _LabelledGraphMachine(GraphMachine):
    state_cls = _LabelledState


_STATE_ATTRIBUTE = "_state"
"""The machine's model attribute: not an identifier, so a trigger may be named ``state``."""


class CompiledWorkflow:
    """A definition version ready to run: its state machine and the tables read from it.

    Build it with :func:`compile_workflow`, which returns the same object for the same content.
    The definition must have passed ``engine.validation`` (one initial state, known states).
    """

    def __init__(self, definition: WorkflowDef, digest: str | None = None) -> None:
        self.definition = definition
        self.digest = digest if digest is not None else definition.digest()
        outgoing: dict[str, list[TransitionDef]] = {name: [] for name in definition.states}
        table: dict[tuple[str, str], TransitionDef] = {}
        for transition in definition.transitions:
            for source in transition.sources:
                if (source, transition.trigger) not in table:
                    table[source, transition.trigger] = transition
                    outgoing.setdefault(source, []).append(transition)
        self._from = {state: tuple(found) for state, found in outgoing.items()}
        self._table = table
        self._triggers = frozenset(t.trigger for t in definition.transitions)
        self._final = definition.final_states
        initials = [name for name, state in definition.states.items() if state.initial]
        self._initial = initials[0] if initials else next(iter(definition.states))
        self.machine = self._build()
        self._next = {
            (transition.source, trigger): transition.dest
            for trigger, event in self.machine.events.items()
            for found in event.transitions.values()
            for transition in found
        }

    def _machine_config(self) -> dict[str, Any]:
        transitions: list[dict[str, Any]] = []
        for (source, trigger), transition in self._table.items():
            transitions.append(
                {
                    "trigger": trigger,
                    "source": source,
                    "dest": transition.dest,
                    "label": transition.label,
                }
            )
        return {
            "states": list(self.definition.states),
            "transitions": transitions,
            "initial": self._initial,
            "auto_transitions": False,
            "send_event": False,
            "model_attribute": _STATE_ATTRIBUTE,
            "name": f"{self.definition.id}@{self.definition.version}",
        }

    def _build(self) -> Machine:
        config = self._machine_config()
        for transition in config["transitions"]:
            del transition["label"]  # only the diagram machine knows labels
        return Machine(model=None, **config)

    def transitions_from(self, state: str) -> tuple[TransitionDef, ...]:
        """Return the transitions that can leave ``state``, in the definition's order."""
        return self._from.get(state, ())

    def transition(self, state: str, trigger: str) -> TransitionDef | None:
        """Return the transition ``trigger`` fires from ``state``, or ``None``."""
        return self._table.get((state, trigger))

    def triggers(self) -> frozenset[str]:
        """Return every trigger of the workflow."""
        return self._triggers

    def is_final(self, state: str) -> bool:
        """Return whether ``state`` is a final state of the workflow."""
        return state in self._final

    def next_state(self, state: str, trigger: str) -> str:
        """Where ``trigger`` leads from ``state``, as the state machine's table says.

        Args:
            state: The case's current state.
            trigger: The trigger to fire.

        Returns:
            The destination state.

        Raises:
            TriggerNotAllowed: The trigger does not exist in the workflow, or cannot fire
                from ``state``.
        """
        dest = self._next.get((state, trigger))
        if dest is None:
            raise self._refusal(state, trigger)
        return dest

    def _refusal(self, state: str, trigger: str) -> TriggerNotAllowed:
        found = self.definition.states.get(state)
        where = f"« {found.label} »" if found is not None else f"« {state} » (étape inconnue)"
        if trigger not in self._triggers:
            known = ", ".join(sorted(self._triggers)) or "aucune"
            return TriggerNotAllowed(
                f"L'action « {trigger} » n'existe pas dans la procédure "
                f"« {self.definition.title} » (actions : {known}).",
                trigger=trigger,
                state=state,
            )
        possible = ", ".join(f"« {t.label} » ({t.trigger})" for t in self.transitions_from(state))
        return TriggerNotAllowed(
            f"L'action « {trigger} » n'est pas possible depuis l'étape {where} ; "
            f"actions possibles : {possible or 'aucune'}.",
            trigger=trigger,
            state=state,
        )

    def mermaid(self) -> str:
        """Draw the workflow as a Mermaid state diagram with French labels.

        Returns:
            The Mermaid text (``stateDiagram-v2``), ending with a newline.
        """
        config = self._machine_config()
        config["states"] = [
            {"name": _mermaid_id(name), "label": _mermaid_text(state.label)}
            for name, state in self.definition.states.items()
        ]
        config["initial"] = _mermaid_id(config["initial"])
        for transition in config["transitions"]:
            transition["label"] = _mermaid_text(transition["label"])
            transition["source"] = _mermaid_id(transition["source"])
            transition["dest"] = _mermaid_id(transition["dest"])
        title = json.dumps(
            f"{self.definition.title} (v{self.definition.version})", ensure_ascii=False
        )
        machine = _LabelledGraphMachine(
            model=None, graph_engine="mermaid", title=f"title: {title}", **config
        )
        graph = machine.graph_cls(machine)  # a fresh graph: no state highlighted as current
        source: str = getattr(graph.get_graph(title=f"title: {title}"), "source")  # noqa: B009
        lines = [line.rstrip() for line in source.rstrip("\n").split("\n")]
        finals = [name for name in self.definition.states if name in self._final]
        lines.extend(f"  {_mermaid_id(name)} --> [*]" for name in finals)
        return "\n".join(lines) + "\n"


_MERMAID_WORDS = frozenset(
    {"state", "note", "class", "classdef", "direction", "scale", "hide", "default", "end"}
)


def _mermaid_id(name: str) -> str:
    """A state's id in the diagram: its name, with ``_`` added to Mermaid's keywords."""
    return f"{name}_" if name.lower() in _MERMAID_WORDS else name


def _mermaid_text(text: str) -> str:
    """Make a label safe inside Mermaid, whose state grammar ends a label at ``:`` or ``;``.

    Line breaks become spaces, ``"`` becomes ``'``, ``;`` a comma and ``:`` the look-alike
    modifier letter colon (U+A789), so that « Art. R2123-1 : ... » still reads the same.
    """
    text = " ".join(text.split()).replace('"', "'").replace(";", ",")
    return text.replace(":", "\N{MODIFIER LETTER COLON}")


_cache: dict[str, CompiledWorkflow] = {}
_by_identity: dict[int, tuple[weakref.ref[WorkflowDef], CompiledWorkflow]] = {}
_lock = threading.Lock()


def compile_workflow(defn: WorkflowDef) -> CompiledWorkflow:
    """Return the compiled form of ``defn``, built once per content digest (thread-safe).

    The same definition object is found again without recomputing its digest.

    Args:
        defn: A definition that passed validation.

    Returns:
        The shared :class:`CompiledWorkflow` for this content.
    """
    known = _by_identity.get(id(defn))
    if known is not None and known[0]() is defn:
        return known[1]
    digest = defn.digest()
    with _lock:
        compiled = _cache.get(digest)
        if compiled is None:
            compiled = CompiledWorkflow(defn, digest)
            _cache[digest] = compiled
        key = id(defn)
        # The callback takes no lock: it may run during a garbage collection in any thread, or
        # at interpreter exit, when module globals are gone (hence the table bound as default).
        _by_identity[key] = (
            weakref.ref(defn, partial(_forget_identity, _by_identity, key)),
            compiled,
        )
    return compiled


def _forget_identity(
    table: dict[int, Any], key: int, _ref: weakref.ReferenceType[WorkflowDef]
) -> None:
    """Drop a collected definition from the identity table (bound to the table itself)."""
    table.pop(key, None)
