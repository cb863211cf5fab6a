"""Retention: what finished rows keep after RETENTION_DAYS, and which rows go altogether.

A scrubbed row keeps what the audit needs (ids, counts, states, fingerprints, who decided and when) and
loses what is personal (numbers, prompts, transcripts, variables, CSV cells). Ledgers (notifications,
webhook replays, delivered Slack messages, chore claims) only need to outlive a duplicate, so they are
deleted after days.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from bot.clock import Clock
from bot.domain import BackfillState, CallRequestState, Kind, RequestState, TrackedState
from bot.store.db import Database
from bot.store.tracked import TrackedRepo

# What a scrubbed tracked item's data keeps: how it relates to requests, its label and its counts.
KEPT_DATA = ("label", "request_id", "wave", "approver", "requester", "tracked_by", "test_mode", "progress")
FINAL_REQUESTS = (
    RequestState.SENT,
    RequestState.SEND_FAILED,
    RequestState.REJECTED,
    RequestState.CANCELLED,
    RequestState.EXPIRED,
)
FINAL_CALL_REQUESTS = (CallRequestState.SENT, CallRequestState.FAILED, CallRequestState.NOT_PLACED)
SCRUB_CHUNK = 500


def kept_data(data: dict[str, Any]) -> dict[str, Any]:
    """What a tracked item's data keeps once what is personal is taken out (retention, erasure)."""
    return {key: data[key] for key in KEPT_DATA if key in data}


def _marks(values: tuple[Any, ...]) -> str:
    return ", ".join("?" for _ in values)


@dataclass
class Swept:
    """What one retention run did, table by table (counts only)."""

    scrubbed: dict[str, int] = field(default_factory=dict)
    deleted: dict[str, int] = field(default_factory=dict)

    def add(self, kind: str, table: str, count: int) -> None:
        if count:
            target = self.scrubbed if kind == "scrubbed" else self.deleted
            target[table] = target.get(table, 0) + count

    def describe(self) -> str:
        parts = [f"scrubbed {n} {t}" for t, n in sorted(self.scrubbed.items())]
        parts += [f"deleted {n} {t}" for t, n in sorted(self.deleted.items())]
        return ", ".join(parts) or "nothing to do"


class RetentionRepo:
    def __init__(self, db: Database, clock: Clock, tracked: TrackedRepo) -> None:
        self._db = db
        self._clock = clock
        self._tracked = tracked

    async def scrub(self, before: float, swept: Swept) -> None:
        """Take what is personal out of finished rows last changed before `before`."""
        now = self._clock.now()
        await self._scrub_tracked(before, swept)
        requests = tuple(str(s) for s in FINAL_REQUESTS)
        calls = tuple(str(s) for s in FINAL_CALL_REQUESTS)
        for table, cleared, finals in (
            ("batch_requests", "payload = '{}', excluded = '[]', note = NULL, wave_plan = '[]'", requests),
            ("call_requests", "to_number = '', data = '{}'", calls),
        ):
            count = await self._db.execute(
                f"UPDATE {table} SET {cleared}, scrubbed_at = ?"
                f" WHERE scrubbed_at IS NULL AND updated_at < ? AND state IN ({_marks(finals)})",
                (now, before, *finals),
            )
            swept.add("scrubbed", table, count)

    async def _scrub_tracked(self, before: float, swept: Swept) -> None:
        while True:
            rows = await self._db.fetchall(
                "SELECT id, data FROM tracked WHERE scrubbed_at IS NULL AND updated_at < ? AND state != ?"
                " LIMIT ?",
                (before, TrackedState.ACTIVE, SCRUB_CHUNK),
            )
            if not rows:
                return
            async with self._db.transaction():
                for row in rows:
                    kept = kept_data(json.loads(row["data"] or "{}"))
                    await self._tracked.replace_data(int(row["id"]), kept)
            swept.add("scrubbed", "tracked", len(rows))

    async def delete_finished(self, before: float, swept: Swept) -> None:
        """Delete finished rows last changed before `before` (past the audit's retention: nothing needs them)."""
        states = tuple(str(s) for s in FINAL_REQUESTS)
        finals = tuple(str(s) for s in FINAL_CALL_REQUESTS)
        for table, sql, params in (
            (
                "tracked",
                "DELETE FROM tracked WHERE updated_at < ? AND state != ?",
                (before, TrackedState.ACTIVE),
            ),
            (
                "batch_requests",
                f"DELETE FROM batch_requests WHERE updated_at < ? AND state IN ({_marks(states)})",
                (before, *states),
            ),
            (
                "call_requests",
                f"DELETE FROM call_requests WHERE updated_at < ? AND state IN ({_marks(finals)})",
                (before, *finals),
            ),
            (
                "backfills",
                "DELETE FROM backfills WHERE updated_at < ? AND state = ?",
                (before, BackfillState.SUBMITTED),
            ),
        ):
            swept.add("deleted", table, await self._db.execute(sql, params))

    async def delete_ledgers(self, *, ledger_before: float, card_before: float, swept: Swept) -> None:
        """Delete ledger rows no duplicate can need any more. A card's row (its ts, for later updates) stays
        as long as the rows it shows."""
        for table, sql, params in (
            ("webhook_events", "DELETE FROM webhook_events WHERE received_at < ?", (ledger_before,)),
            ("outbox", "DELETE FROM outbox WHERE state != 'pending' AND created_at < ?", (ledger_before,)),
            (
                "notifications",
                "DELETE FROM notifications WHERE created_at < ? AND event_key NOT LIKE '%:card'",
                (ledger_before,),
            ),
            (
                "notifications",
                "DELETE FROM notifications WHERE created_at < ? AND event_key LIKE '%:card'",
                (card_before,),
            ),
            ("chore_runs", "DELETE FROM chore_runs WHERE at < ?", (ledger_before,)),
            # A finished v2 batch's calls: its summary and result file are queued, nothing reads them again.
            (
                "batch_calls",
                "DELETE FROM batch_calls WHERE batch_id NOT IN"
                " (SELECT external_id FROM tracked WHERE kind = ? AND state = ?)",
                (Kind.BATCH, TrackedState.ACTIVE),
            ),
            (
                "bland_facts",
                "DELETE FROM bland_facts WHERE key LIKE 'batch-status:%' AND at < ?",
                (ledger_before,),
            ),
            ("home_views", "DELETE FROM home_views WHERE opened_at < ?", (ledger_before,)),
            # An idle bucket is full again: its row says nothing a new one would not.
            (
                "slack_budget",
                "DELETE FROM slack_budget WHERE at < ? AND (hold_until IS NULL OR hold_until < ?)",
                (ledger_before, ledger_before),
            ),
            (
                "backfills",
                "DELETE FROM backfills WHERE state = ? AND created_at < ?",
                (BackfillState.DRAFT, ledger_before),
            ),
        ):
            swept.add("deleted", table, await self._db.execute(sql, params))

    async def delete_audit(self, before: float, swept: Swept) -> None:
        """Delete audit entries older than `before`."""
        swept.add(
            "deleted", "audit_log", await self._db.execute("DELETE FROM audit_log WHERE at < ?", (before,))
        )
