"""Controls on follow-up: the actor is not the person named in a field; fields revised since a step.

- ``actor_not_named`` (segregation of duties on named people): the actor of this step is
  not the user written in one of the listed fields — the owner of a corrective action does
  not check its effectiveness (ISO 9001 §10.2.1, §5.3);
- ``revised_since``: each listed field was set again after the last time a step was taken —
  a reopened non-conformity gets a new root-cause analysis, not the one that failed.
"""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import Field, field_validator

from engine.controls import (
    CaseSnapshot,
    ControlSpec,
    Params,
    identifiers,
    is_missing,
    named,
    register,
)
from engine.definition import IDENTIFIER
from engine.validation import Reference, ReferenceKind

DATA_SET_KIND = "case.data_set"
TRANSITION_KIND = "case.transition"


class ActorNotNamedParams(Params):
    """Parameters of ``actor_not_named``."""

    fields: list[str] = Field(
        min_length=1,
        description="Champs désignant une personne (identifiant) qui ne doit pas agir ici.",
    )

    @field_validator("fields")
    @classmethod
    def _fields(cls, value: list[str]) -> list[str]:
        return identifiers(value, "champ", "responsable_action")

    def references(self) -> Iterator[Reference]:
        """The fields naming people."""
        yield from named("fields", self.fields, ReferenceKind.FIELD)


def _actor_not_named(params: ActorNotNamedParams, snapshot: CaseSnapshot) -> tuple[bool, str]:
    user = snapshot.actor.user
    named = [
        name
        for name in params.fields
        if not is_missing(snapshot.data.get(name))
        and str(snapshot.data[name]).strip().casefold() == user.casefold()
    ]
    if named:
        listed = ", ".join(f"« {name} »" for name in named)
        return False, (
            f"{user} est la personne désignée dans {listed} : une autre personne doit franchir "
            "cette étape (séparation des tâches)"
        )
    listed = ", ".join(f"« {name} »" for name in params.fields)
    return True, f"{user} n'est pas la personne désignée dans {listed}"


class RevisedSinceParams(Params):
    """Parameters of ``revised_since``."""

    fields: list[str] = Field(
        min_length=1, description="Champs qui doivent avoir été saisis à nouveau."
    )
    since: str = Field(
        pattern=IDENTIFIER,
        description="Déclencheur de l'étape après laquelle les champs doivent être ressaisis.",
    )

    @field_validator("fields")
    @classmethod
    def _fields(cls, value: list[str]) -> list[str]:
        return identifiers(value, "champ", "responsable_action")

    def references(self) -> Iterator[Reference]:
        """The fields to set again and the trigger of the step."""
        yield from named("fields", self.fields, ReferenceKind.FIELD)
        yield Reference(("since",), ReferenceKind.TRIGGER, self.since)


def _revised_since(params: RevisedSinceParams, snapshot: CaseSnapshot) -> tuple[bool, str]:
    last_step = None
    for entry in snapshot.history:
        if entry.kind == TRANSITION_KIND and entry.payload.get("trigger") == params.since:
            last_step = entry.seq
    if last_step is None:
        return True, f"l'étape « {params.since} » n'a jamais été franchie : rien à ressaisir"
    revised: set[str] = set()
    for entry in snapshot.history:
        if entry.seq > last_step and entry.kind == DATA_SET_KIND:
            values = entry.payload.get("values") or {}
            revised.update(name for name, value in values.items() if not is_missing(value))
    stale = [name for name in params.fields if name not in revised]
    if stale:
        listed = ", ".join(f"« {name} »" for name in stale)
        return False, (
            f"{listed} n'ont pas été ressaisis depuis l'étape « {params.since} » "
            f"(entrée {last_step} du journal)"
        )
    listed = ", ".join(f"« {name} »" for name in params.fields)
    return True, f"{listed} ressaisis depuis l'étape « {params.since} »"


ACTOR_NOT_NAMED = register(
    ControlSpec(
        name="actor_not_named",
        clause="5.3",
        summary="L'acteur n'est pas la personne désignée dans les champs listés.",
        check=_actor_not_named,
        params=ActorNotNamedParams,
    )
)

REVISED_SINCE = register(
    ControlSpec(
        name="revised_since",
        clause="10.2.1",
        summary="Les champs listés ont été ressaisis depuis la dernière fois qu'une étape a été "
        "franchie.",
        check=_revised_since,
        params=RevisedSinceParams,
    )
)
