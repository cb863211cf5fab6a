"""Calls being placed: the intent is written before Bland is asked, so a crash cannot lose the answer."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from bot.clock import Clock
from bot.domain import CALL_REQUEST_TRANSITIONS, CallRequestState, check_move
from bot.store.db import Database, Row


@dataclass(frozen=True)
class CallRequest:
    id: str
    requester: str
    channel: str
    to_number: str
    state: CallRequestState
    call_id: str | None
    checks: int
    created_at: float
    updated_at: float
    data: dict[str, Any] = field(default_factory=dict)
    send_at: float | None = None
    scrubbed_at: float | None = None  # retention took what was personal in it then

    @classmethod
    def from_row(cls, row: Row) -> CallRequest:
        values = dict(row)
        values["data"] = json.loads(values["data"] or "{}")
        values["state"] = CallRequestState(values["state"])
        return cls(**values)


class CallRequestRepo:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    async def create(
        self,
        request_id: str,
        *,
        requester: str,
        channel: str,
        to_number: str,
        data: dict[str, Any],
        state: CallRequestState = CallRequestState.SENDING,
        send_at: float | None = None,
    ) -> bool:
        """Record that a call is about to be placed (or is scheduled); False when this request id exists."""
        now = self._clock.now()
        count = await self._db.execute(
            "INSERT INTO call_requests"
            " (id, requester, channel, to_number, data, state, send_at, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (request_id, requester, channel, to_number, json.dumps(data), state, send_at, now, now),
        )
        return count == 1

    async def due(self, now: float) -> list[CallRequest]:
        """Return scheduled calls whose time has come."""
        rows = await self._db.fetchall(
            "SELECT * FROM call_requests WHERE state = ? AND send_at <= ? ORDER BY send_at",
            (CallRequestState.SCHEDULED, now),
        )
        return [CallRequest.from_row(row) for row in rows]

    async def by_call_id(self, call_id: str) -> CallRequest | None:
        """Return the request that placed a call."""
        row = await self._db.fetchone("SELECT * FROM call_requests WHERE call_id = ?", (call_id,))
        return CallRequest.from_row(row) if row else None

    async def get(self, request_id: str) -> CallRequest | None:
        """Return one request."""
        row = await self._db.fetchone("SELECT * FROM call_requests WHERE id = ?", (request_id,))
        return CallRequest.from_row(row) if row else None

    async def move(
        self,
        request_id: str,
        from_state: CallRequestState | tuple[CallRequestState, ...],
        to_state: CallRequestState,
        /,
        call_id: str | None = None,
    ) -> CallRequest | None:
        """Move a request on (one conditional UPDATE … RETURNING): the moved request for the caller that won
        the move, None for any other. Moves outside CallRequestState's table are refused."""
        from_states = from_state if isinstance(from_state, tuple) else (from_state,)
        for state in from_states:
            check_move(CALL_REQUEST_TRANSITIONS, state, to_state)
        marks = ", ".join("?" for _ in from_states)
        rows = await self._db.fetch_written(
            f"UPDATE call_requests SET state = ?, call_id = COALESCE(?, call_id), updated_at = ?"
            f" WHERE id = ? AND state IN ({marks}) RETURNING *",
            (to_state, call_id, self._clock.now(), request_id, *from_states),
        )
        return CallRequest.from_row(rows[0]) if rows else None

    async def count_check(self, request_id: str) -> int:
        """Count one more reconciliation attempt; returns how many there were."""
        await self._db.execute(
            "UPDATE call_requests SET checks = checks + 1, updated_at = ? WHERE id = ?",
            (self._clock.now(), request_id),
        )
        row = await self._db.fetchone("SELECT checks FROM call_requests WHERE id = ?", (request_id,))
        return int(row[0]) if row else 0

    async def unsettled(self, *, updated_before: float) -> list[CallRequest]:
        """Return requests still sending, or of unknown outcome, not touched since `updated_before`."""
        rows = await self._db.fetchall(
            "SELECT * FROM call_requests WHERE state IN (?, ?) AND updated_at <= ? ORDER BY created_at LIMIT 100",
            (CallRequestState.SENDING, CallRequestState.OUTCOME_UNKNOWN, updated_before),
        )
        return [CallRequest.from_row(row) for row in rows]

    async def to_number(self, number: str) -> list[CallRequest]:
        """Return every request to a number."""
        rows = await self._db.fetchall("SELECT * FROM call_requests WHERE to_number = ?", (number,))
        return [CallRequest.from_row(row) for row in rows]

    async def erase(self, request_id: str) -> None:
        """Forget a request's number and settings (its id, state and times stay)."""
        await self._db.execute(
            "UPDATE call_requests SET to_number = '', data = '{}', scrubbed_at = ? WHERE id = ?",
            (self._clock.now(), request_id),
        )
