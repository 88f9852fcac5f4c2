"""The engine's error taxonomy: refusals a user can act on, and bugs.

Every user-facing error carries one French sentence (``message``) fit to show an officer as it
is; the CLI prints it and never a traceback.

```
EngineError
├─ DefinitionError
│  ├─ DefinitionSyntaxError(path, line)      the YAML itself cannot be read
│  ├─ DefinitionInvalid(path, problems)      every problem of a file, with line and field
│  └─ DefinitionConflict                     same id and version, different content
├─ UnknownWorkflow (also LookupError)
├─ UnknownCase (also LookupError)
├─ InvalidValue(field)                       a case value that does not fit its field type
├─ CommandRefused                            recorded in the audit trail, state unchanged
│  ├─ TriggerNotAllowed                      not from this state / unknown trigger
│  ├─ NotAuthorized                          the actor's roles do not allow it
│  ├─ ControlsFailed(results)                blocking controls failed
│  └─ CaseClosed                             the case is in a final state
├─ ConcurrentModification                    another command changed the case first
└─ ControlError                              a control crashed: a bug, not a finding
```

Storage errors (``storage.errors``) are translated into these by the service.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class EngineError(Exception):
    """Base of every error the engine raises on purpose; ``message`` is French, for users."""

    code: str = "erreur"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class DefinitionError(EngineError):
    """A workflow definition cannot be used."""

    code = "definition_invalide"


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem found in a definition file: where it is and what is wrong."""

    path: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line is not None else self.path
        field = f" [{self.field}]" if self.field else ""
        return f"{where}:{field} {self.message}"


class DefinitionSyntaxError(DefinitionError):
    """The YAML of a definition file cannot be parsed."""

    def __init__(self, path: Path | str, line: int | None, detail: str) -> None:
        self.path = str(path)
        self.line = line
        self.problem = Problem(self.path, line, "", detail)
        super().__init__(str(self.problem))


class DefinitionInvalid(DefinitionError):
    """A definition file parsed but breaks one or more rules; ``problems`` lists them all."""

    def __init__(self, path: Path | str, problems: Sequence[Problem]) -> None:
        self.path = str(path)
        self.problems = list(problems)
        lines = "\n".join(str(p) for p in self.problems)
        super().__init__(f"{len(self.problems)} problème(s) dans {self.path} :\n{lines}")


class DefinitionConflict(DefinitionError):
    """A different content is already registered under the same workflow id and version."""

    code = "version_deja_enregistree"


class UnknownWorkflow(EngineError, LookupError):
    """No workflow (or no such version of it) is known."""

    code = "procedure_inconnue"


class UnknownCase(EngineError, LookupError):
    """No case has this reference."""

    code = "dossier_inconnu"


class InvalidValue(EngineError, ValueError):
    """A value given for a case field does not fit the field's type."""

    code = "valeur_invalide"

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(message)


class CommandRefused(EngineError):
    """A command was refused; the refusal is recorded in the audit trail, nothing else changes."""

    code = "commande_refusee"

    def __init__(self, message: str, *, reference: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.reference = reference
        self.details = details


class TriggerNotAllowed(CommandRefused):
    """The trigger does not exist, or cannot fire from the case's current state."""

    code = "etape_non_autorisee"


class NotAuthorized(CommandRefused):
    """The actor's roles do not allow this trigger."""

    code = "role_non_autorise"


class ControlsFailed(CommandRefused):
    """One or more blocking controls failed; ``results`` holds every control result."""

    code = "controles_non_satisfaits"


class DerogationRefused(CommandRefused):
    """A derogation was asked without the authority for this workflow, or without justification."""

    code = "derogation_refusee"


class CaseClosed(CommandRefused):
    """The case is in a final state and accepts no further change."""

    code = "dossier_clos"


class ConcurrentModification(EngineError):
    """Another command changed the case between this command's read and its write."""

    code = "conflit"


class ControlError(EngineError):
    """A control raised instead of returning a result: a bug in the control, not a finding."""

    code = "erreur_controle"
