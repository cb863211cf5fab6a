"""Tracking backfill workflows: RUNNING until a terminal state, then results (or the failure) once.

Every workflow of one backfill shares the backfill's card, re-rendered from the `backfills` row.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from bot.bland.models import BackfillStatus
from bot.blocks.backfills import backfill_failure, backfill_results, results_json
from bot.domain import Kind, Topic, TrackedState, WorkflowState
from bot.flows.backfills import refresh_card
from bot.flows.notifications import Event, announce
from bot.store.tracked import TrackedItem
from bot.tracking.kinds import PollOutcome, card_may_update, say_gave_up

if TYPE_CHECKING:
    from bot.deps import Deps

log = logging.getLogger(__name__)


def _part(item: TrackedItem) -> str:
    parts = int(item.data.get("parts") or 1)
    return f" · part {item.data.get('part')}/{parts}" if parts > 1 else ""


async def post_outcome(deps: Deps, item: TrackedItem, status: BackfillStatus) -> None:
    """Post a terminal workflow's results (or its failure) into the backfill's thread, once."""
    thread = item.thread_ts
    part = _part(item)
    key = f"backfill:{item.external_id}"
    if (status.status or "").upper() != WorkflowState.COMPLETED:
        text, blocks = backfill_failure(status, part=part, call_count=int(item.data.get("calls") or 0))
        await deps.notifier.post(item.channel, text, blocks, thread_ts=thread, event_key=f"{key}:failed")
        return
    names = dict(item.data.get("schema_names") or {})
    text, blocks = backfill_results(status, part=part, schema_names=names)
    await deps.notifier.post(item.channel, text, blocks, thread_ts=thread, event_key=f"{key}:results")
    calls = status.result.calls if status.result else []
    if calls:
        number = f"-part{item.data.get('part')}" if int(item.data.get("parts") or 1) > 1 else ""
        await deps.notifier.upload(
            item.channel,
            filename=f"backfill-{item.data.get('backfill_id')}{number}.json",
            content=results_json(calls),
            title=f"Backfill variables per call{part}",
            thread_ts=thread,
            event_key=f"{key}:file",
        )


class BackfillKind:
    """The tracked kind for backfill workflows."""

    name = Kind.BACKFILL
    max_age = 12 * 3600.0

    def base_interval(self, deps: Deps) -> float:
        """Return BACKFILL_POLL_SECONDS (the documents advise 5–10 s, 10–30 s for many calls, with backoff)."""
        return deps.settings.backfill_poll_seconds

    async def ensure_card(self, deps: Deps, item: TrackedItem) -> TrackedItem:
        """A workflow has no card of its own: it reports in its backfill's thread, which exists already."""
        return item

    async def poll(self, deps: Deps, item: TrackedItem) -> PollOutcome:
        """Fetch the workflow; keep the card's elapsed time current; report once when it ends."""
        status = await deps.bland.backfill_status(item.external_id)
        state = (status.status or "UNKNOWN").upper()  # Bland's text: it may name a state we do not know
        backfill_id = str(item.data.get("backfill_id") or "")
        if not status.is_terminal:
            if state != WorkflowState.RUNNING:
                log.warning("backfill %s reports %s; still polling", item.external_id, state)
            # The card is the backfill's (shared by its workflows); each workflow throttles its own updates.
            if backfill_id and card_may_update(deps.clock.now(), item):
                await refresh_card(deps, backfill_id)
                await deps.store.tracked.card_updated(item.id)
            return PollOutcome(status=state)
        await post_outcome(deps, item, status)
        if backfill_id:
            await deps.store.backfills.set_workflow(backfill_id, item.external_id, state)
            await refresh_card(deps, backfill_id)
        done = "completed" if state == WorkflowState.COMPLETED else f"ended {state}"
        await announce(
            deps,
            Event(
                key=f"backfill:{item.external_id}:{state.lower()}",
                topic=Topic.BACKFILLS,
                text=f":card_index: Backfill `{backfill_id}`{_part(item)} {done} ({item.data.get('calls')} calls)",
                where=(item.channel, item.thread_ts),
                requester=item.created_by,
                dm_text=f"Your backfill `{backfill_id}`{_part(item)} {done}. The results are in its thread.",
            ),
            retry_later=True,
        )
        return PollOutcome(
            status=state,
            done=True,
            final_state=TrackedState.DONE if state == WorkflowState.COMPLETED else TrackedState.FAILED,
        )

    async def on_failure(self, deps: Deps, item: TrackedItem, error: Exception) -> None:
        """Nothing to show beyond the card: the elapsed time keeps running while Bland is unreachable."""
        log.info("backfill %s: poll failed (%s); backing off", item.external_id, type(error).__name__)

    async def give_up(self, deps: Deps, item: TrackedItem) -> None:
        """Say in the thread that the bot stopped following this workflow."""
        await say_gave_up(deps, item, what="backfill workflow", max_age=self.max_age)
