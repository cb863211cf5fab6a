"""Citation schemas the bot knows, and backfills: the confirmed plan and the workflows it became."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from bot.clock import Clock
from bot.domain import BackfillState
from bot.store.db import Database, Row


@dataclass(frozen=True)
class KnownSchema:
    id: str
    name: str | None
    description: str | None
    created_by: str | None
    created_at: float
    last_used_at: float | None


class SchemaRepo:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    async def remember(
        self,
        schema_id: str,
        *,
        name: str | None,
        description: str | None,
        user: str | None,
        used: bool = False,
    ) -> None:
        """Record a schema this bot created (or used); names are refreshed when known."""
        now = self._clock.now()
        await self._db.execute(
            "INSERT INTO citation_schemas (id, name, description, created_by, created_at, last_used_at)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET"
            " name = COALESCE(excluded.name, citation_schemas.name),"
            " description = COALESCE(excluded.description, citation_schemas.description),"
            " last_used_at = COALESCE(excluded.last_used_at, citation_schemas.last_used_at)",
            (schema_id, name, description, user, now, now if used else None),
        )

    async def all(self) -> list[KnownSchema]:
        """Return every known schema, most recently created or used first."""
        rows = await self._db.fetchall(
            "SELECT * FROM citation_schemas ORDER BY COALESCE(last_used_at, created_at) DESC, id"
        )
        return [KnownSchema(**dict(row)) for row in rows]


@dataclass(frozen=True)
class Backfill:
    id: str
    requester: str
    channel: str
    plan: dict[str, Any]
    state: str
    card_ts: str | None
    created_at: float
    updated_at: float
    workflows: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_row(cls, row: Row) -> Backfill:
        """Build a backfill from its row."""
        values = dict(row)
        values["plan"] = json.loads(values["plan"])
        values["workflows"] = json.loads(values["workflows"] or "{}")
        return cls(**values)


class BackfillRepo:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    async def create_draft(
        self, backfill_id: str, *, requester: str, channel: str, plan: dict[str, Any]
    ) -> None:
        """Keep a validated plan until the person confirms it."""
        now = self._clock.now()
        await self._db.execute(
            "INSERT INTO backfills (id, requester, channel, plan, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
            (backfill_id, requester, channel, json.dumps(plan), now, now),
        )

    async def get(self, backfill_id: str) -> Backfill | None:
        """Return a backfill by id."""
        row = await self._db.fetchone("SELECT * FROM backfills WHERE id = ?", (backfill_id,))
        return Backfill.from_row(row) if row else None

    async def claim(self, backfill_id: str) -> bool:
        """Move a draft to submitted; True only for the one caller that may send it."""
        count = await self._db.execute(
            "UPDATE backfills SET state = ?, updated_at = ? WHERE id = ? AND state = ?",
            (BackfillState.SUBMITTED, self._clock.now(), backfill_id, BackfillState.DRAFT),
        )
        return count == 1

    async def set_workflow(self, backfill_id: str, workflow: str, status: str) -> dict[str, str]:
        """Record one workflow's status (atomically) and return them all."""
        async with self._db.transaction():
            return await self._set_workflow(backfill_id, workflow, status)

    async def _set_workflow(self, backfill_id: str, workflow: str, status: str) -> dict[str, str]:
        row = await self._db.fetchone("SELECT workflows FROM backfills WHERE id = ?", (backfill_id,))
        workflows: dict[str, str] = json.loads(row[0]) if row else {}
        workflows[workflow] = status
        await self._db.execute(
            "UPDATE backfills SET workflows = ?, updated_at = ? WHERE id = ?",
            (json.dumps(workflows), self._clock.now(), backfill_id),
        )
        return workflows

    async def recent(self, limit: int = 10) -> list[Backfill]:
        """Return the newest submitted backfills."""
        rows = await self._db.fetchall(
            "SELECT * FROM backfills WHERE state != ? ORDER BY created_at DESC LIMIT ?",
            (BackfillState.DRAFT, limit),
        )
        return [Backfill.from_row(row) for row in rows]
