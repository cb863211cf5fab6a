"""Tracking single calls: card updates while live, results into the thread once when done."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from bot.bland.errors import BlandError
from bot.bland.models import Call
from bot.blocks.format import duration, mask_phone
from bot.blocks.messages import CallCardInfo, call_card, call_result, call_state
from bot.domain import CallState, Kind, Topic, TrackedState
from bot.flows.notifications import Event, announce
from bot.store.tracked import TrackedItem, card_event_key
from bot.tracking.kinds import PollOutcome, card_may_update, say_gave_up

if TYPE_CHECKING:
    from bot.deps import Deps

log = logging.getLogger(__name__)

# When a call has ended but Bland has not yet written the summary/analysis, re-poll this often.
MISSING_RETRY_DELAYS = (15.0, 30.0, 60.0)


def card_info(deps: Deps, item: TrackedItem, state: CallState, note: str | None = None) -> CallCardInfo:
    """Assemble what the card shows from the tracked row."""
    return CallCardInfo(
        call_id=item.external_id,
        to=item.data.get("to"),
        requester=item.created_by,
        task=item.data.get("task"),
        state=state,
        note=note,
        redact=deps.settings.redact_phone_numbers,
    )


async def publish_card(deps: Deps, item: TrackedItem, *, state: CallState) -> TrackedItem:
    """Post the card that anchors the call's thread, and remember it."""
    text, blocks = call_card(card_info(deps, item, state))
    key = card_event_key(Kind.CALL, item.external_id)
    ts = await deps.notifier.post(item.channel, text, blocks, event_key=key)
    if ts is None:  # already posted before a restart
        ts = await deps.store.notifications.ts_of(key, item.channel)
    if ts:
        await deps.store.tracked.set_card(item.id, ts)
        item = replace(item, card_ts=ts, thread_ts=item.thread_ts or ts, last_status=state)
    await deps.store.tracked.record_poll(
        item.id, next_poll_at=deps.clock.now(), last_status=state, attempts=0, failures=0
    )
    return item


async def update_card(
    deps: Deps, item: TrackedItem, state: CallState, *, note: str | None = None, force: bool = False
) -> None:
    """Update the card in place, at most once per CARD_MIN_INTERVAL unless forced."""
    if not item.card_ts or not card_may_update(deps.clock.now(), item, force=force):
        return
    text, blocks = call_card(card_info(deps, item, state, note))
    await deps.notifier.update(item.channel, item.card_ts, text, blocks)
    await deps.store.tracked.card_updated(item.id)


async def post_results(deps: Deps, item: TrackedItem, call: Call, *, missing_note: str | None = None) -> None:
    """Post outcome, summary, variables and transcript into the thread, each exactly once."""
    redact = deps.settings.redact_phone_numbers
    result = call_result(call, redact=redact, missing_note=missing_note)
    thread = item.thread_ts or item.card_ts
    key = f"call:{item.external_id}:result"
    await deps.notifier.post(item.channel, result.text, result.blocks, thread_ts=thread, event_key=key)
    if result.transcript_text and not result.transcript_fits:
        await deps.notifier.upload(
            item.channel,
            filename=f"transcript-{item.external_id}.txt",
            content=result.transcript_text + "\n",
            title=f"Transcript of call {item.external_id}",
            thread_ts=thread,
            event_key=f"call:{item.external_id}:transcript",
        )


class CallKind:
    """The tracked kind for single calls."""

    name = Kind.CALL
    max_age = 24 * 3600.0

    def base_interval(self, deps: Deps) -> float:
        """Return CALL_POLL_SECONDS."""
        return deps.settings.call_poll_seconds

    async def ensure_card(self, deps: Deps, item: TrackedItem) -> TrackedItem:
        """Post the call's card if Slack did not take it when the call was sent."""
        if item.card_ts:
            return item
        return await publish_card(deps, item, state=CallState.of(item.last_status))

    async def poll(self, deps: Deps, item: TrackedItem) -> PollOutcome:
        """Fetch the call; update the card on change; post results once when it ends."""
        call = await deps.bland.get_call(item.external_id)
        state = call_state(call)
        data: dict[str, Any] = dict(item.data)
        if not data.get("to") and call.to:
            data["to"] = call.to
        recovered = data.pop("checking", False)
        if not call.is_terminal:
            if state != item.last_status or recovered:
                await update_card(deps, item, state, force=True)
            return PollOutcome(status=state, data=data)
        missing = not call.is_error and (
            call.summary is None or (call.analysis_schema and call.analysis is None)
        )
        retries = int(data.get("missing_retries", 0))
        if missing and retries < len(MISSING_RETRY_DELAYS):
            data["missing_retries"] = retries + 1
            if state != item.last_status:
                await update_card(deps, item, state, note="Waiting for Bland's summary…", force=True)
            return PollOutcome(status=state, retry_in=MISSING_RETRY_DELAYS[retries], data=data)
        note = "Bland never sent a summary for this call." if missing and call.summary is None else None
        await post_results(deps, item, call, missing_note=note)
        await update_card(deps, item, state, force=True)
        number = mask_phone(item.data.get("to") or call.to, redact=deps.settings.redact_phone_numbers)
        outcome = CallState.FAILED if call.is_error else CallState.COMPLETED
        await announce(
            deps,
            Event(
                key=f"call:{item.external_id}:{outcome}",
                topic=Topic.CALLS,
                text=f":telephone_receiver: Call to {number} {outcome} ({duration(call.duration_seconds)})",
                where=(item.channel, item.card_ts),
                requester=item.created_by,
                dm_text=f"Your call to {number} {outcome}. The results are in its thread.",
            ),
            retry_later=True,
        )
        return PollOutcome(status=state, done=True, final_state=TrackedState.DONE, data=data)

    async def on_failure(self, deps: Deps, item: TrackedItem, error: Exception) -> None:
        """Say on the card that Bland is not answering and the bot keeps checking."""
        detail = error.user_message if isinstance(error, BlandError) else "unexpected error"
        note = f":hourglass: Checking… ({detail}) The bot keeps trying."
        await update_card(deps, item, CallState.of(item.last_status), note=note, force=True)
        data = dict(item.data)
        data["checking"] = True
        await deps.store.tracked.record_poll(
            item.id,
            next_poll_at=item.next_poll_at,
            last_status=item.last_status,
            attempts=item.attempts,
            failures=item.failures,
            data=data,
        )

    async def give_up(self, deps: Deps, item: TrackedItem) -> None:
        """Say in the thread that the bot stopped following this call."""
        await say_gave_up(deps, item, what="call", max_age=self.max_age)
        await update_card(deps, item, CallState.UNKNOWN, force=True)
