"""Semantic checks of a parsed workflow definition: states, exits, triggers, fields, roles.

``engine.definition`` (pydantic) checks the *shape* of a definition; this module checks its
*meaning*: exactly one initial state, every state reachable and with a way out, no trigger
leading to two places from one state, coherent field types, known controls whose parameters
are valid and name fields, triggers, document types and parameter tables that exist. Every
problem names the field it is about with a path such as ``transitions[2].dest`` or
``states.publicite.role``; ``engine.loader`` turns that path into a line of the YAML file.
"""

from __future__ import annotations

import difflib
import json
import re
from collections import deque
from collections.abc import Collection, Iterator, Mapping, Sequence
from enum import StrEnum
from typing import Any, NamedTuple, Protocol, runtime_checkable

from engine.definition import IDENTIFIER, ControlRef, FieldDef, FieldType, WorkflowDef
from engine.errors import Problem

PathPart = str | int
"""One step of a field path: a mapping key (``str``) or a list index (``int``)."""

_IDENTIFIER_RE = re.compile(IDENTIFIER)
_NAME_RULE = "lettres minuscules sans accent, chiffres et « _ », en commençant par une lettre"
_PATH_TOKEN = re.compile(r'\.([^.\[\]]+)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]|^([^.\[\]]+)')


def field_path(*parts: PathPart) -> str:
    """Format a field path the way problems show it: ``transitions[2].dest``.

    Args:
        *parts: Mapping keys (``str``) and list indexes (``int``), from the top of the file.

    Returns:
        The dotted path; keys that are not simple names are written ``["like this"]``.
    """
    out: list[str] = []
    for part in parts:
        if isinstance(part, int):
            out.append(f"[{part}]")
        elif part and not set(part) & set('.[]"') and not part[0].isspace():
            out.append(f".{part}" if out else part)
        else:
            out.append(f"[{json.dumps(part, ensure_ascii=False)}]")
    return "".join(out)


def parse_field_path(text: str) -> tuple[PathPart, ...]:
    """Split a path written by :func:`field_path` back into its parts.

    Args:
        text: A path such as ``transitions[2].controls[0].control``; ``""`` is the top.

    Returns:
        The parts; parsing stops at the first token it does not understand.
    """
    parts: list[PathPart] = []
    position = 0
    while position < len(text):
        match = _PATH_TOKEN.match(text, position)
        if match is None or match.end() == position:
            break
        name, index, quoted, first = match.groups()
        if index is not None:
            parts.append(int(index))
        elif quoted is not None:
            parts.append(str(json.loads(quoted)))
        else:
            parts.append(name if name is not None else first)
        position = match.end()
    return tuple(parts)


@runtime_checkable
class ParamsChecker(Protocol):
    """A control of the catalogue that can check its parameters (``engine.controls``)."""

    def param_problems(
        self, params: Mapping[str, Any]
    ) -> Sequence[tuple[tuple[PathPart, ...], str]]:
        """Every problem of ``params``: path under ``params`` and a French sentence."""
        ...


class ReferenceKind(StrEnum):
    """What a name written in a control's parameters must be in the definition."""

    FIELD = "field"
    """A field declared under ``fields``, of any type."""
    DATE_FIELD = "date_field"
    """A field of type ``date``."""
    NUMBER_FIELD = "number_field"
    """A field of type ``amount`` or ``integer``."""
    TRIGGER = "trigger"
    """The trigger of a transition of the definition."""
    DOCUMENT = "document"
    """A document type listed under ``documents`` of a state."""
    TABLE = "table"
    """A legal parameter table (``workflows/parameters/``)."""


class Reference(NamedTuple):
    """A name written in a control's parameters: where (path under ``params``), what, which."""

    path: tuple[PathPart, ...]
    kind: ReferenceKind
    name: str


@runtime_checkable
class ReferencesChecker(Protocol):
    """A control of the catalogue that lists the names its parameters refer to."""

    def param_references(self, params: Mapping[str, Any]) -> Sequence[Reference]:
        """The names ``params`` refer to; empty when the parameters are not valid."""
        ...

    def parameter_tables(self) -> Collection[str] | None:
        """Ids of the parameter tables; ``None`` when they cannot be read (not checked)."""
        ...


def validate_definition(
    defn: WorkflowDef, known_controls: Collection[str] | None = None
) -> list[Problem]:
    """Check the meaning of a definition that already has the right shape.

    Args:
        defn: The parsed definition.
        known_controls: Names of the controls in the catalogue; ``None`` skips that check.
            A mapping of names to controls that can check their parameters (such as
            ``engine.controls.catalogue()``) also has each control's ``params`` checked,
            and the fields, triggers, document types and parameter tables they name.

    Returns:
        Every problem found, in the order of the checks (path ``""``, line ``None``: the
        loader fills in the file and the line).
    """
    problems: list[Problem] = []
    for parts, message in _all_findings(defn, known_controls):
        problems.append(Problem("", None, field_path(*parts), message))
    return problems


Finding = tuple[tuple[PathPart, ...], str]


def _all_findings(defn: WorkflowDef, known_controls: Collection[str] | None) -> Iterator[Finding]:
    yield from _check_names(defn)
    yield from _check_initial(defn)
    yield from _check_references(defn)
    yield from _check_exits(defn)
    yield from _check_reachable(defn)
    yield from _check_triggers(defn)
    yield from _check_fields(defn)
    yield from _check_roles(defn)
    if known_controls is not None:
        yield from _check_controls(defn, known_controls)
    # Late import: the clocks' checks use the rule compiler and the parameter tables, whose
    # modules import this one (for the names controls refer to).
    from engine.clock_validation import clock_findings  # noqa: PLC0415

    yield from clock_findings(defn)


def suggest(name: str, candidates: Collection[str]) -> str:
    """`` (vouliez-vous dire « x » ?)`` for the closest candidate, or an empty text."""
    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f" (vouliez-vous dire « {close[0]} » ?)" if close else ""


def _label(defn: WorkflowDef, state: str) -> str:
    found = defn.states.get(state)
    return f"« {found.label} » ({state})" if found is not None else f"« {state} »"


def _check_names(defn: WorkflowDef) -> Iterator[Finding]:
    for name, state in defn.states.items():
        if not _IDENTIFIER_RE.match(name):
            yield ("states", name), f"nom d'étape « {name} » invalide : {_NAME_RULE}"
        if not state.label:
            yield ("states", name, "label"), "le libellé de l'étape est vide"
    for name, field in defn.fields.items():
        if not _IDENTIFIER_RE.match(name):
            yield ("fields", name), f"nom de champ « {name} » invalide : {_NAME_RULE}"
        if not field.label:
            yield ("fields", name, "label"), "le libellé du champ est vide"
    for index, transition in enumerate(defn.transitions):
        if not transition.label:
            yield ("transitions", index, "label"), "le libellé de la transition est vide"


def _check_initial(defn: WorkflowDef) -> Iterator[Finding]:
    initials = [name for name, state in defn.states.items() if state.initial]
    if not initials:
        yield (
            ("states",),
            "aucune étape initiale : marquez l'étape de départ avec « initial: true »",
        )
    elif len(initials) > 1:
        listed = ", ".join(initials)
        for name in initials[1:]:
            yield (
                ("states", name, "initial"),
                f"plusieurs étapes initiales ({listed}) : une seule étape peut porter "
                "« initial: true »",
            )
    for name in initials:
        if defn.states[name].final:
            yield (
                ("states", name, "final"),
                f"l'étape initiale {_label(defn, name)} ne peut pas être aussi une étape finale",
            )


def _check_references(defn: WorkflowDef) -> Iterator[Finding]:
    known = defn.states.keys()
    for index, transition in enumerate(defn.transitions):
        single = isinstance(transition.source, str)
        for position, source in enumerate(transition.sources):
            if source not in known:
                where: tuple[PathPart, ...] = ("transitions", index, "source")
                if not single:
                    where = (*where, position)
                yield (
                    where,
                    f"étape de départ « {source} » inconnue{suggest(source, known)} : "
                    "elle doit être déclarée sous « states »",
                )
        if transition.dest not in known:
            yield (
                ("transitions", index, "dest"),
                f"étape d'arrivée « {transition.dest} » inconnue"
                f"{suggest(transition.dest, known)} : elle doit être déclarée sous « states »",
            )


def _outgoing(defn: WorkflowDef) -> dict[str, list[int]]:
    """Indexes of the transitions leaving each declared state."""
    outgoing: dict[str, list[int]] = {name: [] for name in defn.states}
    for index, transition in enumerate(defn.transitions):
        for source in transition.sources:
            if source in outgoing:
                outgoing[source].append(index)
    return outgoing


def _check_exits(defn: WorkflowDef) -> Iterator[Finding]:
    for name, leaving in _outgoing(defn).items():
        if defn.states[name].final:
            for index in leaving:
                yield (
                    _source_path(defn, index, name),
                    f"la transition part de l'étape finale {_label(defn, name)} : "
                    "une étape finale n'a aucune transition sortante",
                )
        elif not leaving:
            yield (
                ("states", name),
                f"étape sans issue {_label(defn, name)} : aucune transition n'en part ; "
                "ajoutez-en une ou marquez l'étape « final: true »",
            )


def _successors(defn: WorkflowDef) -> dict[str, list[str]]:
    """The declared states each declared state leads to, in file order."""
    following: dict[str, list[str]] = {name: [] for name in defn.states}
    for transition in defn.transitions:
        for source in transition.sources:
            if source in following and transition.dest in defn.states:
                following[source].append(transition.dest)
    return following


def _closure(following: dict[str, list[str]], starts: Collection[str]) -> list[str]:
    """The states reachable from ``starts`` (included), in the order they are found."""
    reached = dict.fromkeys(starts)
    queue = deque(starts)
    while queue:
        for dest in following[queue.popleft()]:
            if dest not in reached:
                reached[dest] = None
                queue.append(dest)
    return list(reached)


def _check_reachable(defn: WorkflowDef) -> Iterator[Finding]:
    """One problem per unreachable region, at the state where the region is entered."""
    starts = [name for name, state in defn.states.items() if state.initial]
    if not starts:
        return
    following = _successors(defn)
    reached = set(_closure(following, starts))
    lost = [name for name in defn.states if name not in reached]
    entered = {dest for name in lost for dest in following[name] if dest != name}
    covered: set[str] = set()
    for name in sorted(lost, key=lambda n: (n in entered, lost.index(n))):
        if name in covered:
            continue
        region = [s for s in _closure(following, [name]) if s not in reached and s not in covered]
        covered.update(region)
        also = f" ; les étapes qui en dépendent le sont aussi : {', '.join(region[1:])}"
        yield (
            ("states", name),
            f"étape {_label(defn, name)} inaccessible : aucune suite de transitions n'y mène "
            f"depuis l'étape initiale {_label(defn, starts[0])}{also if region[1:] else ''}",
        )


def _source_path(defn: WorkflowDef, index: int, source: str) -> tuple[PathPart, ...]:
    transition = defn.transitions[index]
    if isinstance(transition.source, str):
        return ("transitions", index, "source")
    return ("transitions", index, "source", transition.source.index(source))


def _check_triggers(defn: WorkflowDef) -> Iterator[Finding]:
    first_seen: dict[tuple[str, str], int] = {}
    for index, transition in enumerate(defn.transitions):
        for source in transition.sources:
            key = (transition.trigger, source)
            if key in first_seen:
                yield (
                    ("transitions", index, "trigger"),
                    f"le déclencheur « {transition.trigger} » part déjà de l'étape "
                    f"{_label(defn, source)} (transitions[{first_seen[key]}]) : depuis une même "
                    "étape, un déclencheur ne mène qu'à une seule étape",
                )
            else:
                first_seen[key] = index


def _check_fields(defn: WorkflowDef) -> Iterator[Finding]:
    for name, field in defn.fields.items():
        yield from _check_field(name, field)


def _check_field(name: str, field: FieldDef) -> Iterator[Finding]:
    here: tuple[PathPart, ...] = ("fields", name)
    enum_like = field.type is FieldType.ENUM or (
        field.type is FieldType.LIST and field.items is FieldType.ENUM
    )
    if field.type is FieldType.LIST:
        if field.items is None:
            yield (
                (*here, "items"),
                "un champ de type « list » doit préciser le type de ses éléments avec « items »",
            )
        elif field.items is FieldType.LIST:
            yield (*here, "items"), "une liste de listes n'est pas permise"
    elif field.items is not None:
        yield (*here, "items"), "« items » ne s'emploie que pour un champ de type « list »"
    if enum_like:
        if field.values is None:
            yield (
                (*here, "values"),
                "un champ à choix (« enum ») doit lister ses valeurs possibles dans « values »",
            )
        else:
            yield from _check_enum_values(here, field.values)
    elif field.values is not None:
        yield (
            (*here, "values"),
            "« values » ne s'emploie que pour un champ à choix (« enum ») ou une liste de choix",
        )


def _check_enum_values(here: tuple[PathPart, ...], values: Sequence[str]) -> Iterator[Finding]:
    if not values:
        yield (*here, "values"), "la liste des valeurs possibles est vide"
    seen: set[str] = set()
    for position, value in enumerate(values):
        if not value:
            yield (*here, "values", position), "valeur vide"
        elif value in seen:
            yield (*here, "values", position), f"la valeur « {value} » figure deux fois"
        seen.add(value)


def _check_roles(defn: WorkflowDef) -> Iterator[Finding]:
    for name, state in defn.states.items():
        if state.role is not None and not _IDENTIFIER_RE.match(state.role):
            yield (
                ("states", name, "role"),
                f"nom de rôle « {state.role} » invalide : {_NAME_RULE}",
            )
    for index, transition in enumerate(defn.transitions):
        for position, role in enumerate(transition.roles):
            if not _IDENTIFIER_RE.match(role):
                yield (
                    ("transitions", index, "roles", position),
                    f"nom de rôle « {role} » invalide : {_NAME_RULE}",
                )


def _check_controls(defn: WorkflowDef, known_controls: Collection[str]) -> Iterator[Finding]:
    available = ", ".join(sorted(known_controls)) or "aucun"
    for index, transition in enumerate(defn.transitions):
        for position, ref in enumerate(transition.controls):
            if ref.control not in known_controls:
                yield (
                    ("transitions", index, "controls", position, "control"),
                    f"contrôle « {ref.control} » inconnu du catalogue"
                    f"{suggest(ref.control, known_controls)} ; contrôles disponibles : "
                    f"{available}",
                )
            elif isinstance(known_controls, Mapping):
                here = ("transitions", index, "controls", position, "params")
                for parts, message in _params_findings(defn, known_controls[ref.control], ref):
                    yield (*here, *parts), f"contrôle « {ref.control} » : {message}"


def _params_findings(defn: WorkflowDef, spec: object, ref: ControlRef) -> Iterator[Finding]:
    """The problems of a control's parameters, then (when they are valid) of what they name."""
    problems = spec.param_problems(ref.params) if isinstance(spec, ParamsChecker) else []
    yield from problems
    if problems or not isinstance(spec, ReferencesChecker):
        return
    for reference in spec.param_references(ref.params):
        if reference.kind is ReferenceKind.TABLE:
            message = table_problem(reference.name, spec.parameter_tables())
        elif reference.kind is ReferenceKind.TRIGGER:
            message = trigger_problem(defn, reference.name)
        elif reference.kind is ReferenceKind.DOCUMENT:
            message = _document_problem(defn, reference.name)
        else:
            message = field_problem(defn, reference.name, _FIELD_TYPES.get(reference.kind))
        if message is not None:
            yield reference.path, message


_FIELD_TYPES: dict[ReferenceKind, tuple[FieldType, ...]] = {
    ReferenceKind.DATE_FIELD: (FieldType.DATE,),
    ReferenceKind.NUMBER_FIELD: (FieldType.AMOUNT, FieldType.INTEGER),
}
"""The field types a reference of each kind accepts (any type when the kind is not here)."""


def field_problem(defn: WorkflowDef, name: str, wanted: tuple[FieldType, ...] | None) -> str | None:
    """Why ``name`` is not a field of ``defn`` of one of the ``wanted`` types, or None."""
    fitting = [n for n, f in defn.fields.items() if wanted is None or f.type in wanted]
    expected = " ou ".join(f"« {kind.value} »" for kind in wanted or ())
    found = defn.fields.get(name)
    if found is None:
        hint = suggest(name, fitting) or suggest(name, defn.fields)
        typed = f" avec le type {expected}" if wanted else ""
        return f"champ « {name} » inconnu{hint} : il doit être déclaré sous « fields »{typed}"
    if wanted is not None and found.type not in wanted:
        others = f" ; champs de ce type : {', '.join(fitting)}" if fitting else ""
        return (
            f"le champ « {name} » est de type « {found.type.value} » : un champ de type "
            f"{expected} est attendu{others}"
        )
    return None


def trigger_problem(defn: WorkflowDef, name: str) -> str | None:
    """Why ``name`` is not a trigger of ``defn``, or None."""
    triggers = list(dict.fromkeys(transition.trigger for transition in defn.transitions))
    if name in triggers:
        return None
    return (
        f"déclencheur « {name} » inconnu{suggest(name, triggers)} : aucune transition de la "
        "procédure ne porte ce déclencheur"
    )


def _document_problem(defn: WorkflowDef, name: str) -> str | None:
    documents = list(dict.fromkeys(d for state in defn.states.values() for d in state.documents))
    if name in documents:
        return None
    return (
        f"type de pièce « {name} » inconnu{suggest(name, documents)} : il doit figurer dans "
        "la liste « documents » d'une étape"
    )


def table_problem(name: str, tables: Collection[str] | None) -> str | None:
    """Why ``name`` is not a parameter table (None when it is, or tables are unknown)."""
    if tables is None or name in tables:
        return None
    return (
        f"table de paramètres « {name} » inconnue{suggest(name, tables)} : aucune table de "
        "paramètres ne porte ce nom (voir docs/parameters.md)"
    )
