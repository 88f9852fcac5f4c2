"""Controls: the check signature, their registry, and evaluation of every control of a step.

A control looks at a read-only snapshot of the case and returns a ``ControlResult`` with a
French reason. Every control of a transition is evaluated on every attempt, without
short-circuit, so that the audit trail records each result. A control that raises is a bug
(``ControlError``), never a finding. Each control declares a small pydantic model of its
parameters (unknown keys forbidden): ``engine.validation`` reports bad parameters at their
line when the definition is loaded, and ``evaluate`` gives the check the parsed model. A
parameter model whose values name things of the definition (fields, triggers, document types,
parameter tables) lists them with a ``references()`` method (:class:`NamesReferences`), so
that validation reports a name that does not exist at its line. The built-in controls are in
``engine.control_catalogue`` and the ``engine.controls_*`` modules it imports; plugins add
theirs through the ``jalon.controls`` entry point (``engine.control_plugins``).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, NamedTuple, Protocol, runtime_checkable
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, ValidationError

from engine.actors import Actor
from engine.definition import IDENTIFIER, ControlRef, FieldDef, Severity
from engine.errors import ControlError, EngineError
from engine.parameters import ParameterBook
from engine.validation import Reference, ReferenceKind

PARAMETERS_FOLDER = Path(__file__).resolve().parents[1] / "workflows" / "parameters"
"""The legal parameter tables of the library (a path only: the core does not import it)."""


@functools.cache
def default_parameters() -> ParameterBook:
    """The library's parameter tables, read once per process on first use."""
    return ParameterBook.load(PARAMETERS_FOLDER)


REFERENCE_ZONE = ZoneInfo("Europe/Paris")
"""Where the opening date of a case is read (French administrative days)."""


@dataclass(frozen=True, slots=True)
class DocumentView:
    """A document of the case as controls see it."""

    doc_type: str
    name: str
    sha256: str
    signed_by: str | None = None


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """An audit entry of the case as controls see it: who, what kind of fact, its payload."""

    seq: int
    actor: str
    kind: str
    payload: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class ClockView:
    """A clock of the case as controls see it."""

    name: str
    kind: str
    status: str
    due_on: date
    earliest_after: date


def _no_history() -> Sequence[HistoryEntry]:
    return ()


def _no_clocks() -> Mapping[str, ClockView]:
    return {}


@dataclass(slots=True)
class CaseSnapshot:
    """What a control may look at: the case as it is before the step, and who acts.

    ``fields`` are the definition's typed fields (rules convert values by type);
    ``opened_at`` is the case's opening date (the default reference date of ``param()``);
    documents, the case's history (its audit entries) and parameter tables are loaded on
    first use only.
    """

    reference: str
    state: str
    data: Mapping[str, Any]
    actor: Actor
    now: datetime
    _load_documents: Callable[[], Sequence[DocumentView]] = field(repr=False)
    _documents: Sequence[DocumentView] | None = field(default=None, repr=False)
    fields: Mapping[str, FieldDef] | None = None
    opened_at: date | None = None
    _opened_at_text: str | None = field(default=None, repr=False)
    _load_parameters: Callable[[], ParameterBook] = field(default=default_parameters, repr=False)
    _parameters: ParameterBook | None = field(default=None, repr=False)
    _load_history: Callable[[], Sequence[HistoryEntry]] = field(default=_no_history, repr=False)
    _history: Sequence[HistoryEntry] | None = field(default=None, repr=False)
    _load_clocks: Callable[[], Mapping[str, ClockView]] = field(default=_no_clocks, repr=False)
    _clocks: Mapping[str, ClockView] | None = field(default=None, repr=False)

    @property
    def clocks(self) -> Mapping[str, ClockView]:
        """The case's clocks by name, loaded on first use only."""
        if self._clocks is None:
            self._clocks = self._load_clocks()
        return self._clocks

    @property
    def history(self) -> Sequence[HistoryEntry]:
        """The case's audit entries, oldest first, loaded on first use only."""
        if self._history is None:
            self._history = tuple(self._load_history())
        return self._history

    def actors_of(self, triggers: Sequence[str]) -> dict[str, list[str]]:
        """Who fired each of ``triggers`` earlier in the case: trigger -> users, in order."""
        wanted = set(triggers)
        found: dict[str, list[str]] = {}
        for entry in self.history:
            if entry.kind != "case.transition":
                continue
            trigger = str(entry.payload.get("trigger"))
            if trigger in wanted and entry.actor not in found.setdefault(trigger, []):
                found[trigger].append(entry.actor)
        return found

    def facts_of_kind(self, kind: str) -> list[HistoryEntry]:
        """The case's audit entries of ``kind``, oldest first."""
        return [entry for entry in self.history if entry.kind == kind]

    @property
    def documents(self) -> Sequence[DocumentView]:
        """The case's documents, loaded on first use only (most controls do not need them)."""
        if self._documents is None:
            self._documents = tuple(self._load_documents())
        return self._documents

    @property
    def parameters(self) -> ParameterBook:
        """The legal parameter tables, loaded on first use only."""
        if self._parameters is None:
            self._parameters = self._load_parameters()
        return self._parameters

    @property
    def reference_date(self) -> date:
        """The case's opening date, or today's date when it is not known."""
        if self.opened_at is None and self._opened_at_text is not None:
            # Read from the stored UTC text on first use only: most steps never need it.
            opened = datetime.fromisoformat(self._opened_at_text.replace("Z", "+00:00"))
            self.opened_at = opened.astimezone(REFERENCE_ZONE).date()
        return self.opened_at if self.opened_at is not None else self.now.date()


class ControlResult(NamedTuple):
    """The outcome of one control: passed or not, why, and what failing means."""

    control: str
    passed: bool
    severity: Severity
    clause: str | None
    reason: str

    @property
    def blocks(self) -> bool:
        """True when this result stops the step."""
        return not self.passed and self.severity is Severity.BLOCKING

    def as_payload(self) -> dict[str, Any]:
        """The result as it is written in the audit trail."""
        return {
            "control": self.control,
            "passed": self.passed,
            "severity": self.severity.value,
            "clause": self.clause,
            "reason": self.reason,
        }


Check = Callable[[Any, CaseSnapshot], tuple[bool, str]]
"""A control's logic: (parsed params, snapshot) -> (passed, French reason)."""

ParamFinding = tuple[tuple[str | int, ...], str]
"""A problem of a control's parameters: path under ``params`` and a French sentence."""


class NoParams(BaseModel):
    """The parameters of a control that takes none."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@runtime_checkable
class NamesReferences(Protocol):
    """A parameter model whose values name fields, triggers, document types or tables.

    ``references()`` lists each name with its path under ``params`` and its kind
    (``engine.validation.ReferenceKind``); it runs only when a definition is validated,
    never when the control is evaluated.
    """

    def references(self) -> Iterable[Reference]:
        """Every name the parameters refer to, in the order they are written."""
        ...


@dataclass(frozen=True, slots=True)
class ControlSpec:
    """A control of the catalogue: its name, default ISO clause, what it checks, its params."""

    name: str
    clause: str | None
    summary: str
    check: Check
    params: type[BaseModel] = NoParams

    def parse_params(self, params: Mapping[str, Any]) -> BaseModel:
        """The parameters read with the control's model (cached by content).

        Raises:
            ControlError: The parameters are invalid (the definition was not validated).
        """
        try:
            return _parsed_for(self, params)
        except ValidationError as error:
            problems = " ; ".join(f"{_where(p)}{m}" for p, m in _findings(error))
            raise ControlError(
                f"Paramètres invalides du contrôle « {self.name} » : {problems}"
            ) from error

    def param_problems(self, params: Mapping[str, Any]) -> list[ParamFinding]:
        """Every problem of ``params`` for this control, in French; empty when they are valid."""
        try:
            self.params.model_validate(dict(params))
        except ValidationError as error:
            return _findings(error)
        return []

    def param_references(self, params: Mapping[str, Any]) -> list[Reference]:
        """The names ``params`` refer to (see :class:`NamesReferences`).

        Empty when the parameters are invalid (``param_problems`` reports them) or when the
        control's parameter model names nothing of the definition.
        """
        try:
            parsed = self.params.model_validate(dict(params))
        except ValidationError:
            return []
        return list(parsed.references()) if isinstance(parsed, NamesReferences) else []

    def parameter_tables(self) -> frozenset[str] | None:
        """Ids of the library's parameter tables; ``None`` when they cannot be read."""
        try:
            return frozenset(table.id for table in default_parameters().tables())
        except EngineError:
            return None

    def describe_params(self) -> list[tuple[str, str, bool]]:
        """(name, description, required) of each parameter, in the model's order."""
        return [
            (name, info.description or "", info.is_required())
            for name, info in self.params.model_fields.items()
        ]


class Params(BaseModel):
    """Base of the parameter models of controls: unknown keys are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


def identifiers(values: list[str], what: str, example: str = "rediger_rapport") -> list[str]:
    """Refuse a parameter list holding a name that is not an identifier (a pydantic check)."""
    for value in values:
        if not re.match(IDENTIFIER, value):
            raise ValueError(
                f"{what} « {value} » invalide : minuscules, chiffres et _ (ex. {example})"
            )
    return values


def named(key: str, names: list[str], kind: ReferenceKind) -> Iterator[Reference]:
    """The references of a parameter list of names (``fields``, ``not_actor_of``…)."""
    for index, name in enumerate(names):
        yield Reference((key, index), kind, name)


def is_missing(value: Any) -> bool:
    """True when a field's value counts as not set (absent, null, empty text or list)."""
    return value is None or value in ("", [])


def field_date(snapshot: CaseSnapshot, name: str) -> date | None:
    """The date stored in field ``name`` (``AAAA-MM-JJ``), or ``None`` when it is not set.

    Raises:
        ValueError: The field holds something that is not a date.
    """
    value = snapshot.data.get(name)
    if is_missing(value):
        return None
    return date.fromisoformat(str(value))


_BY_IDENTITY: dict[tuple[str, int], tuple[Mapping[str, Any], BaseModel]] = {}
"""Parsed parameters by the identity of the (frozen) definition's params mapping: the step
path looks them up without serialising them. The mapping is kept, so its id stays unique."""


def _parsed_for(spec: ControlSpec, params: Mapping[str, Any]) -> BaseModel:
    key = (spec.name, id(params))
    known = _BY_IDENTITY.get(key)
    if known is not None and known[0] is params:
        return known[1]
    parsed = spec.params.model_validate(dict(params))
    _BY_IDENTITY[key] = (params, parsed)
    return parsed


def _where(parts: tuple[str | int, ...]) -> str:
    return f"{'.'.join(str(p) for p in parts)} : " if parts else ""


_TYPES = {
    "string_type": "un texte",
    "int_type": "un nombre entier",
    "int_parsing": "un nombre entier",
    "bool_type": "un booléen (true ou false)",
    "list_type": "une liste",
    "dict_type": "un bloc de clés et de valeurs",
}


def _findings(error: ValidationError) -> list[ParamFinding]:
    found: list[ParamFinding] = []
    for item in error.errors(include_url=False):
        loc = tuple(item["loc"])
        kind = item["type"]
        name = loc[-1] if loc else ""
        ctx = item.get("ctx") or {}
        if kind == "missing":
            message = f"paramètre obligatoire « {name} » manquant"
        elif kind == "extra_forbidden":
            message = f"paramètre inconnu « {name} »"
        elif kind == "value_error":
            message = str(ctx.get("error", item["msg"]))
        elif kind in ("literal_error", "enum"):
            expected = str(ctx.get("expected", "")).replace(" or ", " ou ")
            message = (
                f"valeur « {item.get('input')} » non reconnue ; valeurs possibles : {expected}"
            )
        elif kind in _TYPES:
            message = f"doit être {_TYPES[kind]} (valeur lue : « {item.get('input')} »)"
        elif kind in ("too_short", "string_too_short"):
            message = "ne doit pas être vide"
        elif kind == "greater_than_equal":
            message = f"doit être supérieur ou égal à {ctx.get('ge')}"
        else:
            message = str(item["msg"])
        found.append((loc, message))
    return found


_REGISTRY: dict[str, ControlSpec] = {}


def register(spec: ControlSpec) -> ControlSpec:
    """Add a control to the catalogue (a second one with the same name is refused)."""
    if spec.name in _REGISTRY and _REGISTRY[spec.name] is not spec:
        raise ValueError(f"a control named {spec.name!r} is already registered")
    _REGISTRY[spec.name] = spec
    return spec


def catalogue() -> Mapping[str, ControlSpec]:
    """Every registered control, by name."""
    return dict(_REGISTRY)


def evaluate(refs: Sequence[ControlRef], snapshot: CaseSnapshot) -> tuple[ControlResult, ...]:
    """Evaluate every control of ``refs`` (no short-circuit) and return all results."""
    results = []
    for ref in refs:
        spec = _REGISTRY.get(ref.control)
        if spec is None:
            raise ControlError(f"Contrôle inconnu « {ref.control} » : définition non validée ?")
        params = spec.parse_params(ref.params)
        try:
            passed, reason = spec.check(params, snapshot)
        except Exception as error:
            raise ControlError(
                f"Le contrôle « {ref.control} » a échoué sur une erreur interne : {error}"
            ) from error
        if not passed and ref.message:
            reason = f"{ref.message} ({reason})"
        results.append(
            ControlResult(ref.control, passed, ref.severity, ref.clause or spec.clause, reason)
        )
    return tuple(results)
