"""Slack's rate budget, shared by every replica: token buckets and 429 holds in the database.

Slack counts an app's calls per method (or per channel, for posts) per workspace, whichever process makes
them. So the buckets live here: one conditional upsert spends a token, and a replica that finds none learns
how long to wait; a Retry-After one replica receives holds the key for all of them.
"""

from __future__ import annotations

from bot.clock import Clock
from bot.store.db import Database

# The bucket refilled up to `now` (never backwards when replicas' clocks differ a little), capped at burst.
_ELAPSED = "(CASE WHEN excluded.at > slack_budget.at THEN excluded.at - slack_budget.at ELSE 0 END)"
_REFILLED = f"(slack_budget.tokens + {_ELAPSED} * ?)"
_TAKE = (
    "INSERT INTO slack_budget (key, tokens, at) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET"
    f" tokens = (CASE WHEN {_REFILLED} > ? THEN ? ELSE {_REFILLED} END) - 1,"
    " at = (CASE WHEN excluded.at > slack_budget.at THEN excluded.at ELSE slack_budget.at END)"
    " WHERE (slack_budget.hold_until IS NULL OR slack_budget.hold_until <= excluded.at)"
    f" AND {_REFILLED} >= ? RETURNING tokens"
)


class RateBudgetRepo:
    """Token buckets in the database (Slack's tiers, Bland's request rate), shared by every replica."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    async def take(self, key: str, rate: float, burst: float, *, reserve: float = 0.0) -> float:
        """Spend one token of `key` (refilled at `rate` a second, up to `burst`); return 0, or the seconds
        until one is free or the hold ends (nothing spent then).

        `reserve` tokens are left for others: a request of lower priority spends only when the bucket holds
        more than one token plus its reserve, so requests that reserve less are served first."""
        now = self._clock.now()
        need = 1.0 + reserve
        params = (key, burst - 1.0, now, rate, burst, burst, rate, rate, need)
        if await self._db.fetch_written(_TAKE, params):
            return 0.0
        row = await self._db.fetchone("SELECT tokens, at, hold_until FROM slack_budget WHERE key = ?", (key,))
        if row is None:  # forgotten meanwhile: the next try starts a full bucket
            return 0.01
        held = float(row["hold_until"]) - now if row["hold_until"] is not None else 0.0
        tokens = min(burst, float(row["tokens"]) + max(now - float(row["at"]), 0.0) * rate)
        return max(held, (need - tokens) / rate, 0.01)

    async def hold(self, key: str, seconds: float) -> None:
        """The service said 429 for `key`: nothing is spent on it, by any replica, for `seconds`."""
        now = self._clock.now()
        await self._db.execute(
            "INSERT INTO slack_budget (key, tokens, at, hold_until) VALUES (?, 0, ?, ?) ON CONFLICT (key)"
            " DO UPDATE SET hold_until = CASE WHEN slack_budget.hold_until > excluded.hold_until"
            " THEN slack_budget.hold_until ELSE excluded.hold_until END",
            (key, now, now + seconds),
        )

    async def held_until(self, key: str) -> float | None:
        """When Slack's last hold on `key` ends (None when it never held it)."""
        row = await self._db.fetchone("SELECT hold_until FROM slack_budget WHERE key = ?", (key,))
        return float(row[0]) if row and row[0] is not None else None


# The name the outbox has always used.
SlackBudgetRepo = RateBudgetRepo
