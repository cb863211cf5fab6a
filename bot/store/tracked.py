"""Tracked calls, batches and backfills: the poller's schedule lives in this table."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from bot.clock import Clock
from bot.domain import TRACKED_TRANSITIONS, Kind, TrackedState, card_key, check_move
from bot.store.db import Database, Row

# The dedupe-ledger key of an item's card, in Python and in SQL: "<kind>:<external id>:card".
CARD_EVENT_SQL = "tracked.kind || ':' || tracked.external_id || ':card'"


def card_event_key(kind: Kind, external_id: str) -> str:
    """Return the ledger key under which an item's card is posted."""
    return card_key(kind, external_id)


@dataclass(frozen=True)
class TrackedItem:
    id: int
    kind: Kind
    external_id: str
    channel: str
    thread_ts: str | None
    card_ts: str | None
    state: TrackedState
    last_status: str | None
    next_poll_at: float
    attempts: int
    failures: int
    last_error: str | None
    card_updated_at: float | None
    created_by: str | None
    created_at: float
    updated_at: float
    data: dict[str, Any] = field(default_factory=dict)
    scrubbed_at: float | None = None  # retention took what was personal in it then
    lease_owner: str | None = None  # the replica polling it now
    lease_until: float | None = None  # until when, unless that replica gives it back sooner

    @classmethod
    def from_row(cls, row: Row) -> TrackedItem:
        """Build an item from a `tracked` row."""
        values = dict(row)
        values["data"] = json.loads(values["data"] or "{}")
        values["kind"] = Kind(values["kind"])
        values["state"] = TrackedState(values["state"])
        return cls(**values)


@dataclass(frozen=True)
class Glimpse:
    """What a sweep needs of a live item: no data, nothing parsed (the item is read whole if acted on)."""

    id: int
    external_id: str
    last_status: str | None
    created_at: float


class TrackedRepo:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    async def add(
        self,
        kind: Kind,
        external_id: str,
        channel: str,
        *,
        created_by: str | None,
        data: dict[str, Any] | None = None,
        thread_ts: str | None = None,
        last_status: str | None = None,
    ) -> TrackedItem | None:
        """Start tracking (due at once); returns None when this id is already tracked in this channel.

        With `conn` it joins that transaction, so the item and its card (queued in the outbox) commit together.
        What a poll finds before the card is posted waits in the outbox for it.
        """
        now = self._clock.now()
        count = await self._db.execute(
            "INSERT INTO tracked (kind, external_id, channel, thread_ts, data, next_poll_at,"
            " last_status, created_by, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT DO NOTHING",
            (
                kind,
                external_id,
                channel,
                thread_ts,
                json.dumps(data or {}),
                now,
                last_status,
                created_by,
                now,
                now,
            ),
        )
        if count == 0:
            return None
        return await self.find(kind, external_id, channel)

    async def get(self, item_id: int) -> TrackedItem | None:
        """Return one item by row id."""
        row = await self._db.fetchone("SELECT * FROM tracked WHERE id = ?", (item_id,))
        return TrackedItem.from_row(row) if row else None

    async def find(self, kind: Kind, external_id: str, channel: str | None = None) -> TrackedItem | None:
        """Return the item for an external id (in a channel, when given; else the oldest)."""
        if channel is None:
            row = await self._db.fetchone(
                "SELECT * FROM tracked WHERE kind = ? AND external_id = ? ORDER BY id LIMIT 1",
                (kind, external_id),
            )
        else:
            row = await self._db.fetchone(
                "SELECT * FROM tracked WHERE kind = ? AND external_id = ? AND channel = ?",
                (kind, external_id, channel),
            )
        return TrackedItem.from_row(row) if row else None

    async def active(self, kind: Kind, external_id: str) -> list[TrackedItem]:
        """Return the active items of one Bland id (one per channel following it)."""
        rows = await self._db.fetchall(
            "SELECT * FROM tracked WHERE kind = ? AND external_id = ? AND state = ?",
            (kind, external_id, TrackedState.ACTIVE),
        )
        return [TrackedItem.from_row(row) for row in rows]

    async def glimpse_active(self, kind: Kind) -> list[Glimpse]:
        """Return the id, Bland id, last status and age of every active item of a kind (for a sweep)."""
        rows = await self._db.fetchall(
            "SELECT id, external_id, last_status, created_at FROM tracked WHERE kind = ? AND state = ?",
            (kind, TrackedState.ACTIVE),
        )
        return [Glimpse(int(r[0]), str(r[1]), r[2], float(r[3])) for r in rows]

    async def schedule(
        self, item_ids: list[int], *, at: float, later_only: bool = False, sooner_only: bool = False
    ) -> None:
        """Set when items are polled next (with `later_only`, only push polls later, never sooner; with
        `sooner_only`, only bring them forward)."""
        if not item_ids:
            return
        marks = ", ".join("?" for _ in item_ids)
        when = (
            "CASE WHEN next_poll_at > ? THEN next_poll_at ELSE ? END"
            if later_only
            else "CASE WHEN next_poll_at < ? THEN next_poll_at ELSE ? END"
            if sooner_only
            else "?"
        )
        await self._db.execute(
            f"UPDATE tracked SET next_poll_at = {when} WHERE id IN ({marks}) AND state = ?",
            (*([at, at] if later_only or sooner_only else [at]), *item_ids, TrackedState.ACTIVE),
        )

    async def note_status(self, item_id: int, *, seen: str | None, status: str, next_poll_at: float) -> bool:
        """Record a state the list showed for an item nobody is polling now (its last status still `seen`,
        its lease free): True when recorded, so that its card may show it without a read of its own."""
        now = self._clock.now()
        was = "last_status IS NULL" if seen is None else "last_status = ?"
        count = await self._db.execute(
            "UPDATE tracked SET last_status = ?, next_poll_at = ?, updated_at = ?, card_updated_at = ?"
            f" WHERE id = ? AND state = ? AND {was} AND (lease_until IS NULL OR lease_until < ?)",
            (
                status,
                next_poll_at,
                now,
                now,
                item_id,
                TrackedState.ACTIVE,
                *([] if seen is None else [seen]),
                now,
            ),
        )
        return count == 1

    async def claim_due(self, *, owner: str, lease: float, limit: int = 500) -> list[TrackedItem]:
        """Lease the active items whose next poll is due and that no other replica holds, oldest first:
        across replicas, each due item goes to one of them. A lease not given back (its replica died) expires
        after `lease` seconds; a replica restarted under its name takes its own back at once."""
        now = self._clock.now()
        rows = await self._db.fetch_written(
            "UPDATE tracked SET lease_owner = ?, lease_until = ? WHERE id IN (SELECT id FROM tracked"
            " WHERE state = ? AND next_poll_at <= ? AND (lease_until IS NULL OR lease_until <= ? OR lease_owner = ?)"
            f" ORDER BY next_poll_at LIMIT ?{self._db.SKIP_LOCKED}) RETURNING *",
            (owner, now + lease, TrackedState.ACTIVE, now, now, owner, limit),
        )
        return sorted((TrackedItem.from_row(row) for row in rows), key=lambda item: item.next_poll_at)

    async def claim_items(self, item_ids: list[int], *, owner: str, lease: float) -> list[TrackedItem]:
        """Lease these active items unless another replica holds them (a webhook's poll)."""
        if not item_ids:
            return []
        now = self._clock.now()
        marks = ", ".join("?" for _ in item_ids)
        rows = await self._db.fetch_written(
            f"UPDATE tracked SET lease_owner = ?, lease_until = ? WHERE id IN ({marks}) AND state = ?"
            " AND (lease_until IS NULL OR lease_until <= ? OR lease_owner = ?) RETURNING *",
            (owner, now + lease, *item_ids, TrackedState.ACTIVE, now, owner),
        )
        return [TrackedItem.from_row(row) for row in rows]

    async def release(self, item_id: int, owner: str) -> None:
        """Give an item's lease back once its poll is done."""
        await self._db.execute(
            "UPDATE tracked SET lease_owner = NULL, lease_until = NULL WHERE id = ? AND lease_owner = ?",
            (item_id, owner),
        )

    async def leases(self, owner: str) -> int:
        """How many items a replica holds now."""
        row = await self._db.fetchone(
            "SELECT COUNT(*) FROM tracked WHERE lease_owner = ? AND lease_until > ?",
            (owner, self._clock.now()),
        )
        return int(row[0]) if row else 0

    async def due(self, now: float, limit: int = 500) -> list[TrackedItem]:
        """Return active items whose next poll is due, oldest first."""
        rows = await self._db.fetchall(
            "SELECT * FROM tracked WHERE state = ? AND next_poll_at <= ? ORDER BY next_poll_at LIMIT ?",
            (TrackedState.ACTIVE, now, limit),
        )
        return [TrackedItem.from_row(row) for row in rows]

    async def recent(self, kind: Kind, limit: int = 10) -> list[TrackedItem]:
        """Return the newest items of a kind."""
        rows = await self._db.fetchall(
            "SELECT * FROM tracked WHERE kind = ? ORDER BY created_at DESC, id DESC LIMIT ?", (kind, limit)
        )
        return [TrackedItem.from_row(row) for row in rows]

    async def count_active(self) -> int:
        """Return how many items are being tracked."""
        row = await self._db.fetchone("SELECT COUNT(*) FROM tracked WHERE state = ?", (TrackedState.ACTIVE,))
        return int(row[0]) if row else 0

    async def count_by_kind(self) -> dict[Kind, int]:
        """Return how many items of each kind are being tracked."""
        rows = await self._db.fetchall(
            "SELECT kind, COUNT(*) FROM tracked WHERE state = ? GROUP BY kind", (TrackedState.ACTIVE,)
        )
        counts = dict.fromkeys(Kind, 0)
        counts.update({Kind(row[0]): int(row[1]) for row in rows})
        return counts

    async def record_poll(
        self,
        item_id: int,
        *,
        next_poll_at: float,
        last_status: str | None,
        attempts: int,
        failures: int,
        last_error: str | None = None,
        data: dict[str, Any] | None = None,
        state: TrackedState = TrackedState.ACTIVE,
        card_updated: bool = False,
    ) -> None:
        """Write what a poll learnt and when to poll next; only an active item moves (a poll that finishes
        after the item was finished elsewhere, e.g. erased, changes nothing)."""
        check_move(TRACKED_TRANSITIONS, TrackedState.ACTIVE, state)
        now = self._clock.now()
        await self._db.execute(
            "UPDATE tracked SET next_poll_at = ?, last_status = ?, attempts = ?, failures = ?, last_error = ?,"
            " data = COALESCE(?, data), state = ?, updated_at = ?,"
            " card_updated_at = CASE WHEN ? THEN ? ELSE card_updated_at END WHERE id = ? AND state = 'active'",
            (
                next_poll_at,
                last_status,
                attempts,
                failures,
                last_error,
                json.dumps(data) if data is not None else None,
                state,
                now,
                card_updated,
                now,
                item_id,
            ),
        )

    async def finish(self, item_id: int, state: TrackedState, *, last_status: str | None = None) -> None:
        """Stop tracking an active item: state is done, failed or gave_up."""
        check_move(TRACKED_TRANSITIONS, TrackedState.ACTIVE, state)
        await self._db.execute(
            "UPDATE tracked SET state = ?, last_status = COALESCE(?, last_status), updated_at = ?"
            " WHERE id = ? AND state = 'active'",
            (state, last_status, self._clock.now(), item_id),
        )

    async def adopt_cards(self) -> int:
        """Give card-less active items the card the dedupe ledger holds for them; returns how many.

        A crash between posting a card (recorded in the ledger) and storing it here would otherwise
        leave the item without the thread its results belong in.
        """
        now = self._clock.now()
        ledger = (
            "SELECT n.ts FROM notifications n WHERE n.event_key = card_event_key AND n.channel = tracked.channel"
            " AND n.ts IS NOT NULL"
        ).replace("card_event_key", CARD_EVENT_SQL)
        return await self._db.execute(
            f"UPDATE tracked SET card_ts = ({ledger}), thread_ts = COALESCE(thread_ts, ({ledger})),"
            f" card_updated_at = ?, next_poll_at = CASE WHEN next_poll_at < ? THEN next_poll_at ELSE ? END"
            f" WHERE state = ? AND card_ts IS NULL AND EXISTS ({ledger})",
            (now, now, now, TrackedState.ACTIVE),
        )

    async def merge_data(self, kind: Kind, external_id: str, updates: dict[str, Any]) -> None:
        """Merge keys into the data of every item with this id (one transaction, so no update is lost)."""
        async with self._db.transaction():
            rows = await self._db.fetchall(
                "SELECT id, data FROM tracked WHERE kind = ? AND external_id = ?",
                (kind, external_id),
            )
            for row in rows:
                data = json.loads(row["data"] or "{}") | updates
                await self._db.execute(
                    "UPDATE tracked SET data = ?, updated_at = ? WHERE id = ?",
                    (json.dumps(data), self._clock.now(), row["id"]),
                )

    async def mark_due(self, kind: Kind, external_id: str) -> int:
        """Make every active item with this id due now (a webhook arrived); returns how many."""
        return await self._db.execute(
            "UPDATE tracked SET next_poll_at = ? WHERE kind = ? AND external_id = ? AND state = ?",
            (self._clock.now(), kind, external_id, TrackedState.ACTIVE),
        )

    async def due_by(self, item_ids: list[int], at: float) -> int:
        """Make these active items due no later than `at` (sooner when already due sooner)."""
        if not item_ids:
            return 0
        marks = ", ".join("?" for _ in item_ids)
        return await self._db.execute(
            f"UPDATE tracked SET next_poll_at = CASE WHEN next_poll_at > ? THEN ? ELSE next_poll_at END"
            f" WHERE id IN ({marks}) AND state = ?",
            (at, at, *item_ids, TrackedState.ACTIVE),
        )

    async def mentioning(self, kind: Kind, fragment: str) -> list[TrackedItem]:
        """Return the items of a kind whose data contains `fragment` (a first pass; the caller matches)."""
        rows = await self._db.fetchall(
            "SELECT * FROM tracked WHERE kind = ? AND instr(data, ?) > 0", (kind, fragment)
        )
        return [TrackedItem.from_row(row) for row in rows]

    async def replace_data(self, item_id: int, data: dict[str, Any]) -> None:
        """Replace an item's data (retention, erasure: what is personal goes) and mark it scrubbed."""
        await self._db.execute(
            "UPDATE tracked SET data = ?, last_error = NULL, scrubbed_at = ? WHERE id = ?",
            (json.dumps(data), self._clock.now(), item_id),
        )
