"""The ``jalon`` command: global options, command groups, and errors shown as one sentence.

Exit codes: 0 done; 1 refused or invalid input (one French sentence on standard error);
2 bad command line; 3 conflict with a concurrent command; 4 the audit trail is not intact.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from engine.cli_audit import audit_app
from engine.cli_calendar import calendar_app
from engine.cli_cases import case_app
from engine.cli_clocks import clocks_app
from engine.cli_context import CliState
from engine.cli_controls import controls_app
from engine.cli_db import db_app
from engine.cli_nc import nc_app
from engine.cli_payment import payment_app
from engine.cli_scheduler import scheduler_app
from engine.cli_workflows import workflows_app
from engine.demo import demo_command
from engine.errors import ConcurrentModification, EngineError
from engine.log import LogFormat, configure_logging
from storage.errors import StorageError, as_storage_error

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
app.add_typer(calendar_app, name="calendar")
app.add_typer(controls_app, name="controls")
app.add_typer(nc_app, name="nc")
app.add_typer(payment_app, name="payment")
app.add_typer(clocks_app, name="clocks")
app.add_typer(scheduler_app, name="scheduler")
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
    log_level: Annotated[
        str | None,
        typer.Option(
            "--log-level",
            help="DEBUG, INFO, WARNING… (défaut : INFO si --log-format est donné, sinon WARNING).",
        ),
    ] = None,
) -> None:
    """Options common to every command."""
    if log_format not in ("auto", "console", "json"):
        raise typer.BadParameter("auto, console ou json", param_hint="--log-format")
    fmt: LogFormat = log_format  # type: ignore[assignment]
    # Quiet by default: the user already reads the outcome; asking for a format asks for logs.
    configure_logging(fmt, log_level or ("WARNING" if log_format == "auto" else "INFO"))
    ctx.obj = CliState(db)


def _say(prefix: str, message: str) -> None:
    """One sentence on standard error, as typed (no markup, no wrapping; colour on a terminal)."""
    typer.secho(prefix, fg="red", bold=True, err=True, nl=False)
    typer.echo(f" {message}", err=True)


def main() -> None:
    """Entry point of the console script: run the app, show user errors without traceback."""
    try:
        app()
    except ConcurrentModification as error:
        _say("Conflit :", error.message)
        sys.exit(EXIT_CONFLICT)
    except EngineError as error:
        _say("Refusé :", error.message)
        sys.exit(EXIT_REFUSED)
    except StorageError as error:
        _say("Base de données :", str(error))
        sys.exit(EXIT_REFUSED)
    except Exception as error:
        translated = as_storage_error(error)
        if translated is None:
            raise  # a bug: keep the traceback
        _say("Base de données :", str(translated))
        sys.exit(EXIT_REFUSED)
