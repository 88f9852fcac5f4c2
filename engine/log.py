"""Logging set-up: structlog, console lines when interactive, JSON lines on demand."""

from __future__ import annotations

import logging
import sys
from typing import Literal

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
