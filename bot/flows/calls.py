"""Placing single calls: send now or at the next allowed time, retry, and reconcile a send whose outcome is
unknown (a call is never dialled twice)."""

from __future__ import annotations

import hashlib
import logging
import uuid
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.bland.errors import BlandError, BlandOutcomeUnknownError
from bot.bland.models import iso_time
from bot.blocks.format import mask_phone, slack_date
from bot.deps import Deps
from bot.domain import AuditAction, AuditOutcome, CallRequestState, CallState, Kind, Topic
from bot.errors import UserError
from bot.flows.audit import audited
from bot.flows.call_form import CallForm
from bot.flows.cards import card_shown
from bot.flows.notifications import Event
from bot.flows.usage import call_refusal
from bot.mrkdwn import escape
from bot.permissions import Role
from bot.store.call_requests import CallRequest
from bot.store.outbox import Delivery
from bot.store.tracked import TrackedItem

log = logging.getLogger(__name__)


async def send_call(
    deps: Deps, form: CallForm, *, requester: str, request_id: str | None = None
) -> TrackedItem:
    """Send the call once, record it, queue its card and start tracking it.

    The intent is written first: a process killed before it records Bland's answer leaves it `sending`, and
    housekeeping finds the call in Bland (by the request id in its metadata) rather than dialling again.
    A timeout or 5xx is never retried: it is recorded as outcome unknown, reported and reconciled.
    """
    await deps.permissions.require(requester, Role.OPERATOR, "send calls")
    await refuse_listed(deps, form.phone_number)  # the modal says so first; this is the rule
    request_id = request_id or uuid.uuid4().hex[:12]
    if not await deps.store.call_requests.create(
        request_id,
        requester=requester,
        channel=form.channel,
        to_number=form.phone_number,
        data=_intent(form, request_id),
    ):
        raise UserError(f"That call was placed already (request `{request_id}`); it is not dialled again.")
    return await _dial(deps, form, requester=requester, request_id=request_id)


async def refuse_listed(deps: Deps, number: str) -> None:
    """Raise UserError when `number` is on the do-not-call list: it is never dialled."""
    if await deps.store.dnc.get(number) is not None:
        raise UserError("That number is on the do-not-call list, so it is not dialled.")


def _intent(form: CallForm, request_id: str) -> dict[str, Any]:
    """What a call request keeps: the number, the task for its card, and the settings (for Retry)."""
    return {
        "to": form.phone_number,
        "task": form.task or f"pathway {form.pathway_id}",
        "request_id": request_id,
        "form": asdict(form),
    }


async def _dial(deps: Deps, form: CallForm, *, requester: str, request_id: str) -> TrackedItem:
    """POST /v1/calls for a request already written down in `sending`; never retried."""
    payload = form.to_bland(request_id=request_id, requester=requester, webhook=deps.settings.webhook_url)
    target = mask_phone(form.phone_number)
    try:
        result = await audited(
            deps,
            deps.bland.send_call(payload),
            actor=requester,
            action=AuditAction.CALL_SEND,
            channel=form.channel,
            target=target,
            fingerprint=request_id,
        )
    except BlandOutcomeUnknownError as exc:
        async with deps.unit() as u:
            await u.move(
                deps.store.call_requests,
                request_id,
                CallRequestState.SENDING,
                CallRequestState.OUTCOME_UNKNOWN,
            )
            await u.announce(
                Event(
                    key=f"call_request:{request_id}:outcome_unknown",
                    topic=Topic.CALLS,
                    text=f":grey_question: Outcome unknown: a call to {target} by <@{requester}> may or may not "
                    f"have been placed (request `{request_id}`); it was not retried",
                )
            )
        raise UserError(
            f"{escape(exc.user_message)} Check Bland's call log for a call to {target} "
            f"(request `{request_id}`) before trying again. The bot looks for it too, and follows it if found."
        ) from None
    except Exception:
        await deps.store.call_requests.move(request_id, CallRequestState.SENDING, CallRequestState.FAILED)
        raise
    call_id = str(result.call_id)
    async with deps.unit() as u:
        item = await _placed(deps, request_id, call_id)
        await u.audit(
            actor=requester,
            action=AuditAction.CALL_SEND,
            outcome=AuditOutcome.SENT,
            channel=form.channel,
            target=call_id,
            fingerprint=request_id,
            detail=target,
        )
    if item is None:  # the same call id twice in one channel cannot happen for a fresh call
        raise UserError(f"Call `{call_id}` is already tracked in <#{form.channel}>.")
    await card_shown(deps, item, f"Call `{call_id}` to {target} was placed.", f"/bland track {call_id}")
    return item


async def _placed(
    deps: Deps,
    request_id: str,
    call_id: str,
    *,
    from_states: tuple[CallRequestState, ...] = (CallRequestState.SENDING,),
    event: Event | None = None,
) -> TrackedItem | None:
    """Record Bland's call id and start tracking it with its card (and the event's lines), all at once (in
    the caller's unit of work when there is one)."""
    async with deps.unit() as u:
        request = await u.move(
            deps.store.call_requests, request_id, from_states, CallRequestState.SENT, call_id=call_id
        )
        if request is None:
            return None
        item = await deps.tracker.track(
            deps,
            Kind.CALL,
            call_id,
            request.channel,
            created_by=request.requester,
            data=request.data,
            last_status=CallState.QUEUED,
        )
        if event is not None:
            await u.announce(event)
    return item


# How many times a call whose outcome is unknown is looked for in Bland before the bot says it was not placed.
MAX_CALL_CHECKS = 5
# A call cut off mid-send is looked for among the calls Bland stamped this long either side of the send.
RECONCILE_WINDOW = 3600.0


async def reconcile_calls(deps: Deps) -> None:
    """Scheduler chore: find the calls of requests cut off mid-send (or answered ambiguously) in Bland.

    Found: it is followed like any call, and the requester is told. Never found after a few checks: the
    requester is told it was not placed. Nothing is ever dialled again.
    """
    stale = deps.clock.now() - deps.settings.send_stuck_seconds
    for request in await deps.store.call_requests.unsettled(updated_before=stale):
        try:
            await _reconcile_call(deps, request)
        except BlandError as exc:
            log.warning("cannot look for the call of request %s yet: %s", request.id, exc)


async def _reconcile_call(deps: Deps, request: CallRequest) -> None:
    checks = await deps.store.call_requests.count_check(request.id)
    target = mask_phone(request.to_number, redact=deps.settings.redact_phone_numbers)
    # Around the send, not on its UTC day: a call sent at 23:59:59 may be stamped on the next day by Bland.
    listed = await deps.bland.list_calls(
        to_number=request.to_number,
        start_date=iso_time(request.created_at - RECONCILE_WINDOW),
        end_date=iso_time(request.created_at + RECONCILE_WINDOW),
        limit=50,
    )
    for summary in listed.calls:
        if not summary.id:
            continue
        call = await deps.bland.get_call(summary.id)
        if (call.metadata or {}).get("bot_request_id") != request.id:
            continue
        found = Event(
            key=f"call_request:{request.id}:found",
            topic=Topic.CALLS,
            text=f":mag: The call to {target} (request `{request.id}`) was placed as `{call.id}`; the bot follows it",
            requester=request.requester,
            dm_text=f"Your call to {target} was placed (the bot was interrupted while sending it); it is call "
            f"`{call.id}`, and its card and results follow in <#{request.channel}>.",
        )
        await _placed(
            deps,
            request.id,
            call.id or summary.id,
            from_states=(CallRequestState.SENDING, CallRequestState.OUTCOME_UNKNOWN),
            event=found,
        )
        return
    if checks < MAX_CALL_CHECKS:
        return
    async with deps.unit() as u:
        moved = await u.move(
            deps.store.call_requests,
            request.id,
            (CallRequestState.SENDING, CallRequestState.OUTCOME_UNKNOWN),
            CallRequestState.NOT_PLACED,
        )
        if moved is None:
            return
        await u.announce(
            Event(
                key=f"call_request:{request.id}:not_placed",
                topic=Topic.CALLS,
                text=f":x: The call to {target} (request `{request.id}`) was never placed: Bland has no record of it",
                requester=request.requester,
                dm_text=f"Your call to {target} was not placed: the bot was interrupted while sending it, and "
                "Bland has no record of it. Send it again if it is still needed.",
            ),
        )


def retry_request_id(call_id: str) -> str:
    """The request id of a call's retry: one per call, however many clicks or Slack retries arrive."""
    return "r" + hashlib.sha256(call_id.encode()).hexdigest()[:11]


async def retry_call(deps: Deps, call_id: str, *, user: str) -> str:
    """Place a call again with the same settings (one retry per call; the Retry button confirms first)."""
    await deps.permissions.require(user, Role.OPERATOR, "send calls")
    original = await deps.store.call_requests.by_call_id(call_id)
    settings = original.data.get("form") if original else None
    if not isinstance(settings, dict):
        raise UserError(
            f"Call `{call_id}` was not placed from this bot, so its settings are unknown: send it again with `/bland call`."
        )
    form = CallForm.restore(settings)
    outside = outside_hours(deps, form.phone_number)
    if outside is not None:  # a retry keeps to calling hours too: it waits for the next allowed time
        why, allowed_at = outside
        if allowed_at is None:
            raise UserError(why)
        return await schedule_call(
            deps, form, requester=user, at=allowed_at, request_id=retry_request_id(call_id)
        )
    item = await send_call(deps, form, requester=user, request_id=retry_request_id(call_id))
    number = mask_phone(form.phone_number, redact=deps.settings.redact_phone_numbers)
    return f"Calling {number} again with the same settings: the new card is in <#{item.channel}>."


def outside_hours(deps: Deps, number: str) -> tuple[str, float | None] | None:
    """None when `number` may be called now; else why not, and when it may (None: the bot cannot tell)."""
    window = deps.settings.calling_window.window(number, datetime.fromtimestamp(deps.clock.now(), UTC))
    if window.open_now:
        return None
    masked = mask_phone(number, redact=deps.settings.redact_phone_numbers)
    hours = deps.settings.calling_window.describe()
    if window.next_at is None:
        return (
            f"The bot cannot tell what time it is where {masked} is, so it cannot keep to calling hours "
            f"({hours}). An admin can set CALLING_TIMEZONE for such numbers.",
            None,
        )
    # Plain text (a modal's error shows no mrkdwn): the callee's own clock when it has one zone, else UTC.
    zone = window.zones[0] if len(window.zones) == 1 else "UTC"
    when = window.next_at.astimezone(ZoneInfo(zone)).strftime("%a %d %b %H:%M")
    return (
        f"It is outside calling hours ({hours}, the callee's time) for {masked}. The next allowed time is "
        f"{when} ({zone}).",
        window.next_at.timestamp(),
    )


async def schedule_call(
    deps: Deps, form: CallForm, *, requester: str, at: float, request_id: str | None = None
) -> str:
    """Write a call down to be placed at `at` (a chore places it, once, even across restarts)."""
    await deps.permissions.require(requester, Role.OPERATOR, "send calls")
    request_id = request_id or uuid.uuid4().hex[:12]
    created = await deps.store.call_requests.create(
        request_id,
        requester=requester,
        channel=form.channel,
        to_number=form.phone_number,
        data=_intent(form, request_id),
        state=CallRequestState.SCHEDULED,
        send_at=at,
    )
    if not created:
        raise UserError(f"That call was scheduled or placed already (request `{request_id}`).")
    target = mask_phone(form.phone_number, redact=deps.settings.redact_phone_numbers)
    await deps.store.audit.record(
        actor=requester,
        action=AuditAction.CALL_SEND,
        outcome=AuditOutcome.SCHEDULED,
        channel=form.channel,
        target=target,
        fingerprint=request_id,
        detail=f"at {datetime.fromtimestamp(at, UTC).isoformat()}",
    )
    return (
        f":alarm_clock: The call to {target} is scheduled for {slack_date(at)}, inside the callee's calling "
        f"hours; its card appears in <#{form.channel}> when it is placed (request `{request_id}`)."
    )


async def send_scheduled_calls(deps: Deps) -> None:
    """Scheduler chore: place the scheduled calls that fell due, each once (claimed by one update)."""
    for request in await deps.store.call_requests.due(deps.clock.now()):
        if not await deps.store.call_requests.move(
            request.id, CallRequestState.SCHEDULED, CallRequestState.SENDING
        ):
            continue  # another tick or replica has it
        form = CallForm.restore(request.data["form"])
        try:
            await refuse_listed(deps, form.phone_number)  # it may have been listed since it was scheduled
            refusal = await call_refusal(deps)  # Bland would reject it: the plan's caps are reached
            if refusal is not None:
                raise UserError(refusal.why)
            await _dial(deps, form, requester=request.requester, request_id=request.id)
        except (UserError, BlandError) as exc:
            # Bland's own refusal (a 429, a 400: nothing dialled, the request already failed in _dial) is said
            # too, so nobody waits for a call that is not coming; an ambiguous answer is _dial's UserError.
            message = exc.message if isinstance(exc, UserError) else exc.user_message
            target = mask_phone(form.phone_number, redact=deps.settings.redact_phone_numbers)
            async with deps.unit() as u:
                await u.move(
                    deps.store.call_requests, request.id, CallRequestState.SENDING, CallRequestState.FAILED
                )
                await u.deliver(
                    Delivery(
                        key=f"call_request:{request.id}:scheduled_failed",
                        channel=f"@{request.requester}",
                        text=f":warning: Your scheduled call to {target} was not placed: {message}",
                    )
                )
