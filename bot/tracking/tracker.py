"""Tracking as flows see it (`Deps.tracker`): the cards that start an item's tracking."""

from __future__ import annotations

from bot.deps import Deps
from bot.domain import CallState
from bot.store.batch_requests import BatchRequest
from bot.store.tracked import TrackedItem
from bot.tracking import batches, calls


class CardTracker:
    """Implements bot.deps.Tracker with the call and batch tracking modules."""

    async def publish_call_card(self, deps: Deps, item: TrackedItem, *, state: CallState) -> TrackedItem:
        """Post the card that anchors a call's thread, remember it, and make the call due."""
        return await calls.publish_card(deps, item, state=state)

    async def publish_batch_card(self, deps: Deps, item: TrackedItem, *, thread_ts: str | None) -> None:
        """Post a batch's live card (into `thread_ts` when given), remember it, and poll at once."""
        await batches.publish_card(deps, item, thread_ts=thread_ts)

    async def start_batch(self, deps: Deps, request: BatchRequest) -> TrackedItem | None:
        """Track a sent batch in its request's thread and post the live card there."""
        return await batches.start(deps, request)
