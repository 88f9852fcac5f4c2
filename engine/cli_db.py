"""``jalon db``: schema migrations."""

from __future__ import annotations

import typer

from engine.cli_context import state
from storage.database import Database, default_url, describe_url
from storage.migrate import current_revision, head_revision, upgrade

db_app = typer.Typer(help="Base de données : migrations du schéma.", no_args_is_help=True)


@db_app.command("upgrade")
def upgrade_command(ctx: typer.Context) -> None:
    """Mettre le schéma de la base à jour (Alembic)."""
    database = Database(state(ctx).db_url or default_url())
    before = current_revision(database)
    upgrade(database)
    after = current_revision(database)
    typer.echo(f"{describe_url(database.url)} : révision {before or 'vide'} → {after}")


@db_app.command("current")
def current_command(ctx: typer.Context) -> None:
    """Afficher la révision du schéma de la base et celle attendue."""
    database = Database(state(ctx).db_url or default_url())
    typer.echo(f"base : {current_revision(database) or 'vide'} ; attendue : {head_revision()}")
