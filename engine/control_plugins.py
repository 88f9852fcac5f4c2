"""Control plugins: controls of other packages, registered through the ``jalon.controls`` group.

A plugin is an installed distribution that declares, in its ``pyproject.toml``::

    [project.entry-points."jalon.controls"]
    sirets_valides = "jalon_controle_exemple:SIRETS_VALIDES"

Each entry point names an **object**, never a module: a ``ControlSpec``, or a non-empty
iterable (tuple, list) of ``ControlSpec``. The loader, not the plugin, registers them through
``engine.controls.register``, so that a plugin is all or nothing: every control of an entry
point is checked (type, name, parameter model, no clash with a built-in control or another
plugin) before any of them is registered. An entry point naming a module is refused, and so is
an import that registers controls the entry point does not name (they are forgotten): nothing
would then say which package a control comes from.

``load_plugins`` runs once per process, at the end of ``engine.control_catalogue`` (after the
built-in controls). A bad plugin gives one French sentence naming the entry point and its
package (``PluginError``); at import the catalogue leaves that plugin out and warns on standard
error through :mod:`logging`, so that no command, ``jalon --help`` included, fails on it. A
definition naming one of its controls is then refused as naming an unknown control: a control
is never skipped silently.
"""

from __future__ import annotations

import logging
import re
import types
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points

from engine import controls
from engine.controls import ControlSpec, NoParams, Params, catalogue, register
from engine.definition import IDENTIFIER
from engine.errors import EngineError

ENTRY_POINT_GROUP = "jalon.controls"
"""The entry-point group plugins declare their controls in."""

_LOG = logging.getLogger("jalon.plugins")
_IDENTIFIER_RE = re.compile(IDENTIFIER)
_UNKNOWN_PACKAGE = "paquet inconnu"

_ORIGINS: dict[str, str] = {}
"""Control name -> the plugin it came from (``greffon « x » du paquet y``), for clash messages."""


@dataclass(frozen=True, slots=True)
class PluginFailure:
    """One plugin that cannot be used: its entry point, its package and what is wrong (French)."""

    entry_point: str
    distribution: str
    detail: str

    def __str__(self) -> str:
        return (
            f"Greffon de contrôles « {self.entry_point} » (paquet {self.distribution}) : "
            f"{self.detail}"
        )


class PluginError(EngineError):
    """One or more control plugins cannot be used; one French sentence per plugin."""

    code = "greffon_invalide"

    def __init__(self, failures: Iterable[PluginFailure]) -> None:
        self.failures = tuple(failures)
        super().__init__("\n".join(str(failure) for failure in self.failures))


def distribution_name(entry_point: EntryPoint) -> str:
    """The name of the package that declares ``entry_point`` (``paquet inconnu`` if none)."""
    dist = entry_point.dist
    name = dist.name if dist is not None else None
    return name or _UNKNOWN_PACKAGE


def register_plugins(found: Iterable[EntryPoint]) -> tuple[ControlSpec, ...]:
    """Register the controls of the entry points ``found`` (sorted by package, then name).

    Each entry point is all or nothing; the good ones are registered even when others fail.
    This is the loader itself, run on every call: ``load_plugins`` runs it once per process.

    Returns:
        The controls registered, in order.

    Raises:
        PluginError: One or more entry points cannot be used (after the good ones are in).
    """
    registered, failures = _register_all(found)
    if failures:
        raise PluginError(failures)
    return registered


@dataclass(slots=True)
class _Loaded:
    """The outcome of the process's one loading of plugins."""

    done: bool = False
    controls: tuple[ControlSpec, ...] = ()
    error: PluginError | None = None
    warned: bool = False


_STATE = _Loaded()


def load_plugins(*, strict: bool = True) -> tuple[ControlSpec, ...]:
    """Register the controls of every installed ``jalon.controls`` plugin, once per process.

    The first call loads the plugins; later calls return the same controls (and the same
    error), whatever was installed meanwhile.

    Args:
        strict: Raise when a plugin is bad. Otherwise each bad plugin is written once as a
            warning (logger ``jalon.plugins``: on standard error when logging is not set up)
            and left out; ``engine.control_catalogue`` loads plugins this way.

    Returns:
        The controls registered from plugins (the good ones, when some plugin is bad).

    Raises:
        PluginError: ``strict`` and one or more plugins cannot be used.
    """
    if not _STATE.done:
        _STATE.done = True  # first: a plugin that calls this while it is imported gets nothing
        _STATE.controls, failures = _register_all(entry_points(group=ENTRY_POINT_GROUP))
        _STATE.error = PluginError(failures) if failures else None
    if _STATE.error is not None:
        if strict:
            raise _STATE.error
        if not _STATE.warned:
            _STATE.warned = True
            for failure in _STATE.error.failures:
                _LOG.warning("%s ; ses contrôles ne sont pas chargés.", failure)
    return _STATE.controls


def _register_all(
    found: Iterable[EntryPoint],
) -> tuple[tuple[ControlSpec, ...], list[PluginFailure]]:
    registered: list[ControlSpec] = []
    failures: list[PluginFailure] = []
    for entry_point in sorted(found, key=lambda ep: (distribution_name(ep), ep.name)):
        package = distribution_name(entry_point)
        before = set(catalogue())
        try:
            specs = _specs_of(entry_point, before)
        except _Refused as refusal:
            # All or nothing: forget what the plugin's import may have registered by itself.
            for name in set(catalogue()) - before:
                del controls._REGISTRY[name]
            failures.append(PluginFailure(entry_point.name, package, str(refusal)))
            continue
        origin = f"greffon « {entry_point.name} » du paquet {package}"
        for spec in specs:
            register(spec)
            _ORIGINS[spec.name] = origin
        registered.extend(specs)
    return tuple(registered), failures


class _Refused(Exception):
    """An entry point that cannot be used; the message is the French detail."""


def _specs_of(entry_point: EntryPoint, before: set[str]) -> tuple[ControlSpec, ...]:
    try:
        target = entry_point.load()
    except Exception as error:  # a plugin may fail in any way: its import runs its code
        raise _Refused(
            f"import impossible de « {entry_point.value} » ({type(error).__name__} : {error})"
        ) from error
    specs = _as_specs(entry_point.value, target)
    problems = [problem for spec in specs for problem in _spec_problems(spec)]
    names = [spec.name for spec in specs]
    problems.extend(
        f"le contrôle « {name} » est déclaré deux fois"
        for name in sorted({name for name in names if names.count(name) > 1})
    )
    hidden = sorted(set(catalogue()) - before - set(names))
    if hidden:
        problems.append(
            f"l'import a enregistré des contrôles que le point d'entrée ne désigne pas "
            f"({', '.join(hidden)}) : désignez-les tous, et n'appelez pas register()"
        )
    for spec in specs:
        if spec.name in before:
            owner = _ORIGINS.get(spec.name, "contrôle intégré")
            problems.append(
                f"le contrôle « {spec.name} » existe déjà ({owner}) : choisissez un autre nom"
            )
    if problems:
        raise _Refused(" ; ".join(problems))
    return specs


def _as_specs(value: str, target: object) -> tuple[ControlSpec, ...]:
    expected = "un ControlSpec ou une liste de ControlSpec"
    if isinstance(target, ControlSpec):
        return (target,)
    if isinstance(target, types.ModuleType):
        raise _Refused(f"« {value} » désigne un module, pas {expected} (écrivez « module:OBJET »)")
    if isinstance(target, str | bytes | Mapping) or not isinstance(target, Iterable):
        raise _Refused(f"« {value} » n'est pas {expected} (objet de type {type(target).__name__})")
    try:
        items = tuple(target)
    except Exception as error:  # iterating a plugin's object runs its code
        raise _Refused(f"« {value} » ne peut pas être parcouru ({error})") from error
    if not items:
        raise _Refused(f"« {value} » ne contient aucun contrôle")
    for position, item in enumerate(items, start=1):
        if not isinstance(item, ControlSpec):
            raise _Refused(
                f"l'élément n° {position} de « {value} » n'est pas un ControlSpec "
                f"(objet de type {type(item).__name__})"
            )
    return items


def _spec_problems(spec: ControlSpec) -> list[str]:
    problems: list[str] = []
    if not isinstance(spec.name, str) or not _IDENTIFIER_RE.match(spec.name):
        problems.append(
            f"nom de contrôle « {spec.name} » invalide : minuscules, chiffres et _ "
            "(ex. sirets_valides)"
        )
    if not isinstance(spec.summary, str) or not spec.summary.strip():
        problems.append(f"le contrôle « {spec.name} » n'a pas de résumé")
    if not callable(spec.check):
        problems.append(f"la vérification du contrôle « {spec.name} » n'est pas une fonction")
    if not (isinstance(spec.params, type) and issubclass(spec.params, Params | NoParams)):
        problems.append(
            f"les paramètres du contrôle « {spec.name} » doivent être un modèle qui hérite de "
            "engine.controls.Params"
        )
    return problems
