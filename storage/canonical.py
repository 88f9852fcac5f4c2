"""Canonical JSON, the one text form in which facts are hashed and stored.

Rules (also in docs/audit-trail.md): UTF-8; object keys sorted by code point; no whitespace
(separators ``,`` and ``:``); non-ASCII characters written as themselves, not escaped; no
floating-point numbers (amounts are decimal strings, times ISO-8601 UTC strings).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import orjson

ZERO_HASH = "0" * 64
"""The ``prev_hash`` of the first entry of every chain."""

_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return utc_text(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(f"{type(value).__name__} cannot be written in canonical JSON")


def _reject_floats(value: Any) -> None:
    if _holds_float(value):
        raise TypeError("floats are not allowed in canonical JSON: use a decimal string")


def _holds_float(value: Any) -> bool:
    kind = type(value)
    if kind is float:
        return True
    if kind is dict:
        items: Any = value.values()
    elif kind is list or kind is tuple:
        items = value
    else:
        return False
    for item in items:
        item_kind = type(item)
        if item_kind is float:
            return True
        if (item_kind is dict or item_kind is list or item_kind is tuple) and _holds_float(item):
            return True
    return False


def canonical_json(value: Any) -> str:
    """Return the canonical JSON text of ``value`` (see the module docstring for the rules).

    orjson writes exactly what ``json.dumps(value, sort_keys=True, separators=(",", ":"),
    ensure_ascii=False)`` writes for these values, ten times faster; a property test holds
    the two equal.
    """
    _reject_floats(value)
    return orjson.dumps(value, default=_default, option=_OPTIONS).decode("utf-8")


def utc_text(at: datetime) -> str:
    """Return an aware datetime as ISO-8601 UTC text with microseconds and a ``Z`` suffix."""
    if at.tzinfo is None:
        raise ValueError("naive datetimes are not accepted")
    if at.tzinfo is not UTC:
        at = at.astimezone(UTC)
    return at.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"
