"""Tracking batches: progress on the request's card (now the batch's card), then one summary and one CSV in
its thread when done. A batch followed with `/bland track` has a live card of its own.

v1 polls read the batch with include_calls=false and the calls once, at the end, as a stream, for the
summary. v2 keeps no progress on the batch: each poll counts its call list and reads the calls that ended
(bot/tracking/batch_reads.py); the summary comes from what was read.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from slack_sdk.errors import SlackApiError

from bot.bland.errors import BlandError, BlandNotFoundError
from bot.bland.models import BatchAnalysis
from bot.blocks.batches import BatchCardInfo, BatchProgress, batch_card, batch_summary, tally_line
from bot.blocks.format import label_text
from bot.domain import AuditAction, AuditOutcome, BatchApi, BatchState, Kind, Topic, TrackedState
from bot.errors import UserError
from bot.flows.batch_api import api_of, relearn
from bot.flows.batch_cards import card_info, on_request_card, saved_progress
from bot.flows.batches.state import card_delivery
from bot.flows.notifications import Event
from bot.mrkdwn import escape
from bot.notifier import slack_error
from bot.permissions import Role
from bot.store.batch_requests import BatchRequest
from bot.store.outbox import Delivery
from bot.store.outbox import card_update as outbox_card_update
from bot.store.tracked import TrackedItem
from bot.tracking.batch_reads import kept_calls, read_v2
from bot.tracking.batch_results import BatchResults
from bot.tracking.kinds import (
    CARD_MIN_INTERVAL,
    PollOutcome,
    card_may_update,
    file_in_thread,
    gave_up_notice,
    in_thread,
    own_card,
    thread_card,
)

if TYPE_CHECKING:
    from bot.deps import Deps

log = logging.getLogger(__name__)


def card_post(item: TrackedItem) -> Delivery | None:
    """The live card of a batch followed with `/bland track` (or sent from a request before approval cards
    became batch cards: the first reply under the approval card). None for a batch drawn on its request's
    card, which is already posted."""
    if on_request_card(item):
        return None
    text, blocks = batch_card(card_info(item, saved_progress(item.data)))
    thread = thread_card(item)
    return Delivery(
        key=own_card(item),
        channel=item.channel,
        text=text,
        blocks=blocks,
        thread_of=None if thread == own_card(item) else thread,
    )


def shown_on(item: TrackedItem) -> str:
    """The key of the card that shows the batch: its request's card, or its own."""
    return thread_card(item) if on_request_card(item) else own_card(item)


async def updated_card(deps: Deps, item: TrackedItem, info: BatchCardInfo) -> Delivery:
    """The card's new state: the request's card redrawn with this batch as just seen, or the batch's own.

    A running batch is shown at most every CARD_MIN_INTERVAL seconds, so passing states are never sent; its
    final state (one per batch) goes at once."""
    interval = CARD_MIN_INTERVAL if info.state.live or info.state is BatchState.STOPPING else 0.0
    if on_request_card(item):
        request = await deps.store.batch_requests.get(str(item.data["request_id"]))
        if request is not None:
            return await card_delivery(deps, request, live=info, min_interval=interval)
    return outbox_card_update(own_card(item), item.channel, *batch_card(info), min_interval=interval)


async def summary(
    deps: Deps,
    item: TrackedItem,
    analysis: BatchAnalysis | None,
    *,
    api: BatchApi = BatchApi.V1,
    bland_said: str | None = None,
) -> tuple[int, str | None, list[Delivery]]:
    """The outcome breakdown, histogram, first errors and cost, then the CSV, for the thread.

    The calls are tallied one at a time (BatchResults): on v1 read as a stream, on v2 from what the polls
    kept; returns the number of calls, the card's one-line tally (None without call rows) and the
    deliveries."""
    label = str(item.data.get("label") or item.external_id)
    request = await deps.store.batch_requests.by_batch_id(item.external_id)
    with results_of(deps, request, redact=deps.settings.redact_phone_numbers) as results:
        await read_calls(deps, results, item.external_id, api, has_calls=bool(progress_total(analysis)))
        text, blocks = batch_summary(
            results,
            analysis,
            label=label,
            stopped_by=item.data.get("stopped_by"),
            # Sent from a request (not followed with /bland track): its rows are known, so it can be re-run.
            rerun_batch=item.external_id if item.data.get("approver") else None,
            bland_said=bland_said,
            whole_numbers=item.external_id if deps.settings.export_full_numbers else None,
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
        tally = tally_line(results) if results.total else None
        return results.total or progress_total(analysis), tally, out


def results_of(deps: Deps, request: BatchRequest | None, *, redact: bool) -> BatchResults:
    """An empty tally of a batch's calls; its result file completes the requester's own list, when the batch
    came from a request (in its order, with the rows it never dialled and why)."""
    rows = request.payload.rows if request is not None else []
    test_note = "test mode dials only the first row"
    return BatchResults(
        redact=redact,
        pricing=deps.settings.pricing,
        rows=rows,
        not_dialled={i: test_note for i in range(1, len(rows))}
        if request and request.payload.test_mode
        else None,
        left_out=request.excluded if request is not None else None,
    )


async def read_calls(
    deps: Deps, results: BatchResults, batch_id: str, api: BatchApi, *, has_calls: bool
) -> None:
    """Tally a finished batch's calls: on v1 read as a stream, on v2 from what the polls kept. A batch read
    that came without its call rows (`has_calls`, yet none) is read from Bland's call list by batch."""
    if api is BatchApi.V2:
        async for call in kept_calls(deps, batch_id):
            results.add(call)
    else:
        async for call in deps.bland.batch_calls(batch_id):
            results.add(call)
    if not results.total and has_calls:
        async for call in deps.bland.list_pages(batch_id=batch_id):
            results.add(call)


async def whole_numbers_file(deps: Deps, batch_id: str, *, user: str, channel: str | None) -> str:
    """Put a finished batch's result file, with whole numbers, in an admin's direct messages (when
    EXPORT_FULL_NUMBERS allows it); audited. Returns what to tell them."""
    await deps.permissions.require(user, Role.ADMIN, "get result files with whole numbers")
    if not deps.settings.export_full_numbers:
        raise UserError(
            "Result files with whole numbers are turned off for this workspace. To turn them on, "
            f"{deps.permissions.who_can_fix()}."
        )
    item = await deps.store.tracked.find(Kind.BATCH, batch_id)
    if item is None or item.state is TrackedState.ACTIVE:
        raise UserError(f"Batch `{batch_id}` has not finished: its result file comes when it has.")
    request = await deps.store.batch_requests.by_batch_id(batch_id)
    label = str(item.data.get("label") or batch_id)
    with results_of(deps, request, redact=False) as results:
        await read_calls(deps, results, batch_id, await api_of(deps, batch_id, item.data), has_calls=True)
        if not results.total:
            days = deps.settings.retention_days
            kept = f" (the bot keeps call details for {days:g} days)" if days else ""
            raise UserError(
                f"The calls of batch `{batch_id}` are no longer kept{kept}, so there is no file to give."
            )
        try:
            await deps.notifier.upload_dm(
                user,
                filename=f"batch-{batch_id.replace('$', '_')}-whole-numbers.csv",
                content=results.csv(),
                title=f"Calls of batch {label}, whole numbers",
                comment=f"The result file of *{label_text(label)}* with whole numbers, for you alone: please "
                "keep it out of shared channels.",
            )
        except SlackApiError as exc:
            raise UserError(
                f"Slack did not take the file ({slack_error(exc)}). Try again in a minute."
            ) from None
        count = results.total
    await deps.store.audit.record(
        actor=user,
        action=AuditAction.BATCH_EXPORT,
        outcome=AuditOutcome.UPLOADED,
        channel=channel,
        target=batch_id,
        detail=f"{count} calls, numbers whole, to their direct messages",
    )
    return f"The result file of *{label_text(label)}* with whole numbers is in your direct messages with the bot."


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


class BatchKind:
    """The tracked kind for batches."""

    name = Kind.BATCH
    max_age = 48 * 3600.0

    def base_interval(self, deps: Deps) -> float:
        """Return BATCH_POLL_SECONDS."""
        return deps.settings.batch_poll_seconds

    def card(self, deps: Deps, item: TrackedItem) -> Delivery | None:
        """Return the post of the live card (None when the request's card shows the batch)."""
        return card_post(item)

    async def sweep(self, deps: Deps) -> None:
        """Nothing to learn in bulk: each is read on its own schedule."""

    async def poll(self, deps: Deps, item: TrackedItem, sent: dict[str, Any] | None = None) -> PollOutcome:
        """Read progress cheaply; update the card when it moved; summarise once when every call is done."""
        fresh = await deps.store.tracked.get(
            item.id
        )  # a stop may have added stopped_by since the tick read it
        item = fresh or item
        data: dict[str, Any] = dict(item.data)
        api = await api_of(deps, item.external_id, data)
        analysis: BatchAnalysis | None = None
        bland_said: str | None = None
        if api is BatchApi.V2:
            read = await read_v2(deps, item.external_id, data)
            progress = read.progress
            if read.lifecycle.final and read.lifecycle.phase != "completed":
                bland_said = f"{read.lifecycle.phase}" + (
                    f": {read.lifecycle.message}" if read.lifecycle.message else ""
                )
        else:
            try:
                batch = await deps.bland.get_batch(item.external_id, include_calls=False)
            except BlandNotFoundError:
                # Bland no longer answers for it on v1: ask again which API Bland speaks (for new batches)
                # and follow this one through the call list, which both APIs share.
                await relearn(deps)
                await deps.store.tracked.merge_data(Kind.BATCH, item.external_id, {"api": BatchApi.V2.value})
                raise
            progress = BatchProgress.of(batch)
            analysis = batch.analysis
        recovered = data.pop("checking", False)
        data["progress"] = progress.as_data()
        data["api"] = api.value
        status = f"{progress.completed}/{progress.total}" + (
            f" read {progress.read}/{progress.to_read}" if progress.to_read else ""
        )
        if (
            api is BatchApi.V1
            and not progress.done
            and data.get("stopped_by")
            and await every_call_final(deps, item.external_id)
        ):
            progress = replace(progress, done=True)
        if not progress.done:
            moved = status != item.last_status or recovered
            if moved and card_may_update(deps.clock.now(), item, force=recovered):
                return PollOutcome(
                    status=status,
                    data=data,
                    deliveries=(await updated_card(deps, item, card_info(item, progress)),),
                    card_updated=True,
                )
            return PollOutcome(status=status, data=data)
        count, tally, results = await summary(deps, item, analysis, api=api, bland_said=bland_said)
        if tally:
            data["tally"] = tally
        final = BatchState.STOPPED if data.get("stopped_by") else BatchState.COMPLETED
        label = str(item.data.get("label") or item.external_id)
        how = f"stopped by <@{data['stopped_by']}>" if data.get("stopped_by") else "completed"
        event = Event(
            key=f"batch:{item.external_id}:{final}",
            topic=Topic.BATCHES,
            text=f":checkered_flag: Batch *{label_text(label)}* {how}: {count} calls",
            where=(item.channel, shown_on(item)),
            requester=item.data.get("requester") or item.created_by,
            dm_text=f"Your batch *{label_text(label)}* {how}: {count} calls. The summary and CSV are in its thread.",
        )
        final_card = await updated_card(deps, item, card_info(item, progress, state=final, tally=tally))
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
        await deps.outbox.add(
            await updated_card(deps, item, card_info(item, saved_progress(item.data), note=note))
        )
        await deps.store.tracked.merge_data(Kind.BATCH, item.external_id, {"checking": True})

    async def give_up(self, deps: Deps, item: TrackedItem) -> None:
        """Say in the thread that the bot stopped following this batch."""
        await deps.outbox.add(
            gave_up_notice(item, what="batch", max_age=self.max_age),
            await updated_card(
                deps, item, card_info(item, saved_progress(item.data), state=BatchState.UNKNOWN)
            ),
        )
