"""The dedupe ledger: one event gives at most one message per channel, across restarts and crashes.

An entry is claimed before its message is sent and records the message's ts once Slack answers. A claim
without a ts belongs to a send in progress, or to one cut off by a crash: `claim` tells them apart by
who made it (each process has its own owner id) and how long ago, so a cut-off send is reconciled, not
lost and not repeated blindly.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot.clock import Clock
from bot.store.db import Database

# A send of this process that holds its claim longer than this is taken as stuck (Slack's retries of a
# 429 wait at most a few Retry-After periods).
CLAIM_LEASE_SECONDS = 300.0


class ClaimState(StrEnum):
    NEW = "new"  # nobody sent it: send it now
    DONE = "done"  # sent, ts known
    BUSY = "busy"  # a send of this process is under way
    IN_DOUBT = "in_doubt"  # claimed, never confirmed, by a process that is gone (or stuck): reconcile first


@dataclass(frozen=True)
class Claim:
    state: ClaimState
    ts: str | None = None
    claimed_at: float | None = None
    claimed_by: str | None = None


class NotificationRepo:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    async def claim(self, event_key: str, channel: str, owner: str = "") -> Claim:
        """Reserve an event for a channel, or say why not (already sent, under way, or in doubt)."""
        now = self._clock.now()
        count = await self._db.execute(
            "INSERT INTO notifications (event_key, channel, created_at, claimed_by) VALUES (?, ?, ?, ?)"
            " ON CONFLICT DO NOTHING",
            (event_key, channel, now, owner),
        )
        if count == 1:
            return Claim(ClaimState.NEW, claimed_at=now)
        row = await self._db.fetchone(
            "SELECT ts, created_at, claimed_by FROM notifications WHERE event_key = ? AND channel = ?",
            (event_key, channel),
        )
        if row is None:  # released meanwhile: try again
            return await self.claim(event_key, channel, owner)
        if row["ts"]:
            return Claim(ClaimState.DONE, ts=str(row["ts"]))
        claimed_at = float(row["created_at"])
        if row["claimed_by"] == owner and now - claimed_at < CLAIM_LEASE_SECONDS:
            return Claim(ClaimState.BUSY, claimed_at=claimed_at)
        return Claim(ClaimState.IN_DOUBT, claimed_at=claimed_at, claimed_by=row["claimed_by"])

    async def take_over(self, event_key: str, channel: str, owner: str, doubt: Claim) -> bool:
        """Take an in-doubt claim over (one conditional update on who held it and since when: one winner)."""
        count = await self._db.execute(
            "UPDATE notifications SET claimed_by = ?, created_at = ? WHERE event_key = ? AND channel = ?"
            " AND ts IS NULL AND created_at = ?"
            " AND (claimed_by = ? OR (claimed_by IS NULL AND CAST(? AS TEXT) IS NULL))",
            (
                owner,
                self._clock.now(),
                event_key,
                channel,
                doubt.claimed_at,
                doubt.claimed_by,
                doubt.claimed_by,
            ),
        )
        return count == 1

    async def release(self, event_key: str, channel: str) -> None:
        """Give a claim back after a failed post, so a later attempt may post."""
        await self._db.execute(
            "DELETE FROM notifications WHERE event_key = ? AND channel = ? AND ts IS NULL",
            (event_key, channel),
        )

    async def abandon(self, event_key: str, channel: str) -> None:
        """Leave a claim in doubt after a send that may have reached Slack (a timeout, a 5xx, a cancellation).

        Nobody holds it any more, so the next attempt looks for the message before sending it again.
        """
        await self._db.execute(
            "UPDATE notifications SET claimed_by = NULL WHERE event_key = ? AND channel = ? AND ts IS NULL",
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
