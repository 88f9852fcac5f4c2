"""What CLI commands share: the engine opened lazily on the ``--db`` database, actors."""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass, field

import typer

from engine.actors import Actor
from engine.service import Engine


@dataclass
class CliState:
    """The state of one ``jalon`` invocation."""

    db_url: str | None
    _engine: Engine | None = field(default=None, repr=False)

    def engine(self) -> Engine:
        """The engine on the chosen database (created, and migrated if empty, on first use)."""
        if self._engine is None:
            self._engine = Engine.connect(self.db_url)
        return self._engine


def state(ctx: typer.Context) -> CliState:
    """The invocation state set by the main callback."""
    obj = ctx.find_root().obj
    assert isinstance(obj, CliState)
    return obj


def actor_from_option(value: str | None) -> Actor:
    """The ``--as`` actor, else ``JALON_ACTOR``, else the login name without roles."""
    return Actor.parse(value or os.environ.get("JALON_ACTOR") or getpass.getuser())


AS_HELP = "Qui agit : UTILISATEUR[:ROLE,...] (défaut : $JALON_ACTOR ou l'utilisateur courant)."
