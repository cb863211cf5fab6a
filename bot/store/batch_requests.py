"""Batch requests and their approval state machine (ARCHITECTURE.md, "State machines"): one conditional UPDATE per move."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from bot.clock import Clock
from bot.domain import RequestState, may_move
from bot.payloads import BatchPayload
from bot.store.db import Database, Row


@dataclass(frozen=True)
class BatchRequest:
    id: str
    payload: BatchPayload
    fingerprint: str
    requester: str
    channel: str
    card_channel: str | None
    card_ts: str | None
    approver: str | None
    state: RequestState
    batch_id: str | None
    reason: str | None
    expires_at: float
    created_at: float
    updated_at: float
    label: str | None = None
    call_count: int = 0
    note: str | None = None
    decided_at: float | None = None
    checks: int = 0
    card_stale: int = 0
    excluded: list[str] = field(default_factory=list)  # masked numbers left out: on the do-not-call list
    reminded_at: float | None = None
    warned_at: float | None = None
    outside_rows: int = 0  # rows outside calling hours when it was requested
    send_at: float | None = None  # approved, it goes out then (every callee inside calling hours)
    start_at: float | None = None  # the start time the requester chose
    parent_id: str | None = None  # a wave: the request it is part of
    wave: int | None = None  # a wave: its number, from 1
    waves: int = 0  # a parent: how many waves it was split into (0: sent whole)
    wave_plan: list[tuple[float, int]] = field(default_factory=list)  # when requested: when rows would go
    scrubbed_at: float | None = None  # retention took what was personal in it then
    batch_api: str | None = None  # the batch API it was sent with ("v1", "v2"), once it is being sent
    skipped: list[str] = field(default_factory=list)  # rows with problems the requester chose to leave out

    @property
    def card_of(self) -> str:
        """The id of the request whose approval card shows this one (a wave's is its parent's)."""
        return self.parent_id or self.id

    @classmethod
    def from_row(cls, row: Row | dict[str, Any]) -> BatchRequest:
        """Build a request from its row."""
        values = dict(row)
        values.pop("settings", None)
        values["payload"] = BatchPayload.from_json(values["payload"])
        values["excluded"] = json.loads(values.get("excluded") or "[]")
        values["skipped"] = json.loads(values.get("skipped") or "[]")
        values["wave_plan"] = [(float(at), int(n)) for at, n in json.loads(values.get("wave_plan") or "[]")]
        values["state"] = RequestState(values["state"])
        return cls(**values)


class BatchRequestRepo:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    async def create(
        self,
        request_id: str,
        *,
        payload: BatchPayload,
        fingerprint: str,
        requester: str,
        channel: str,
        expires_at: float,
        label: str | None = None,
        call_count: int = 0,
        note: str | None = None,
        card_channel: str | None = None,
        excluded: list[str] | None = None,
        outside_rows: int = 0,
        start_at: float | None = None,
        wave_plan: list[tuple[float, int]] | None = None,
        skipped: list[str] | None = None,
    ) -> BatchRequest:
        """Freeze a requested payload as a pending request."""
        now = self._clock.now()
        await self._db.execute(
            "INSERT INTO batch_requests (id, payload, fingerprint, requester, channel, expires_at, created_at,"
            " updated_at, label, call_count, note, card_channel, excluded, outside_rows, start_at, wave_plan,"
            " skipped) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                request_id,
                payload.to_json(),
                fingerprint,
                requester,
                channel,
                expires_at,
                now,
                now,
                label,
                call_count,
                note,
                card_channel,
                json.dumps(excluded or []),
                outside_rows,
                start_at,
                json.dumps(wave_plan or []),
                json.dumps(skipped or []),
            ),
        )
        request = await self.get(request_id)
        assert request is not None
        return request

    async def add_wave(
        self,
        parent: BatchRequest,
        wave: int,
        *,
        payload: BatchPayload,
        fingerprint: str,
        label: str,
        send_at: float | None,
    ) -> str:
        """Add one wave of an approved parent: approved with it, held until `send_at` (None: due now)."""
        wave_id = f"{parent.id}w{wave}"
        now = self._clock.now()
        await self._db.execute(
            "INSERT INTO batch_requests (id, payload, fingerprint, requester, channel, expires_at, created_at,"
            " updated_at, label, call_count, card_channel, state, approver, decided_at, send_at, start_at,"
            " parent_id, wave) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                wave_id,
                payload.to_json(),
                fingerprint,
                parent.requester,
                parent.channel,
                parent.expires_at,
                now,
                now,
                label,
                len(payload.rows),
                parent.card_channel,
                RequestState.APPROVED,
                parent.approver,
                parent.decided_at,
                send_at,
                parent.start_at,
                parent.id,
                wave,
            ),
        )
        return wave_id

    async def split(self, parent_id: str, waves: int) -> bool:
        """Record that a request sending now goes out as `waves` waves: SENDING to SENT, without a batch id
        of its own. False when it is not sending (another caller moved it)."""
        count = await self._db.execute(
            "UPDATE batch_requests SET state = ?, waves = ?, updated_at = ? WHERE id = ? AND state = ?",
            (RequestState.SENT, waves, self._clock.now(), parent_id, RequestState.SENDING),
        )
        return count == 1

    async def waves_of(self, parent_id: str) -> list[BatchRequest]:
        """Return a request's waves, first first."""
        rows = await self._db.fetchall(
            "SELECT * FROM batch_requests WHERE parent_id = ? ORDER BY wave", (parent_id,)
        )
        return [BatchRequest.from_row(row) for row in rows]

    async def get(self, request_id: str) -> BatchRequest | None:
        """Return a request by id."""
        row = await self._db.fetchone("SELECT * FROM batch_requests WHERE id = ?", (request_id,))
        return BatchRequest.from_row(row) if row else None

    async def move(
        self, request_id: str, from_state: RequestState, to_state: RequestState, /, **fields: Any
    ) -> BatchRequest | None:
        """Move a request from one state to another (one conditional UPDATE … RETURNING); the moved request
        for the caller that won the move, None for any other. Moves outside RequestState's table are refused."""
        if not may_move(from_state, to_state):
            raise ValueError(f"no transition {from_state} -> {to_state}")
        allowed = {"approver", "batch_id", "reason", "card_channel", "card_ts", "decided_at", "batch_api"}
        unknown = set(fields) - allowed
        if unknown:
            raise ValueError(f"unknown fields {sorted(unknown)}")
        assignments = "".join(f", {name} = ?" for name in fields)
        rows = await self._db.fetch_written(
            f"UPDATE batch_requests SET state = ?, updated_at = ?{assignments} WHERE id = ? AND state = ?"
            " RETURNING *",
            (to_state, self._clock.now(), *fields.values(), request_id, from_state),
        )
        return BatchRequest.from_row(rows[0]) if rows else None

    async def count_check(self, request_id: str) -> int:
        """Count one more reconciliation check (the next is due a while after it); returns the count."""
        await self._db.execute(
            "UPDATE batch_requests SET checks = checks + 1, updated_at = ? WHERE id = ?",
            (self._clock.now(), request_id),
        )
        row = await self._db.fetchone("SELECT checks FROM batch_requests WHERE id = ?", (request_id,))
        return int(row[0]) if row else 0

    async def in_state(self, state: RequestState, *, updated_before: float) -> list[BatchRequest]:
        """Return requests in a state that have not moved since `updated_before`."""
        rows = await self._db.fetchall(
            "SELECT * FROM batch_requests WHERE state = ? AND updated_at <= ? ORDER BY created_at",
            (state, updated_before),
        )
        return [BatchRequest.from_row(row) for row in rows]

    async def recent(self, limit: int = 10) -> list[BatchRequest]:
        """Return the newest requests (not their waves), each payload without its rows: lists and the Home tab
        show settings and counts, and a request's rows can be tens of thousands."""
        rows = await self._db.fetchall(
            "SELECT *, json_remove(payload, '$.call_data') AS settings FROM batch_requests"
            " WHERE parent_id IS NULL ORDER BY created_at DESC, id LIMIT ?",
            (limit,),
        )
        return [BatchRequest.from_row({**dict(row), "payload": row["settings"]}) for row in rows]

    async def by_batch_id(self, batch_id: str) -> BatchRequest | None:
        """Return the request that became this batch."""
        row = await self._db.fetchone("SELECT * FROM batch_requests WHERE batch_id = ?", (batch_id,))
        return BatchRequest.from_row(row) if row else None

    async def to_remind(self, *, created_before: float) -> list[BatchRequest]:
        """Return pending requests older than `created_before` whose approvers were not reminded yet."""
        rows = await self._db.fetchall(
            "SELECT * FROM batch_requests WHERE state = ? AND reminded_at IS NULL AND created_at <= ?"
            " ORDER BY created_at",
            (RequestState.PENDING, created_before),
        )
        return [BatchRequest.from_row(row) for row in rows]

    async def to_warn(self, *, expiring_before: float) -> list[BatchRequest]:
        """Return pending requests expiring before `expiring_before` whose requester was not warned yet."""
        rows = await self._db.fetchall(
            "SELECT * FROM batch_requests WHERE state = ? AND warned_at IS NULL AND expires_at <= ?"
            " ORDER BY expires_at",
            (RequestState.PENDING, expiring_before),
        )
        return [BatchRequest.from_row(row) for row in rows]

    async def hold_until(self, request_id: str, send_at: float | None) -> None:
        """Set (or clear) when an approved request goes out."""
        await self._db.execute(
            "UPDATE batch_requests SET send_at = ?, updated_at = ? WHERE id = ?",
            (send_at, self._clock.now(), request_id),
        )

    async def mark(self, request_id: str, column: str) -> bool:
        """Set `reminded_at` or `warned_at` once; False when it was already set (another tick did it)."""
        if column not in ("reminded_at", "warned_at"):
            raise ValueError(column)
        count = await self._db.execute(
            f"UPDATE batch_requests SET {column} = ? WHERE id = ? AND {column} IS NULL",
            (self._clock.now(), request_id),
        )
        return count == 1

    async def expired(self, now: float) -> list[BatchRequest]:
        """Return pending requests past their expiry."""
        rows = await self._db.fetchall(
            "SELECT * FROM batch_requests WHERE state = ? AND expires_at <= ?", (RequestState.PENDING, now)
        )
        return [BatchRequest.from_row(row) for row in rows]

    async def mentioning(self, fragment: str) -> list[BatchRequest]:
        """Return the requests whose payload contains `fragment` (a first pass; the caller matches)."""
        rows = await self._db.fetchall(
            "SELECT * FROM batch_requests WHERE instr(payload, ?) > 0 ORDER BY created_at", (fragment,)
        )
        return [BatchRequest.from_row(row) for row in rows]

    async def rewrite_payload(
        self, request_id: str, payload: BatchPayload, *, fingerprint: str, call_count: int
    ) -> None:
        """Replace a request's payload (erasure), with the fingerprint and count that go with it."""
        await self._db.execute(
            "UPDATE batch_requests SET payload = ?, fingerprint = ?, call_count = ?, updated_at = ? WHERE id = ?",
            (payload.to_json(), fingerprint, call_count, self._clock.now(), request_id),
        )
