"""Tracking backfill workflows: RUNNING until a terminal state, then results (or the failure) once.

Every workflow of one backfill shares the backfill's card, re-rendered from the `backfills` row.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from bot.bland.models import BackfillStatus
from bot.blocks.backfills import backfill_failure, backfill_results, results_json
from bot.domain import Kind, Topic, TrackedState, WorkflowState
from bot.flows.backfills import card_now
from bot.flows.notifications import Event
from bot.store.outbox import Delivery
from bot.store.tracked import TrackedItem
from bot.tracking.kinds import (
    CARD_MIN_INTERVAL,
    PollOutcome,
    card_may_update,
    file_in_thread,
    gave_up_notice,
    in_thread,
    thread_card,
)

if TYPE_CHECKING:
    from bot.deps import Deps

log = logging.getLogger(__name__)


def _part(item: TrackedItem) -> str:
    parts = int(item.data.get("parts") or 1)
    return f" · part {item.data.get('part')}/{parts}" if parts > 1 else ""


def outcome(item: TrackedItem, status: BackfillStatus) -> list[Delivery]:
    """A terminal workflow's results (or its failure) for the backfill's thread."""
    part = _part(item)
    key = f"backfill:{item.external_id}"
    if (status.status or "").upper() != WorkflowState.COMPLETED:
        text, blocks = backfill_failure(status, part=part, call_count=int(item.data.get("calls") or 0))
        return [in_thread(item, f"{key}:failed", text, blocks)]
    names = dict(item.data.get("schema_names") or {})
    text, blocks = backfill_results(status, part=part, schema_names=names)
    out = [in_thread(item, f"{key}:results", text, blocks)]
    calls = status.result.calls if status.result else []
    if calls:
        number = f"-part{item.data.get('part')}" if int(item.data.get("parts") or 1) > 1 else ""
        out.append(
            file_in_thread(
                item,
                f"{key}:file",
                filename=f"backfill-{item.data.get('backfill_id')}{number}.json",
                content=results_json(calls),
                title=f"Backfill variables per call{part}",
            )
        )
    return out


class BackfillKind:
    """The tracked kind for backfill workflows."""

    name = Kind.BACKFILL
    max_age = 12 * 3600.0

    def base_interval(self, deps: Deps) -> float:
        """Return BACKFILL_POLL_SECONDS (the documents advise 5–10 s, 10–30 s for many calls, with backoff)."""
        return deps.settings.backfill_poll_seconds

    def card(self, deps: Deps, item: TrackedItem) -> None:
        """A workflow has no card of its own: it reports under its backfill's card."""
        return None

    async def sweep(self, deps: Deps) -> None:
        """Nothing to learn in bulk: each is read on its own schedule."""

    async def poll(self, deps: Deps, item: TrackedItem, sent: dict[str, Any] | None = None) -> PollOutcome:
        """Fetch the workflow; keep the card's elapsed time current; report once when it ends."""
        status = await deps.bland.backfill_status(item.external_id)
        state = (status.status or "UNKNOWN").upper()  # Bland's text: it may name a state we do not know
        backfill_id = str(item.data.get("backfill_id") or "")
        if not status.is_terminal:
            if state != WorkflowState.RUNNING:
                log.warning("backfill %s reports %s; still polling", item.external_id, state)
            # The card is the backfill's (shared by its workflows); each workflow throttles its own updates.
            if backfill_id and card_may_update(deps.clock.now(), item):
                shown = await card_now(deps, backfill_id, min_interval=CARD_MIN_INTERVAL)
                return PollOutcome(status=state, deliveries=shown, card_updated=bool(shown))
            return PollOutcome(status=state)
        card: tuple[Delivery, ...] = ()
        if backfill_id:
            await deps.store.backfills.set_workflow(backfill_id, item.external_id, state)
            card = await card_now(deps, backfill_id, min_interval=CARD_MIN_INTERVAL)
        done = "completed" if state == WorkflowState.COMPLETED else f"ended {state}"
        event = Event(
            key=f"backfill:{item.external_id}:{state.lower()}",
            topic=Topic.BACKFILLS,
            text=f":card_index: Backfill `{backfill_id}`{_part(item)} {done} ({item.data.get('calls')} calls)",
            where=(item.channel, thread_card(item)),
            requester=item.created_by,
            dm_text=f"Your backfill `{backfill_id}`{_part(item)} {done}. The results are in its thread.",
        )
        return PollOutcome(
            status=state,
            done=True,
            final_state=TrackedState.DONE if state == WorkflowState.COMPLETED else TrackedState.FAILED,
            deliveries=(*outcome(item, status), *card),
            events=(event,),
        )

    async def on_failure(self, deps: Deps, item: TrackedItem, error: Exception) -> None:
        """Nothing to show beyond the card: the elapsed time keeps running while Bland is unreachable."""
        log.info("backfill %s: poll failed (%s); backing off", item.external_id, type(error).__name__)

    async def give_up(self, deps: Deps, item: TrackedItem) -> None:
        """Say in the thread that the bot stopped following this workflow."""
        await deps.outbox.add(gave_up_notice(item, what="backfill workflow", max_age=self.max_age))
