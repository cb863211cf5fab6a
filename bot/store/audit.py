"""The audit log: who did what, where, to what, and how it ended."""

from __future__ import annotations

from dataclasses import dataclass

from bot.clock import Clock
from bot.domain import AuditAction, AuditOutcome
from bot.store.db import Database


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: float
    actor: str
    channel: str | None
    action: str
    target: str | None
    fingerprint: str | None
    outcome: str
    detail: str | None


class AuditRepo:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    async def record(
        self,
        *,
        actor: str,
        action: AuditAction,
        outcome: AuditOutcome,
        channel: str | None = None,
        target: str | None = None,
        fingerprint: str | None = None,
        detail: str | None = None,
    ) -> None:
        """Append one entry."""
        await self._db.execute(
            "INSERT INTO audit_log (at, actor, channel, action, target, fingerprint, outcome, detail)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (self._clock.now(), actor, channel, action, target, fingerprint, outcome, detail),
        )

    async def since(self, at: float) -> list[AuditEntry]:
        """Return entries from `at` on, oldest first."""
        rows = await self._db.fetchall("SELECT * FROM audit_log WHERE at >= ? ORDER BY at, id", (at,))
        return [AuditEntry(**dict(row)) for row in rows]
