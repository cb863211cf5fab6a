"""Which channels hear about which topics."""

from __future__ import annotations

from bot.clock import Clock
from bot.domain import Topic
from bot.store.db import Database


class SubscriptionRepo:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    async def add(self, channel: str, topic: Topic, created_by: str) -> bool:
        """Subscribe a channel; False when it already was."""
        count = await self._db.execute(
            "INSERT INTO subscriptions (channel, topic, created_by, created_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT DO NOTHING",
            (channel, topic, created_by, self._clock.now()),
        )
        return count == 1

    async def remove(self, channel: str, topic: Topic) -> bool:
        """Unsubscribe a channel; False when it was not subscribed."""
        return (
            await self._db.execute(
                "DELETE FROM subscriptions WHERE channel = ? AND topic = ?", (channel, topic)
            )
            == 1
        )

    async def topics(self, channel: str) -> list[str]:
        """Return a channel's topics."""
        rows = await self._db.fetchall(
            "SELECT topic FROM subscriptions WHERE channel = ? ORDER BY topic", (channel,)
        )
        return [str(row[0]) for row in rows]

    async def creators(self, channel: str) -> list[str]:
        """Return who made the subscriptions of a channel."""
        rows = await self._db.fetchall(
            "SELECT DISTINCT created_by FROM subscriptions WHERE channel = ? ORDER BY created_by", (channel,)
        )
        return [str(row[0]) for row in rows]

    async def channels_for(self, topic: Topic) -> list[str]:
        """Return the channels subscribed to a topic (or to all)."""
        rows = await self._db.fetchall(
            "SELECT DISTINCT channel FROM subscriptions WHERE topic IN (?, ?) ORDER BY channel",
            (topic, Topic.ALL),
        )
        return [str(row[0]) for row in rows]
