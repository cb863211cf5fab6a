"""Tracking batches: a live card in the request's thread, then one summary and one CSV when done.

Polls use include_calls=false; the calls are read once, at the end, as a stream, for the summary.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from bot.bland.errors import BlandError
from bot.bland.models import BatchAnalysis
from bot.blocks.batches import BatchCardInfo, BatchProgress, batch_card, batch_summary
from bot.blocks.format import label_text
from bot.domain import BatchState, Kind, Topic
from bot.flows.notifications import Event
from bot.mrkdwn import escape
from bot.store.outbox import Delivery
from bot.store.tracked import TrackedItem
from bot.tracking.batch_results import BatchResults
from bot.tracking.kinds import (
    PollOutcome,
    card_may_update,
    card_update,
    file_in_thread,
    gave_up_notice,
    in_thread,
    own_card,
    thread_card,
)

if TYPE_CHECKING:
    from bot.deps import Deps

log = logging.getLogger(__name__)


def card_post(item: TrackedItem) -> Delivery:
    """The live card: the first reply under the approval card, or a card of its own when tracked by hand."""
    text, blocks = batch_card(card_info(item, _progress(item.data)))
    thread = thread_card(item)
    return Delivery(
        key=own_card(item),
        channel=item.channel,
        text=text,
        blocks=blocks,
        thread_of=None if thread == own_card(item) else thread,
    )


def card_info(
    item: TrackedItem,
    progress: BatchProgress | None,
    *,
    state: BatchState | None = None,
    note: str | None = None,
) -> BatchCardInfo:
    """Assemble the card from the tracked row."""
    data = item.data
    stopped_by = data.get("stopped_by")
    return BatchCardInfo(
        batch_id=item.external_id,
        label=str(data.get("label") or item.external_id),
        approver=data.get("approver"),
        requester=data.get("requester") or item.created_by,
        progress=progress,
        state=state or (BatchState.STOPPING if stopped_by else BatchState.RUNNING),
        stopped_by=stopped_by,
        stopped_calls=data.get("stopped_calls"),
        test_mode=bool(data.get("test_mode")),
        note=note,
    )


def _progress(data: dict[str, Any]) -> BatchProgress | None:
    saved = data.get("progress")
    return BatchProgress(**saved) if isinstance(saved, dict) else None


async def summary(
    deps: Deps, item: TrackedItem, analysis: BatchAnalysis | None
) -> tuple[int, list[Delivery]]:
    """The outcome breakdown, histogram, first errors and cost, then the CSV, for the thread.

    The calls are read as a stream and tallied one at a time (BatchResults); returns the number of calls
    with the deliveries."""
    label = str(item.data.get("label") or item.external_id)
    settings = deps.settings
    with BatchResults(
        redact=settings.redact_phone_numbers, cost_per_minute=settings.cost_per_minute
    ) as results:
        async for call in deps.bland.batch_calls(item.external_id):
            results.add(call)
        if not results.total and progress_total(analysis):
            # The batch read came without its call rows: Bland's call list, filtered by batch, has them.
            async for call in deps.bland.list_pages(batch_id=item.external_id):
                results.add(call)
        text, blocks = batch_summary(
            results,
            analysis,
            label=label,
            stopped_by=item.data.get("stopped_by"),
            # Sent from a request (not followed with /bland track): its rows are known, so it can be re-run.
            rerun_batch=item.external_id if item.data.get("approver") else None,
        )
        out = [in_thread(item, f"batch:{item.external_id}:summary", text, blocks)]
        if results.total:
            out.append(
                file_in_thread(
                    item,
                    f"batch:{item.external_id}:csv",
                    filename=f"batch-{item.external_id.replace('$', '_')}.csv",
                    content=results.csv(),
                    title=f"Calls of batch {label}",
                )
            )
        return results.total or progress_total(analysis), out


def progress_total(analysis: BatchAnalysis | None) -> int:
    """The batch's own count of calls, when no call rows came."""
    return int(analysis.total_calls or 0) if analysis else 0


async def every_call_final(deps: Deps, batch_id: str) -> bool:
    """Whether Bland's call list shows every call of a stopped batch in a final state.

    Nothing in Bland's documents says a stopped batch ever reports `completed`; its calls do end, so a
    stopped batch closes when the list (filtered by batch, paged) shows no call still going."""
    listed = 0
    async for call in deps.bland.list_pages(batch_id=batch_id):
        listed += 1
        if not call.is_terminal:
            return False
    return listed > 0


def updated_card(item: TrackedItem, info: BatchCardInfo) -> Delivery:
    """The live card's new state."""
    return card_update(item, *batch_card(info))


class BatchKind:
    """The tracked kind for batches."""

    name = Kind.BATCH
    max_age = 48 * 3600.0

    def base_interval(self, deps: Deps) -> float:
        """Return BATCH_POLL_SECONDS."""
        return deps.settings.batch_poll_seconds

    def card(self, deps: Deps, item: TrackedItem) -> Delivery:
        """Return the post of the live card."""
        return card_post(item)

    async def sweep(self, deps: Deps) -> None:
        """Nothing to learn in bulk: each is read on its own schedule."""

    async def poll(self, deps: Deps, item: TrackedItem) -> PollOutcome:
        """Read progress cheaply; update the card when it moved; summarise once when every call is done."""
        batch = await deps.bland.get_batch(item.external_id, include_calls=False)
        progress = BatchProgress.of(batch)
        fresh = await deps.store.tracked.get(
            item.id
        )  # a stop may have added stopped_by since the tick read it
        data: dict[str, Any] = dict((fresh or item).data)
        recovered = data.pop("checking", False)
        data["progress"] = progress.as_data()
        status = f"{progress.completed}/{progress.total}"
        item = fresh or item
        if not progress.done and data.get("stopped_by") and await every_call_final(deps, item.external_id):
            progress = replace(progress, done=True)
        if not progress.done:
            moved = status != item.last_status or recovered
            if moved and card_may_update(deps.clock.now(), item, force=recovered):
                return PollOutcome(
                    status=status,
                    data=data,
                    deliveries=(updated_card(item, card_info(item, progress)),),
                    card_updated=True,
                )
            return PollOutcome(status=status, data=data)
        count, results = await summary(deps, item, batch.analysis)
        final = BatchState.STOPPED if data.get("stopped_by") else BatchState.COMPLETED
        label = str(item.data.get("label") or item.external_id)
        how = f"stopped by <@{data['stopped_by']}>" if data.get("stopped_by") else "completed"
        event = Event(
            key=f"batch:{item.external_id}:{final}",
            topic=Topic.BATCHES,
            text=f":checkered_flag: Batch *{label_text(label)}* {how}: {count} calls",
            where=(item.channel, own_card(item)),
            requester=item.data.get("requester") or item.created_by,
            dm_text=f"Your batch *{label_text(label)}* {how}: {count} calls. The summary and CSV are in its thread.",
        )
        final_card = updated_card(item, card_info(item, progress, state=final))
        return PollOutcome(
            status=final,
            done=True,
            data=data,
            deliveries=(*results, final_card),
            events=(event,),
        )

    async def on_failure(self, deps: Deps, item: TrackedItem, error: Exception) -> None:
        """Say on the card that Bland is not answering and the bot keeps checking."""
        detail = escape(error.user_message) if isinstance(error, BlandError) else "unexpected error"
        note = f":hourglass: Checking… ({detail}) The bot keeps trying."
        await deps.outbox.add(updated_card(item, card_info(item, _progress(item.data), note=note)))
        await deps.store.tracked.merge_data(Kind.BATCH, item.external_id, {"checking": True})

    async def give_up(self, deps: Deps, item: TrackedItem) -> None:
        """Say in the thread that the bot stopped following this batch."""
        await deps.outbox.add(
            gave_up_notice(item, what="batch", max_age=self.max_age),
            updated_card(item, card_info(item, _progress(item.data), state=BatchState.UNKNOWN)),
        )
