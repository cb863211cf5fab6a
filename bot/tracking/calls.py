"""Tracking single calls: card updates while live, results into the thread once when done."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from bot.bland.errors import BlandError
from bot.bland.models import Call
from bot.blocks.format import duration, mask_phone
from bot.blocks.messages import CallCardInfo, call_card, call_result, call_state, notice, outcome_line
from bot.domain import AuditAction, AuditOutcome, CallState, DncSource, Kind, Topic, TrackedState
from bot.flows import dnc
from bot.flows.notifications import Event
from bot.mrkdwn import escape
from bot.store.outbox import Delivery
from bot.store.tracked import Glimpse, TrackedItem
from bot.tracking.kinds import PollOutcome, card_update, file_in_thread, gave_up_notice, in_thread, own_card

if TYPE_CHECKING:
    from bot.deps import Deps

log = logging.getLogger(__name__)

# Who put an opted-out number on the do-not-call list: the callee, through Bland (audit and list entries).
OPT_OUT_ACTOR = "callee"

# When a call has ended but Bland has not yet written the summary/analysis, re-poll this often.
MISSING_RETRY_DELAYS = (15.0, 30.0, 60.0)


def card_info(
    deps: Deps, item: TrackedItem, state: CallState, note: str | None = None, call: Call | None = None
) -> CallCardInfo:
    """Assemble what the card shows from the tracked row (and, once it ended, the call's outcome)."""
    redact = deps.settings.redact_phone_numbers
    return CallCardInfo(
        call_id=item.external_id,
        to=item.data.get("to"),
        requester=item.created_by,
        task=item.data.get("task"),
        state=state,
        note=note,
        redact=redact,
        outcome=outcome_line(call, redact=redact) if call is not None else None,
    )


def card_post(deps: Deps, item: TrackedItem) -> Delivery:
    """The card that anchors the call's thread, as the call stands when tracking starts."""
    text, blocks = call_card(card_info(deps, item, CallState.of(item.last_status)))
    return Delivery(key=own_card(item), channel=item.channel, text=text, blocks=blocks)


def updated_card(
    deps: Deps,
    item: TrackedItem,
    state: CallState,
    *,
    note: str | None = None,
    call: Call | None = None,
    final: bool = False,
) -> Delivery:
    """The card's new state (with the outcome, given the ended `call`: its final state, as is `final`)."""
    text, blocks = call_card(card_info(deps, item, state, note, call))
    return card_update(item, text, blocks, final=final or call is not None)


def results(deps: Deps, item: TrackedItem, call: Call, *, missing_note: str | None = None) -> list[Delivery]:
    """Outcome, summary, variables and transcript for the thread (the whole result as a file when long)."""
    result = call_result(
        call,
        redact=deps.settings.redact_phone_numbers,
        missing_note=missing_note,
        retry=bool(item.data.get("request_id")),  # placed from Slack: its settings are known
    )
    out = [in_thread(item, f"call:{item.external_id}:result", result.text, result.blocks)]
    if result.attached:
        out.append(
            file_in_thread(
                item,
                f"call:{item.external_id}:transcript",  # the key files sent before this change were under
                filename=f"call-{item.external_id}.txt",
                content=result.file_text + "\n",
                title=f"Call {item.external_id}: the whole result",
            )
        )
    return out


# The list sweep: pages of GET /v1/calls read per interval, whatever the number of calls in flight.
SWEEP_PAGE = 1000
MAX_SWEEP_PAGES = 5
# Calls the sweep looks at between two yields to the event loop.
SWEEP_CHUNK = 500
# A call the list shows unchanged is read on its own only this many intervals later (the safety net).
SAFETY_NET_FACTOR = 6


# What a webhook body must carry to stand for the call's details (docs: the post-call payload).
DETAILS = frozenset({"call_length", "completed", "status"})
TRANSCRIPT = frozenset({"concatenated_transcript", "transcripts"})


def ended_call(item: TrackedItem, sent: dict[str, Any] | None) -> Call | None:
    """The call as Bland's signed post-call webhook gave it, when it is this item's and has ended.

    Bland documents the post-call payload as the call's details (`GET /v1/calls/{id}`), so a burst of
    calls ending reports without a read each, which Bland's request budget would pace to a few a
    second. A payload that does not read as an ended call of this id is ignored (the call is read);
    one missing its summary is read again later, as any call Bland has not finished writing. A body without
    the call's details (its length and transcript: an org can have Bland leave transcripts out) is not
    taken for them: the call is read."""
    if not sent or not DETAILS.issubset(sent) or not TRANSCRIPT.intersection(sent):
        return None
    try:
        call = Call.model_validate(sent)
    except ValueError:
        return None
    return call if call.id == item.external_id and call.is_terminal else None


async def opt_out(deps: Deps, item: TrackedItem, call: Call) -> tuple[Delivery, ...]:
    """When the callee asked never to be called again (OPT_OUT_VARIABLE), list the number and say so.

    The list entry is idempotent: a poll repeated after a crash lists it once and says it once (the line's
    key is the call's)."""
    variable = deps.settings.opt_out_variable
    number = call.to or item.data.get("to")
    if not number or not dnc.opted_out(call, variable):
        return ()
    added = await deps.store.dnc.add(
        number, reason=f"opted out during call {call.id}", source=DncSource.OPT_OUT, added_by=OPT_OUT_ACTOR
    )
    masked = mask_phone(number, redact=deps.settings.redact_phone_numbers)
    if added:
        await deps.store.audit.record(
            actor=OPT_OUT_ACTOR,
            action=AuditAction.DNC_ADD,
            outcome=AuditOutcome.ADDED,
            channel=item.channel,
            target=masked,
            detail=f"opted out during call {call.id} ({variable})",
        )
    text, blocks = notice(
        f"The callee asked not to be called again (`{variable}`): {masked} is on the do-not-call list "
        "and will not be dialled from Slack.",
        ":no_entry_sign:",
    )
    return (in_thread(item, f"call:{item.external_id}:opt_out", text, blocks),)


class CallKind:
    """The tracked kind for single calls: found changed through Bland's list, then read in full."""

    name = Kind.CALL
    max_age = 24 * 3600.0

    def __init__(self) -> None:
        self._next_sweep = 0.0

    async def sweep(self, deps: Deps) -> None:
        """Once per interval, list the calls made since the oldest one followed (a few requests, whatever N).

        A call the list shows ended, or in another state than its card, is due at once and read in full;
        one it shows unchanged is read on its own only much later. A call the list misses (too new, or past
        the pages read) keeps its own schedule. When the list cannot be read, every call keeps its own.
        """
        now = deps.clock.now()
        if now < self._next_sweep or not deps.settings.call_list_sweep:
            return
        self._next_sweep = now + self.base_interval(deps)
        # The lead is held a lease long and renewed at every sweep: held only an interval, it would lapse
        # just as the leader's next sweep fell due, and two replicas would sweep around each change.
        if not await deps.store.chores.take_turn("sweep:call", deps.replica, deps.settings.lease_seconds):
            return  # another replica leads the sweep
        items = await deps.store.tracked.glimpse_active(Kind.CALL)  # no row's data is read or parsed
        if not items:
            return
        by_id: dict[str, list[Glimpse]] = {}
        for item in items:
            by_id.setdefault(item.external_id, []).append(item)
        since = datetime.fromtimestamp(min(i.created_at for i in items) - 86400, UTC).date().isoformat()
        seen: dict[str, Call] = {}
        try:
            for page in range(MAX_SWEEP_PAGES):
                bounds = {"from": page * SWEEP_PAGE, "to": (page + 1) * SWEEP_PAGE}
                listed = await deps.bland.list_calls(start_date=since, limit=SWEEP_PAGE, **bounds)
                seen.update((c.id, c) for c in listed.calls if c.id in by_id)
                if len(listed.calls) < SWEEP_PAGE or len(seen) == len(by_id):
                    break
        except BlandError as exc:
            log.warning("call list sweep failed (%s); every call keeps its own schedule", exc)
            return
        ended: list[int] = []
        still: list[int] = []
        later = now + self.base_interval(deps) * SAFETY_NET_FACTOR
        for n, (call_id, call) in enumerate(seen.items()):
            if n and n % SWEEP_CHUNK == 0:
                await asyncio.sleep(0)  # let Slack's acks and webhooks in between chunks
            for glimpse in by_id[call_id]:
                if CallState.of(glimpse.last_status) in (CallState.COMPLETED, CallState.FAILED):
                    continue  # ended; it waits for Bland's summary on its own schedule
                state = call_state(call)
                if call.is_terminal:
                    ended.append(glimpse.id)  # read in full now, for its results
                elif state == glimpse.last_status:
                    still.append(glimpse.id)
                else:
                    await self._moved(deps, glimpse, state, later)
        # With webhooks, an ended call's own webhook brings it, read and all: the list only makes sure of it
        # an interval later (reading it now would spend Bland's budget on what is already on its way).
        net = self.base_interval(deps) if deps.settings.webhook_url else 0.0
        await deps.store.tracked.schedule(ended, at=now + net, sooner_only=bool(net))
        await deps.store.tracked.schedule(still, at=later, later_only=True)

    async def _moved(self, deps: Deps, glimpse: Glimpse, state: str, later: float) -> None:
        """A live call the list shows in a new state: its card shows it from the list row itself (a call is
        read in full only once it ended), unless a poll holds it right now (then that poll shows it)."""
        item = await deps.store.tracked.get(glimpse.id)
        if item is None or item.last_status != glimpse.last_status:
            return  # polled meanwhile: that poll showed what it found
        async with deps.unit() as u:
            if await deps.store.tracked.note_status(
                item.id, seen=item.last_status, status=state, next_poll_at=later
            ):
                await u.deliver(updated_card(deps, item, CallState.of(state)))

    def base_interval(self, deps: Deps) -> float:
        """Return CALL_POLL_SECONDS."""
        return deps.settings.call_poll_seconds

    def card(self, deps: Deps, item: TrackedItem) -> Delivery:
        """Return the post of the call's card."""
        return card_post(deps, item)

    async def poll(self, deps: Deps, item: TrackedItem, sent: dict[str, Any] | None = None) -> PollOutcome:
        """Fetch the call (or take the ended call Bland's signed webhook carried); update the card on change;
        post results once when it ends."""
        call = ended_call(item, sent) or await deps.bland.get_call(item.external_id)
        state = call_state(call)
        data: dict[str, Any] = dict(item.data)
        if not data.get("to") and call.to:
            data["to"] = call.to
        recovered = data.pop("checking", False)
        if not call.is_terminal:
            if state != item.last_status or recovered:
                return PollOutcome(status=state, data=data, deliveries=(updated_card(deps, item, state),))
            return PollOutcome(status=state, data=data)
        settings = (data.get("form") or {}).get("settings") or {}
        missing = not call.is_error and (
            call.summary is None
            or (call.analysis_schema and call.analysis is None)
            or (settings.get("citation_schema_ids") and call.citations is None)
        )
        retries = int(data.get("missing_retries", 0))
        if missing and retries < len(MISSING_RETRY_DELAYS):
            data["missing_retries"] = retries + 1
            waiting = (
                (updated_card(deps, item, state, note="Waiting for Bland's summary…"),)
                if state != item.last_status
                else ()
            )
            return PollOutcome(
                status=state, retry_in=MISSING_RETRY_DELAYS[retries], data=data, deliveries=waiting
            )
        note = "Bland never sent a summary for this call." if missing and call.summary is None else None
        number = mask_phone(item.data.get("to") or call.to, redact=deps.settings.redact_phone_numbers)
        outcome = CallState.FAILED if call.is_error else CallState.COMPLETED
        event = Event(
            key=f"call:{item.external_id}:{outcome}",
            topic=Topic.CALLS,
            text=f":telephone_receiver: Call to {number} {outcome} ({duration(call.duration_seconds)})",
            where=(item.channel, own_card(item)),
            requester=item.created_by,
            dm_text=f"Your call to {number} {outcome}. The results are in its thread.",
        )
        return PollOutcome(
            status=state,
            done=True,
            final_state=TrackedState.DONE,
            data=data,
            deliveries=(
                *results(deps, item, call, missing_note=note),
                *await opt_out(deps, item, call),
                updated_card(deps, item, state, call=call),
            ),
            events=(event,),
        )

    async def on_failure(self, deps: Deps, item: TrackedItem, error: Exception) -> None:
        """Say on the card that Bland is not answering and the bot keeps checking."""
        detail = escape(error.user_message) if isinstance(error, BlandError) else "unexpected error"
        note = f":hourglass: Checking… ({detail}) The bot keeps trying."
        await deps.outbox.add(updated_card(deps, item, CallState.of(item.last_status), note=note))
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
        await deps.outbox.add(
            gave_up_notice(item, what="call", max_age=self.max_age),
            updated_card(deps, item, CallState.UNKNOWN, final=True),
        )
