"""Small ledgers: Bland webhooks already seen, and users whose Home tab is open."""

from __future__ import annotations

from bot.clock import Clock
from bot.store.db import Database

HOME_FRESH_SECONDS = 7 * 24 * 3600.0
HOME_REFRESH_LIMIT = 50


class WebhookRepo:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    async def first_time(self, digest: str, call_id: str | None) -> bool:
        """Record a webhook body's digest; False when the same body was handled before (a replay)."""
        count = await self._db.execute(
            "INSERT INTO webhook_events (digest, call_id, received_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            (digest, call_id, self._clock.now()),
        )
        return count == 1


class HomeRepo:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    async def opened(self, user: str) -> None:
        """Remember that a user looked at the Home tab."""
        await self._db.execute(
            'INSERT INTO home_views ("user", opened_at) VALUES (?, ?)'
            ' ON CONFLICT ("user") DO UPDATE SET opened_at = excluded.opened_at',
            (user, self._clock.now()),
        )

    async def recent_users(self) -> list[str]:
        """Return users who opened the Home tab lately, most recent first."""
        rows = await self._db.fetchall(
            'SELECT "user" FROM home_views WHERE opened_at >= ? ORDER BY opened_at DESC LIMIT ?',
            (self._clock.now() - HOME_FRESH_SECONDS, HOME_REFRESH_LIMIT),
        )
        return [str(row[0]) for row in rows]


class ChoreRepo:
    """Periodic work done once: claimed by name (e.g. `digest:2026-11-27`)."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    async def claim(self, name: str) -> bool:
        """True for the first caller only."""
        count = await self._db.execute(
            "INSERT INTO chore_runs (name, at) VALUES (?, ?) ON CONFLICT DO NOTHING",
            (name, self._clock.now()),
        )
        return count == 1

    async def take_turn(self, name: str, owner: str, interval: float) -> bool:
        """Whether `owner` may do the work `name` now: it holds the turn (and keeps it `interval` longer),
        or the holder let it lapse. Across replicas one leads each chore; when it dies, another takes over
        once its turn lapses."""
        now = self._clock.now()
        count = await self._db.execute(
            "INSERT INTO chore_turns (name, owner, until) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE"
            " SET owner = excluded.owner, until = excluded.until"
            " WHERE chore_turns.until <= ? OR chore_turns.owner = excluded.owner",
            (name, owner, now + interval, now),
        )
        return count == 1
