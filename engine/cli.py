"""The ``jalon`` command: global options, command groups, and errors shown as one sentence.

Exit codes: 0 done; 1 refused or invalid input (one French sentence on standard error);
2 bad command line; 3 conflict with a concurrent command; 4 the audit trail is not intact.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.console import Console

from engine.cli_audit import audit_app
from engine.cli_cases import case_app
from engine.cli_context import CliState
from engine.cli_db import db_app
from engine.cli_workflows import workflows_app
from engine.demo import demo_command
from engine.errors import ConcurrentModification, EngineError
from engine.log import LogFormat, configure_logging
from storage.errors import StorageError

EXIT_REFUSED = 1
EXIT_CONFLICT = 3

app = typer.Typer(
    name="jalon",
    help="Jalon : procédures de commande publique, contrôles ISO 9001 et piste d'audit.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(workflows_app, name="workflows")
app.add_typer(case_app, name="case")
app.add_typer(audit_app, name="audit")
app.add_typer(db_app, name="db")
app.command("demo")(demo_command)


@app.callback()
def main_options(
    ctx: typer.Context,
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            envvar="JALON_DATABASE_URL",
            help="Base : chemin d'un fichier SQLite ou URL postgresql://… (défaut ./jalon.db).",
        ),
    ] = None,
    log_format: Annotated[
        str, typer.Option("--log-format", help="auto, console ou json (lignes JSON).")
    ] = "auto",
    log_level: Annotated[str, typer.Option("--log-level", help="DEBUG, INFO, WARNING…")] = "INFO",
) -> None:
    """Options common to every command."""
    if log_format not in ("auto", "console", "json"):
        raise typer.BadParameter("auto, console ou json", param_hint="--log-format")
    fmt: LogFormat = log_format  # type: ignore[assignment]
    configure_logging(fmt, log_level)
    ctx.obj = CliState(db)


def main() -> None:
    """Entry point of the console script: run the app, show user errors without traceback."""
    err = Console(stderr=True)
    try:
        app()
    except ConcurrentModification as error:
        err.print(f"[bold red]Conflit :[/] {error.message}", highlight=False)
        sys.exit(EXIT_CONFLICT)
    except EngineError as error:
        err.print(f"[bold red]Refusé :[/] {error.message}", highlight=False)
        sys.exit(EXIT_REFUSED)
    except StorageError as error:
        err.print(f"[bold red]Base de données :[/] {error}", highlight=False)
        sys.exit(EXIT_REFUSED)
