"""Canonical JSON, the one text form in which facts are hashed and stored.

Rules (also in docs/audit-trail.md): UTF-8; object keys sorted by code point; no whitespace
(separators ``,`` and ``:``); non-ASCII characters written as themselves, not escaped; no
floating-point numbers (amounts are decimal strings, times ISO-8601 UTC strings).
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

ZERO_HASH = "0" * 64
"""The ``prev_hash`` of the first entry of every chain."""


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return utc_text(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, set | frozenset | tuple):
        return sorted(value) if isinstance(value, set | frozenset) else list(value)
    raise TypeError(f"{type(value).__name__} cannot be written in canonical JSON")


def _reject_floats(value: Any) -> None:
    if isinstance(value, float):
        raise TypeError("floats are not allowed in canonical JSON: use a decimal string")
    if isinstance(value, dict):
        for item in value.values():
            _reject_floats(item)
    elif isinstance(value, list | tuple):
        for item in value:
            _reject_floats(item)


def canonical_json(value: Any) -> str:
    """Return the canonical JSON text of ``value`` (see the module docstring for the rules)."""
    _reject_floats(value)
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_default
    )


def utc_text(at: datetime) -> str:
    """Return an aware datetime as ISO-8601 UTC text with microseconds and a ``Z`` suffix."""
    if at.tzinfo is None:
        raise ValueError("naive datetimes are not accepted")
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
