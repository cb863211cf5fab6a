"""Tracking batches: a live card in the request's thread, then one summary and one CSV when done.

Polls use include_calls=false; the calls are fetched once, at the end, for the summary.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from slack_sdk.errors import SlackApiError

from bot.bland.errors import BlandError
from bot.bland.models import Batch
from bot.blocks.batches import BatchCardInfo, BatchProgress, batch_card, batch_csv, batch_summary
from bot.blocks.format import label_text
from bot.domain import BatchState, Kind, Topic
from bot.flows.notifications import Event, announce
from bot.notifier import slack_error
from bot.store.tracked import TrackedItem, card_event_key
from bot.tracking.kinds import PollOutcome, card_may_update, say_gave_up

if TYPE_CHECKING:
    from bot.deps import Deps
    from bot.store.batch_requests import BatchRequest

log = logging.getLogger(__name__)


async def start(deps: Deps, request: BatchRequest) -> TrackedItem | None:
    """Track a sent batch in its request's thread and post the live card there."""
    assert request.batch_id is not None
    channel = request.card_channel or request.channel
    item = await deps.store.tracked.add(
        Kind.BATCH,
        request.batch_id,
        channel,
        created_by=request.requester,
        thread_ts=request.card_ts,
        data={
            "label": request.label,
            "request_id": request.id,
            "approver": request.approver,
            "requester": request.requester,
            "test_mode": bool(request.payload.get("test_mode")),
        },
    )
    if item is None:
        return await deps.store.tracked.find(Kind.BATCH, request.batch_id, channel)
    try:
        await publish_card(deps, item, thread_ts=request.card_ts)
    except SlackApiError as exc:
        # The batch was sent: its card follows as soon as Slack takes it (the tick retries, with backoff).
        log.warning("the live card of batch %s is not posted yet (%s)", item.external_id, slack_error(exc))
        await deps.store.tracked.mark_due(Kind.BATCH, item.external_id)
    return item


async def publish_card(deps: Deps, item: TrackedItem, *, thread_ts: str | None) -> None:
    """Post the live card (into `thread_ts` when given), remember it, and poll at once."""
    text, blocks = batch_card(card_info(item, None))
    key = card_event_key(Kind.BATCH, item.external_id)
    ts = await deps.notifier.post(item.channel, text, blocks, thread_ts=thread_ts, event_key=key)
    ts = ts or await deps.store.notifications.ts_of(key, item.channel)
    if ts:
        await deps.store.tracked.set_card(item.id, ts, thread_ts=thread_ts or ts)
    deps.wake()


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
        test_mode=bool(data.get("test_mode")),
        note=note,
    )


def _progress(data: dict[str, Any]) -> BatchProgress | None:
    saved = data.get("progress")
    return BatchProgress(**saved) if isinstance(saved, dict) else None


async def update_card(deps: Deps, item: TrackedItem, info: BatchCardInfo, *, force: bool = False) -> None:
    """Update the card in place, at most once per CARD_MIN_INTERVAL unless forced (Slack's limits)."""
    if not item.card_ts or not card_may_update(deps.clock.now(), item, force=force):
        return
    text, blocks = batch_card(info)
    await deps.notifier.update(item.channel, item.card_ts, text, blocks)
    await deps.store.tracked.card_updated(item.id)


async def post_summary(deps: Deps, item: TrackedItem, batch: Batch) -> None:
    """Post the outcome breakdown, histogram, first errors and cost, then the CSV, each exactly once."""
    redact = deps.settings.redact_phone_numbers
    label = str(item.data.get("label") or item.external_id)
    thread = item.thread_ts or item.card_ts
    text, blocks = batch_summary(batch, label=label, redact=redact, stopped_by=item.data.get("stopped_by"))
    await deps.notifier.post(
        item.channel, text, blocks, thread_ts=thread, event_key=f"batch:{item.external_id}:summary"
    )
    if batch.call_data:
        await deps.notifier.upload(
            item.channel,
            filename=f"batch-{item.external_id.replace('$', '_')}.csv",
            content=batch_csv(batch, redact=redact),
            title=f"Calls of batch {label}",
            thread_ts=thread,
            event_key=f"batch:{item.external_id}:csv",
        )


class BatchKind:
    """The tracked kind for batches."""

    name = Kind.BATCH
    max_age = 48 * 3600.0

    def base_interval(self, deps: Deps) -> float:
        """Return BATCH_POLL_SECONDS."""
        return deps.settings.batch_poll_seconds

    async def ensure_card(self, deps: Deps, item: TrackedItem) -> TrackedItem:
        """Post the live card if Slack did not take it when the batch was sent."""
        if item.card_ts:
            return item
        await publish_card(deps, item, thread_ts=item.thread_ts)
        return await deps.store.tracked.get(item.id) or item

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
        if not progress.done:
            if status != item.last_status or recovered:
                await update_card(deps, item, card_info(item, progress), force=recovered)
            return PollOutcome(status=status, data=data)
        full = await deps.bland.get_batch(item.external_id, include_calls=True, include_transcripts=True)
        await post_summary(deps, item, full)
        final = BatchState.STOPPED if data.get("stopped_by") else BatchState.COMPLETED
        await update_card(deps, item, card_info(item, BatchProgress.of(full), state=final), force=True)
        label = str(item.data.get("label") or item.external_id)
        how = f"stopped by <@{data['stopped_by']}>" if data.get("stopped_by") else "completed"
        await announce(
            deps,
            Event(
                key=f"batch:{item.external_id}:{final}",
                topic=Topic.BATCHES,
                text=f":checkered_flag: Batch *{label_text(label)}* {how}: {len(full.call_data)} calls",
                where=(item.channel, item.card_ts),
                requester=item.data.get("requester") or item.created_by,
                dm_text=f"Your batch *{label_text(label)}* {how}: {len(full.call_data)} calls. The summary and CSV are in its thread.",
            ),
            retry_later=True,
        )
        return PollOutcome(status=final, done=True, data=data)

    async def on_failure(self, deps: Deps, item: TrackedItem, error: Exception) -> None:
        """Say on the card that Bland is not answering and the bot keeps checking."""
        detail = error.user_message if isinstance(error, BlandError) else "unexpected error"
        note = f":hourglass: Checking… ({detail}) The bot keeps trying."
        await update_card(deps, item, card_info(item, _progress(item.data), note=note), force=True)
        await deps.store.tracked.merge_data(Kind.BATCH, item.external_id, {"checking": True})

    async def give_up(self, deps: Deps, item: TrackedItem) -> None:
        """Say in the thread that the bot stopped following this batch."""
        await say_gave_up(deps, item, what="batch", max_age=self.max_age)
        await update_card(
            deps, item, card_info(item, _progress(item.data), state=BatchState.UNKNOWN), force=True
        )
