"""Tracking as flows see it (`Deps.tracker`): start following an item, with its card, in one transaction."""

from __future__ import annotations

from typing import Any

from bot.deps import Deps
from bot.domain import Kind
from bot.store.db import Conn
from bot.store.tracked import TrackedItem
from bot.tracking import backfills, batches, calls
from bot.tracking.kinds import TrackedKind


def make_kinds() -> dict[Kind, TrackedKind]:
    """Return a fresh set of tracked kinds (they keep per-bot state, such as when the list was last read)."""
    return {
        Kind.CALL: calls.CallKind(),
        Kind.BATCH: batches.BatchKind(),
        Kind.BACKFILL: backfills.BackfillKind(),
    }


class CardTracker:
    """Implements bot.deps.Tracker with the tracked kinds."""

    def __init__(self, kinds: dict[Kind, TrackedKind]) -> None:
        self.kinds = kinds

    async def track(
        self,
        deps: Deps,
        kind: Kind,
        external_id: str,
        channel: str,
        *,
        created_by: str | None,
        data: dict[str, Any],
        last_status: str | None = None,
        conn: Conn | None = None,
    ) -> TrackedItem | None:
        """Start tracking an item and queue its card, committed together; None when already tracked there.

        With `conn` both join the caller's transaction (the caller kicks the outbox and wakes the tick).
        """
        if conn is None:
            async with deps.store.db.transaction() as own:
                item = await self.track(
                    deps,
                    kind,
                    external_id,
                    channel,
                    created_by=created_by,
                    data=data,
                    last_status=last_status,
                    conn=own,
                )
            deps.outbox.kick()
            deps.wake()
            return item
        item = await deps.store.tracked.add(
            kind, external_id, channel, created_by=created_by, data=data, last_status=last_status, conn=conn
        )
        card = self.kinds[kind].card(deps, item) if item is not None else None
        if card is not None:
            await deps.store.outbox.add([card], conn=conn)
        return item
