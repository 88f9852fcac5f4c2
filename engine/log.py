"""Logging set-up: structlog, console lines when interactive, JSON lines on demand."""

from __future__ import annotations

import logging
import sys
from typing import Any, Literal

import structlog

LogFormat = Literal["auto", "console", "json"]
Logger = structlog.typing.FilteringBoundLogger
"""The type of Jalon's loggers (so that other modules need not import structlog)."""


def configure_logging(log_format: LogFormat = "auto", level: str = "INFO") -> None:
    """Configure structlog once for the process; logs go to standard error."""
    renderer: structlog.typing.Processor
    if log_format == "json" or (log_format == "auto" and not sys.stderr.isatty()):
        renderer = structlog.processors.JSONRenderer()
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]
        ),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )


def get_logger(name: str = "jalon") -> structlog.typing.FilteringBoundLogger:
    """A logger bound to the component ``name``."""
    logger: structlog.typing.FilteringBoundLogger = structlog.get_logger(name)
    return logger.bind(component=name)


class CommandLog:
    """The logger of one command: its context is attached only when a line is written.

    Binding a structlog logger copies its context on every command; most commands write no
    line at the default level, so the context is merged at the call instead.
    """

    __slots__ = ("_context", "_log")

    def __init__(self, log: Logger, **context: Any) -> None:
        self._log = log
        self._context = context

    def info(self, event: str, **fields: Any) -> None:
        """Write an INFO line with the command's context (nothing is built when filtered)."""
        if self._log.is_enabled_for(logging.INFO):
            self._log.info(event, **self._fields(fields))

    def warning(self, event: str, **fields: Any) -> None:
        """Write a WARNING line with the command's context."""
        self._log.warning(event, **self._fields(fields))

    def _fields(self, fields: dict[str, Any]) -> dict[str, Any]:
        # Context values (an actor, say) are rendered as text only when a line is written.
        merged = {**self._context, **fields}
        return {
            key: value if isinstance(value, _PLAIN) else str(value) for key, value in merged.items()
        }


_PLAIN = (str, int, float, bool, list, dict, type(None))
