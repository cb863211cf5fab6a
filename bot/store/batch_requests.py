"""Batch requests and their approval state machine (design.md §4): one conditional UPDATE per move."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiosqlite

from bot.clock import Clock

if TYPE_CHECKING:
    from bot.store.db import Database

TRANSITIONS: dict[str, frozenset[str]] = {
    "pending": frozenset({"approved", "rejected", "cancelled", "expired"}),
    "approved": frozenset({"sending"}),
    "sending": frozenset({"sent", "send_failed", "outcome_unknown"}),
    "outcome_unknown": frozenset({"sent", "send_failed"}),
}


@dataclass(frozen=True)
class BatchRequest:
    id: str
    payload: dict[str, Any]
    fingerprint: str
    requester: str
    channel: str
    card_channel: str | None
    card_ts: str | None
    approver: str | None
    state: str
    batch_id: str | None
    reason: str | None
    expires_at: float
    created_at: float
    updated_at: float

    @classmethod
    def from_row(cls, row: aiosqlite.Row) -> BatchRequest:
        """Build a request from its row."""
        values = dict(row)
        values["payload"] = json.loads(values["payload"])
        return cls(**values)


class BatchRequestRepo:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    async def create(
        self,
        request_id: str,
        *,
        payload: dict[str, Any],
        fingerprint: str,
        requester: str,
        channel: str,
        expires_at: float,
    ) -> BatchRequest:
        """Freeze a requested payload as a pending request."""
        now = self._clock.now()
        await self._db.insert(
            "INSERT INTO batch_requests (id, payload, fingerprint, requester, channel, expires_at, created_at,"
            " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                request_id,
                json.dumps(payload, sort_keys=True),
                fingerprint,
                requester,
                channel,
                expires_at,
                now,
                now,
            ),
        )
        request = await self.get(request_id)
        assert request is not None
        return request

    async def get(self, request_id: str) -> BatchRequest | None:
        """Return a request by id."""
        row = await self._db.fetchone("SELECT * FROM batch_requests WHERE id = ?", (request_id,))
        return BatchRequest.from_row(row) if row else None

    async def transition(self, request_id: str, from_state: str, to_state: str, **fields: Any) -> bool:
        """Move a request from one state to another; True only for the caller that won the move."""
        if to_state not in TRANSITIONS.get(from_state, frozenset()):
            raise ValueError(f"no transition {from_state} -> {to_state}")
        allowed = {"approver", "batch_id", "reason", "card_channel", "card_ts"}
        unknown = set(fields) - allowed
        if unknown:
            raise ValueError(f"unknown fields {sorted(unknown)}")
        assignments = "".join(f", {name} = ?" for name in fields)
        count = await self._db.execute(
            f"UPDATE batch_requests SET state = ?, updated_at = ?{assignments} WHERE id = ? AND state = ?",
            (to_state, self._clock.now(), *fields.values(), request_id, from_state),
        )
        return count == 1

    async def set_card(self, request_id: str, channel: str, ts: str) -> None:
        """Remember where the approval card is."""
        await self._db.execute(
            "UPDATE batch_requests SET card_channel = ?, card_ts = ? WHERE id = ?", (channel, ts, request_id)
        )

    async def expired(self, now: float) -> list[BatchRequest]:
        """Return pending requests past their expiry."""
        rows = await self._db.fetchall(
            "SELECT * FROM batch_requests WHERE state = 'pending' AND expires_at <= ?", (now,)
        )
        return [BatchRequest.from_row(row) for row in rows]
