"""The dedupe ledger: one event gives at most one message per channel, across restarts."""

from __future__ import annotations

from bot.clock import Clock
from bot.store.db import Database


class NotificationRepo:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    async def claim(self, event_key: str, channel: str) -> bool:
        """Reserve an event for a channel; False when it was already claimed or posted."""
        count = await self._db.execute(
            "INSERT OR IGNORE INTO notifications (event_key, channel, created_at) VALUES (?, ?, ?)",
            (event_key, channel, self._clock.now()),
        )
        return count == 1

    async def release(self, event_key: str, channel: str) -> None:
        """Give a claim back after a failed post, so a later attempt may post."""
        await self._db.execute(
            "DELETE FROM notifications WHERE event_key = ? AND channel = ? AND ts IS NULL",
            (event_key, channel),
        )

    async def record(self, event_key: str, channel: str, ts: str) -> None:
        """Store the ts of the posted message."""
        await self._db.execute(
            "UPDATE notifications SET ts = ? WHERE event_key = ? AND channel = ?", (ts, event_key, channel)
        )

    async def ts_of(self, event_key: str, channel: str) -> str | None:
        """Return the ts of an already-posted event."""
        row = await self._db.fetchone(
            "SELECT ts FROM notifications WHERE event_key = ? AND channel = ?", (event_key, channel)
        )
        return str(row[0]) if row and row[0] else None
