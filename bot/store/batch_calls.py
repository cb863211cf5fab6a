"""A v2 batch's calls as the bot has read them, and what it learned about the Bland it talks to.

Bland's v2 batch API keeps no per-call results on the batch (ARCHITECTURE.md, "Batches on two APIs"): the
call list, filtered by batch, shows each call's state, and a call's own read has its summary, price and
variables. The rows here are what the live card counts and what the summary and result file are built from;
a call's detail is read once, after it ended, and kept, so a restart resumes where the reading stopped.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from bot.clock import Clock
from bot.store.db import Database

# Rows per statement when a page of the call list is recorded (6 parameters each, well under SQLite's limit).
_CHUNK = 200


@dataclass(frozen=True)
class BatchCallCounts:
    """How many of a batch's calls the bot has seen, seen end, and read in full."""

    listed: int
    ended: int
    read: int


class BatchCallRepo:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    async def record(self, batch_id: str, calls: Iterable[tuple[str, bool, dict[str, Any], bool]]) -> None:
        """Keep a page of the call list: (call id, ended, the light row, whether the light row is the whole
        result). A known call's row is replaced only when it changed; what was read of it in full stays."""
        rows = [
            (batch_id, call_id, int(ended), json.dumps(light, sort_keys=True), whole)
            for call_id, ended, light, whole in calls
        ]
        now = self._clock.now()
        async with self._db.transaction():
            for start in range(0, len(rows), _CHUNK):
                chunk = rows[start : start + _CHUNK]
                values = ", ".join("(?, ?, ?, ?, ?, ?)" for _ in chunk)
                params = [
                    value
                    for batch, call_id, ended, light, whole in chunk
                    for value in (batch, call_id, ended, light, light if whole else None, now)
                ]
                await self._db.execute(
                    f"INSERT INTO batch_calls (batch_id, call_id, ended, light, detail, at) VALUES {values}"
                    " ON CONFLICT (batch_id, call_id) DO UPDATE SET ended = excluded.ended,"
                    " light = excluded.light, detail = COALESCE(batch_calls.detail, excluded.detail),"
                    " at = excluded.at WHERE batch_calls.light <> excluded.light",
                    params,
                )

    async def claim_unread(self, batch_id: str, limit: int, *, seconds: float) -> list[str]:
        """Claim up to `limit` calls that ended and were not read yet, for `seconds`: across replicas (a poll
        that outlasts its lease is taken over), each call is read by one at a time."""
        now = self._clock.now()
        rows = await self._db.fetch_written(
            "UPDATE batch_calls SET claimed_until = ? WHERE batch_id = ? AND call_id IN (SELECT call_id FROM"
            " batch_calls WHERE batch_id = ? AND ended = 1 AND detail IS NULL AND (claimed_until IS NULL OR"
            f" claimed_until <= ?) ORDER BY call_id LIMIT ?{self._db.SKIP_LOCKED})"
            " AND (claimed_until IS NULL OR claimed_until <= ?) RETURNING call_id",
            (now + seconds, batch_id, batch_id, now, limit, now),
        )
        return sorted(str(row[0]) for row in rows)

    async def release(self, batch_id: str, call_ids: list[str]) -> None:
        """Give back claims whose reads failed: the next poll tries them again."""
        for call_id in call_ids:
            await self._db.execute(
                "UPDATE batch_calls SET claimed_until = NULL WHERE batch_id = ? AND call_id = ?",
                (batch_id, call_id),
            )

    async def keep_detail(self, batch_id: str, call_id: str, detail: dict[str, Any]) -> None:
        """Keep what a call's own read (or its webhook) said once it ended."""
        await self._db.execute(
            "UPDATE batch_calls SET detail = ?, ended = 1 WHERE batch_id = ? AND call_id = ?",
            (json.dumps(detail, sort_keys=True), batch_id, call_id),
        )

    async def counts(self, batch_id: str) -> BatchCallCounts:
        row = await self._db.fetchone(
            "SELECT COUNT(*), COALESCE(SUM(ended), 0), COALESCE(SUM(CASE WHEN detail IS NULL THEN 0 ELSE 1 END), 0)"
            " FROM batch_calls WHERE batch_id = ?",
            (batch_id,),
        )
        return BatchCallCounts(int(row[0]), int(row[1]), int(row[2])) if row else BatchCallCounts(0, 0, 0)

    async def page(self, batch_id: str, after: str, limit: int) -> list[dict[str, Any]]:
        """Up to `limit` calls after call id `after`, each its detail (or its light row when never read)."""
        rows = await self._db.fetchall(
            "SELECT call_id, light, detail FROM batch_calls WHERE batch_id = ? AND call_id > ?"
            " ORDER BY call_id LIMIT ?",
            (batch_id, after, limit),
        )
        return [json.loads(row[2] if row[2] is not None else row[1]) for row in rows]

    async def forget(self, batch_id: str) -> None:
        """Drop a finished batch's rows (its summary and file are already queued)."""
        await self._db.execute("DELETE FROM batch_calls WHERE batch_id = ?", (batch_id,))


class BlandFactsRepo:
    """What the bot learned about Bland by asking (which batch API it speaks), remembered across restarts."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    async def get(self, key: str) -> tuple[str, str, float] | None:
        """The fact's value, why the bot believes it, and when it learned it."""
        row = await self._db.fetchone("SELECT value, why, at FROM bland_facts WHERE key = ?", (key,))
        return (str(row[0]), str(row[1]), float(row[2])) if row else None

    async def set(self, key: str, value: str, why: str) -> None:
        await self._db.execute(
            "INSERT INTO bland_facts (key, value, why, at) VALUES (?, ?, ?, ?) ON CONFLICT (key)"
            " DO UPDATE SET value = excluded.value, why = excluded.why, at = excluded.at",
            (key, value, why, self._clock.now()),
        )

    async def forget(self, key: str) -> None:
        await self._db.execute("DELETE FROM bland_facts WHERE key = ?", (key,))
