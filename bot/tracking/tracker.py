"""Tracking as flows see it (`Deps.tracker`): start following an item, with its card, in one transaction."""

from __future__ import annotations

from typing import Any

from bot.deps import Deps
from bot.domain import Kind
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
    ) -> TrackedItem | None:
        """Start tracking an item and queue its card, committed together (in the caller's unit of work when
        there is one); None when already tracked there. The tick wakes once it commits."""
        async with deps.unit() as u:
            item = await deps.store.tracked.add(
                kind, external_id, channel, created_by=created_by, data=data, last_status=last_status
            )
            card = self.kinds[kind].card(deps, item) if item is not None else None
            if card is not None:
                await u.deliver(card)
            u.wake()
        return item
