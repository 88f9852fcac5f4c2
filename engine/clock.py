"""The only place that reads wall time: a ``Clock`` protocol, the system clock and a frozen one.

Everything else receives a clock (or ``now``) as an argument, so that deadlines are testable and
a simulation can run months in seconds.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """A source of the current instant, always an aware UTC datetime."""

    def now(self) -> datetime:
        """Return the current instant (aware, UTC)."""
        ...


class SystemClock:
    """The real clock of the machine."""

    def now(self) -> datetime:
        """Return the machine's current instant in UTC."""
        return datetime.now(UTC)


class FrozenClock:
    """A clock that stands still until told to move: for tests, demos and simulations."""

    def __init__(self, at: datetime) -> None:
        self._at = ensure_utc(at)

    def now(self) -> datetime:
        """Return the instant the clock stands at."""
        return self._at

    def set(self, at: datetime) -> None:
        """Move the clock to ``at`` (forwards or backwards)."""
        self._at = ensure_utc(at)

    def advance(self, delta: timedelta) -> datetime:
        """Move the clock forward by ``delta`` and return the new instant."""
        self._at += delta
        return self._at


def ensure_utc(at: datetime) -> datetime:
    """Return ``at`` as an aware UTC datetime; a naive datetime is refused."""
    if at.tzinfo is None:
        raise ValueError("naive datetimes are not accepted: give a time zone")
    return at.astimezone(UTC)


def clock_from_environment() -> Clock:
    """The system clock, or a frozen one when ``JALON_NOW`` holds an ISO-8601 instant."""
    frozen = os.environ.get("JALON_NOW")
    if frozen:
        at = datetime.fromisoformat(frozen.replace("Z", "+00:00"))
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        return FrozenClock(at)
    return SystemClock()
