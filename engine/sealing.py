"""When to seal the trail: a checkpoint once facts older than an interval are unsealed."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from datetime import datetime, timedelta

from engine.clock import Clock
from storage.checkpoints import Checkpoint, unsealed_since
from storage.store import Store

DEFAULT_CHECKPOINT_INTERVAL = timedelta(hours=1)
"""After a write command, a checkpoint is taken when the oldest unsealed fact is this old."""


class CheckpointPolicy:
    """Decides after each write command whether to take a checkpoint; caches the due time.

    Between checkpoints the decision costs one comparison; the first write command of a
    process reads, once, since when facts are unsealed.
    """

    def __init__(self, interval: timedelta | None) -> None:
        self.interval = interval
        self._due: datetime | None = None

    def after_write(self, store: Store, clock: Clock, take: Callable[[], Checkpoint]) -> None:
        """Take a checkpoint through ``take`` if one is due."""
        if self.interval is None:
            return
        now = clock.now()
        if self._due is not None and now < self._due:
            return
        since = unsealed_since(store)
        if since is None:
            return
        since_at = datetime.fromisoformat(since.replace("Z", "+00:00"))
        if now - since_at < self.interval:
            self._due = since_at + self.interval
            return
        # Another process may take the same checkpoint number first: that one counts.
        with suppress(store.integrity_error):
            take()
        self._due = now + self.interval
