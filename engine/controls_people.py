"""Controls on the people of a case: four-eyes, declarations of interests, checklists.

They read the case's history (its audit entries, loaded on first use only):

- ``four_eyes`` (segregation of duties): the actor of this step did not fire any of the listed
  earlier steps (whoever prepared the analysis report cannot validate it);
- ``conflict_declarations``: every person who fired one of the listed steps (and the current
  actor, unless told otherwise) has declared, e.g., the absence of conflict of interest
  (``jalon case declare``);
- ``checklist``: every item of the list has been ticked with its evidence (``jalon case check``).
"""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import Field, field_validator

from engine.controls import CaseSnapshot, ControlSpec, Params, identifiers, named, register
from engine.definition import IDENTIFIER
from engine.validation import Reference, ReferenceKind

DECLARATION_KIND = "case.declaration"
CHECKLIST_KIND = "case.checklist_ticked"


class FourEyesParams(Params):
    """Parameters of ``four_eyes``."""

    not_actor_of: list[str] = Field(
        min_length=1,
        description="Déclencheurs des étapes antérieures que l'acteur ne doit pas avoir franchies.",
    )

    @field_validator("not_actor_of")
    @classmethod
    def _triggers(cls, value: list[str]) -> list[str]:
        return identifiers(value, "déclencheur")

    def references(self) -> Iterator[Reference]:
        """The triggers of the earlier steps."""
        return named("not_actor_of", self.not_actor_of, ReferenceKind.TRIGGER)


def _four_eyes(params: FourEyesParams, snapshot: CaseSnapshot) -> tuple[bool, str]:
    user = snapshot.actor.user
    fired = snapshot.actors_of(params.not_actor_of)
    conflicts = [trigger for trigger in params.not_actor_of if user in fired.get(trigger, [])]
    if conflicts:
        steps = ", ".join(f"« {trigger} »" for trigger in conflicts)
        return False, (
            f"{user} a déjà franchi l'étape {steps} de ce dossier : une autre personne doit "
            "franchir celle-ci (séparation des tâches)"
        )
    steps = ", ".join(f"« {trigger} »" for trigger in params.not_actor_of)
    return True, f"{user} n'a franchi aucune des étapes {steps} (séparation des tâches respectée)"


class ConflictDeclarationsParams(Params):
    """Parameters of ``conflict_declarations``."""

    declaration: str = Field(
        default="absence_conflit_interets",
        pattern=IDENTIFIER,
        description="Le type de déclaration exigé (absence_conflit_interets par défaut).",
    )
    steps: list[str] = Field(
        default_factory=list,
        description="Les déclencheurs dont chaque acteur doit avoir fait la déclaration.",
    )
    include_actor: bool = Field(
        default=True, description="L'acteur de cette étape doit aussi avoir fait la déclaration."
    )

    @field_validator("steps")
    @classmethod
    def _triggers(cls, value: list[str]) -> list[str]:
        return identifiers(value, "déclencheur")

    def references(self) -> Iterator[Reference]:
        """The triggers whose actors must have declared."""
        return named("steps", self.steps, ReferenceKind.TRIGGER)


def _conflict_declarations(
    params: ConflictDeclarationsParams, snapshot: CaseSnapshot
) -> tuple[bool, str]:
    people: list[str] = []
    fired = snapshot.actors_of(params.steps)
    for trigger in params.steps:
        for user in fired.get(trigger, []):
            if user not in people:
                people.append(user)
    if params.include_actor and snapshot.actor.user not in people:
        people.append(snapshot.actor.user)
    declared = {
        entry.actor
        for entry in snapshot.facts_of_kind(DECLARATION_KIND)
        if entry.payload.get("declaration") == params.declaration
    }
    missing = [user for user in people if user not in declared]
    if missing:
        return False, (
            f"déclaration « {params.declaration} » manquante pour : {', '.join(missing)}"
        )
    if not people:
        return True, "aucune personne concernée par la déclaration"
    return True, f"déclaration « {params.declaration} » faite par : {', '.join(people)}"


class ChecklistItem(Params):
    """One item of a checklist: its identifier and its French label."""

    id: str = Field(pattern=IDENTIFIER, description="Identifiant du point.")
    label: str = Field(min_length=1, description="Libellé du point.")


class ChecklistParams(Params):
    """Parameters of ``checklist``."""

    items: list[ChecklistItem] = Field(
        min_length=1, description="Les points à cocher, chacun {id, label}."
    )

    @field_validator("items")
    @classmethod
    def _unique(cls, value: list[ChecklistItem]) -> list[ChecklistItem]:
        seen: set[str] = set()
        for item in value:
            if item.id in seen:
                raise ValueError(f"le point « {item.id} » figure deux fois dans la liste")
            seen.add(item.id)
        return value


def _checklist(params: ChecklistParams, snapshot: CaseSnapshot) -> tuple[bool, str]:
    ticked = {
        str(entry.payload.get("item"))
        for entry in snapshot.facts_of_kind(CHECKLIST_KIND)
        if str(entry.payload.get("evidence") or "").strip()
    }
    missing = [item.label for item in params.items if item.id not in ticked]
    if missing:
        return False, "point(s) non coché(s) avec preuve : " + " ; ".join(missing)
    return True, f"les {len(params.items)} point(s) de la liste sont cochés avec leur preuve"


FOUR_EYES = register(
    ControlSpec(
        name="four_eyes",
        clause="5.3",
        summary="L'acteur n'a franchi aucune des étapes listées (principe des quatre yeux).",
        check=_four_eyes,
        params=FourEyesParams,
    )
)
CONFLICT_DECLARATIONS = register(
    ControlSpec(
        name="conflict_declarations",
        clause="7.1.2",
        summary="Chaque intervenant des étapes listées a déclaré l'absence de conflit d'intérêts.",
        check=_conflict_declarations,
        params=ConflictDeclarationsParams,
    )
)
CHECKLIST = register(
    ControlSpec(
        name="checklist",
        clause="8.5.1",
        summary="Chaque point de la liste de vérification est coché avec sa preuve.",
        check=_checklist,
        params=ChecklistParams,
    )
)
