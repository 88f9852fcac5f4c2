"""Who acts: a user and the roles they act in, parsed from ``USER[:ROLE,...]``."""

from __future__ import annotations

import re
from dataclasses import dataclass

from engine.errors import EngineError

_USER = re.compile(r"^[\w.@-]{1,200}$")
_ROLE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


class InvalidActor(EngineError, ValueError):
    """The ``--as`` value cannot be read as a user and roles."""

    code = "acteur_invalide"


@dataclass(frozen=True, slots=True)
class Actor:
    """A user acting with a set of roles."""

    user: str
    roles: frozenset[str] = frozenset()

    def __str__(self) -> str:
        return f"{self.user}:{','.join(sorted(self.roles))}" if self.roles else self.user

    @classmethod
    def parse(cls, text: str) -> Actor:
        """Read ``USER[:ROLE,...]``, e.g. ``marie.durand:acheteur,responsable_achat``."""
        user, _, roles_text = text.strip().partition(":")
        if not _USER.match(user):
            raise InvalidActor(
                f"Acteur « {text} » illisible : écrivez UTILISATEUR[:ROLE,...], "
                "par exemple marie.durand:acheteur."
            )
        roles = frozenset(r.strip() for r in roles_text.split(",") if r.strip())
        bad = sorted(r for r in roles if not _ROLE.match(r))
        if bad:
            raise InvalidActor(
                f"Rôle(s) illisible(s) dans « {text} » : {', '.join(bad)} "
                "(minuscules, chiffres et _ uniquement)."
            )
        return cls(user, roles)


SYSTEM = Actor("jalon", frozenset({"system"}))
"""The engine itself, for facts no person caused (e.g. a checkpoint)."""
