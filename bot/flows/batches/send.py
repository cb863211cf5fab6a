"""Sending an approved request: hold it for calling hours or split it into waves, POST it once (never again
on an ambiguous answer), record what Bland took, and reconcile a send whose outcome is unknown."""

from __future__ import annotations

import logging
from typing import Any

from bot.bland.budget import Priority
from bot.bland.errors import BlandError, BlandOutcomeUnknownError
from bot.bland.webhooks import status_token
from bot.blocks.format import label_text, slack_date
from bot.blocks.messages import notice
from bot.deps import Deps
from bot.domain import AuditAction, AuditOutcome, BatchApi, Kind, RequestState, Topic
from bot.flows.batch_api import ApiUnknownError, current_api, find_by_marker
from bot.flows.batch_cards import card_info
from bot.flows.batch_form import tagged_label
from bot.flows.batches.plan import Plan, plan_for
from bot.flows.batches.state import (
    MAX_RECONCILE_CHECKS,
    Audit,
    batch_data,
    card_channel,
    card_delivery,
    describe_state,
    listed_numbers,
    load_request,
    move,
    record,
    request_card,
)
from bot.flows.notifications import Event
from bot.limits import LABEL_MAX_CHARS
from bot.mrkdwn import escape
from bot.payloads import label_marker
from bot.store.batch_requests import BatchRequest
from bot.store.outbox import Delivery

log = logging.getLogger(__name__)

# Bland refuses a call scheduled less than 5 minutes ahead (docs/bland.md, "Calls"): a v2 call whose
# callee's hours open sooner than this is scheduled this far ahead instead.
MIN_AHEAD_SECONDS = 6 * 60.0


def bland_body(deps: Deps, request: BatchRequest, api: BatchApi, starts: dict[int, float]) -> dict[str, Any]:
    """The request Bland receives: the frozen payload in `api`'s shape, plus, with PUBLIC_URL set, where
    Bland reports each call and the whole batch, and (v2) each row's start time.

    Delivery settings, not what the approver approved: they are added at send time, outside the
    fingerprint, so that a changed PUBLIC_URL applies to requests already waiting."""
    settings = deps.settings
    status = settings.batch_status_url(status_token(settings.erasure_secret, request.id))
    if api is BatchApi.V1:
        return request.payload.to_bland(api, webhook=settings.webhook_url)
    return request.payload.to_bland(api, webhook=settings.webhook_url, status_webhook=status, starts=starts)


def ring_times(plan: Plan, now: float) -> dict[int, float]:
    """v2: each row whose callee's hours (or the chosen start) are still to come rings then, at least
    MIN_AHEAD_SECONDS from now; the others ring at once (no start time)."""
    return {row: max(at, now + MIN_AHEAD_SECONDS) for at, rows in plan.waves if at > now for row in rows}


async def dispatch(deps: Deps, request: BatchRequest, plan: Plan | None = None) -> str | None:
    """Keep an approved request from going out before its start time and its callees' calling hours: hold
    it until then, split it into waves when their hours open at different times, or (no hours at all) fail
    it; say what happened. None: it may go out whole now.

    `plan` is the request's plan already worked out (the approval does that before it decides, so that
    nothing waits between the decision and the send)."""
    plan = plan if plan is not None else await plan_for(deps, request)
    if plan.never or not plan.waves:
        return await no_hours(deps, request.id)
    if len(plan.waves) > 1:
        return await split(deps, request, plan)
    when = plan.waves[0][0]
    if when <= deps.clock.now():
        return None
    async with deps.unit() as u:
        await deps.store.batch_requests.hold_until(request.id, when)
        await u.deliver(await card_delivery(deps, await load_request(deps, request.id)))
    if plan.capped_by:
        why = f"sent now it would pass {plan.capped_by} of the plan, so it goes out {slack_date(when)}"
    elif plan.outside:
        why = (
            f"{plan.outside} of its rows are outside calling hours then, so it goes out {slack_date(when)}, "
            "when every callee is inside them"
        )
    else:
        why = f"it starts {slack_date(when)}, as requested"
    return f"Approved: {why}. The requester or an admin can cancel it until then."


async def no_hours(deps: Deps, request_id: str) -> str:
    """Fail an approved request some of whose callees have no calling hours; say so."""
    reason = "some of its numbers have no calling hours within two weeks; nothing was dialled"
    if await move(deps, request_id, RequestState.APPROVED, RequestState.SENDING) is not None:
        await move(deps, request_id, RequestState.SENDING, RequestState.SEND_FAILED, reason=reason)
    return f"Not sent: {reason}. Split the list by region and request it again."


def wave_label(request: BatchRequest, wave: int, waves: int) -> str:
    """A wave's label: the request's, and which wave it is."""
    suffix = f" · wave {wave} of {waves}"
    return (request.label or request.id)[: LABEL_MAX_CHARS - len(suffix)] + suffix


async def split(deps: Deps, request: BatchRequest, plan: Plan) -> str:
    """Send an approved request in waves, under its one approval: each wave is its own request (its rows,
    its label marker, its send), held until its callees' hours open. The split and its waves commit
    together, so that a crash leaves either the whole request approved or every wave in place.

    Returns what to tell the approver (the first wave goes out at once when its hours are open)."""
    payload = request.payload
    if payload.fingerprint() != request.fingerprint:
        if await move(deps, request.id, RequestState.APPROVED, RequestState.SENDING):
            await move(
                deps,
                request.id,
                RequestState.SENDING,
                RequestState.SEND_FAILED,
                reason="the stored request changed after it was requested",
            )
        return "Not sent: the stored request no longer matches what was approved. Request it again."
    rows = payload.rows
    now = deps.clock.now()
    count = len(plan.waves)
    repo = deps.store.batch_requests
    wave_ids: list[tuple[str, float]] = []
    async with deps.unit() as u:
        if await u.move(repo, request.id, RequestState.APPROVED, RequestState.SENDING) is None:
            return "Approved; it is already being sent."
        for number, (at, indices) in enumerate(plan.waves, start=1):
            wave_id = f"{request.id}w{number}"
            label = wave_label(request, number, count)
            body = payload.replace(
                call_data=[rows[i] for i in indices],
                label=tagged_label(label, wave_id),
                metadata={**payload.metadata, "bot_request_id": wave_id},
            )
            await repo.add_wave(
                request,
                number,
                payload=body,
                fingerprint=body.fingerprint(),
                label=label,
                send_at=at if at > now else None,
            )
            wave_ids.append((wave_id, at))
        await repo.split(request.id, count)
        await u.deliver(await card_delivery(deps, await load_request(deps, request.id)))
        detail = f"in {count} waves: " + ", ".join(str(len(rows)) for _, rows in plan.waves)
        audit = Audit(request.approver or "?", AuditAction.BATCH_SEND, AuditOutcome.SCHEDULED, detail=detail)
        await record(u, request, audit)
    parts = []
    for (wave_id, at), (_, indices) in zip(wave_ids, plan.waves, strict=True):
        if at <= now:
            sent = await send(deps, wave_id, approver=request.approver or "?")
            parts.append(f"{len(indices)} now ({sent.split('.')[0].lower()})")
        else:
            parts.append(f"{len(indices)} {slack_date(at)}")
    why = (
        f"sent at once it would pass {plan.capped_by} of the plan, so it goes out in {count} waves at least an "
        "hour apart"
        if plan.capped_by
        else f"its callees' calling hours open at different times, so it goes out in {count} waves"
    )
    return (
        f"Approved: {why}, each inside its callees' hours: {'; '.join(parts)}. The requester or an admin can "
        "cancel the waves that have not started."
    )


async def send(
    deps: Deps,
    request_id: str,
    *,
    approver: str,
    decided: tuple[BatchRequest, Plan] | None = None,
) -> str:
    """POST the frozen payload once, inside calling hours. Ambiguous failures become outcome_unknown.

    On v1 a request waits for its callees' hours (or goes in waves); on v2 it goes at once as one batch
    whose calls each ring when their callee's hours open. `decided` is the request and its plan as the
    approval read them just before deciding."""
    try:
        api, _ = await current_api(deps)
    except ApiUnknownError as exc:
        reason = f"{escape(exc.user_message)}; nothing was dialled"
        if await move(deps, request_id, RequestState.APPROVED, RequestState.SENDING) is not None:
            await move(deps, request_id, RequestState.SENDING, RequestState.SEND_FAILED, reason=reason)
        return f"Approved, but not sent: {reason}. Approve a new request once Bland answers again."
    starts: dict[int, float] = {}
    capped_by: str | None = None
    if api is BatchApi.V1:
        held = (
            await dispatch(deps, *decided)
            if decided
            else await dispatch(deps, await load_request(deps, request_id))
        )
        if held is not None:
            return held
    else:
        ahead = decided[1] if decided else await plan_for(deps, await load_request(deps, request_id))
        if ahead.never or not ahead.waves:
            return await no_hours(deps, request_id)
        starts = ring_times(ahead, deps.clock.now())
        capped_by = ahead.capped_by
    # The send's share of Bland's request budget is taken before the request says "sending": a wait for it
    # then never leaves a request sending that Bland was not even asked (it would have to be reconciled).
    await deps.bland.budget.spend(Priority.SEND)
    request = await move(deps, request_id, RequestState.APPROVED, RequestState.SENDING, batch_api=api.value)
    if request is None:
        return "Approved; it is already being sent."
    if request.payload.fingerprint() != request.fingerprint:
        await move(
            deps,
            request_id,
            RequestState.SENDING,
            RequestState.SEND_FAILED,
            reason="the stored request changed after it was requested",
        )
        log.error("batch request %s: payload no longer matches its fingerprint; not sent", request_id)
        return "Not sent: the stored request no longer matches what was approved. Request it again."
    listed = await listed_numbers(deps, request.payload)
    if listed:
        reason = (
            f"{listed} of its numbers went on the do-not-call list after it was requested, so nothing was "
            "dialled. Request it again: listed numbers are left out."
        )
        await move(
            deps,
            request_id,
            RequestState.SENDING,
            RequestState.SEND_FAILED,
            audit=Audit(approver, AuditAction.BATCH_SEND, AuditOutcome.SEND_FAILED, detail="do-not-call"),
            reason=reason,
        )
        return f"Not sent: {reason}"
    try:
        body = bland_body(deps, request, api, starts)
        if api is BatchApi.V1:
            batch_id = (await deps.bland.send_batch(body, spent=True)).batch_id
        else:
            batch_id = await deps.bland.create_batch_v2(body, spent=True)
    except BlandOutcomeUnknownError as exc:
        unknown = Event(
            key=f"batch_request:{request_id}:outcome_unknown",
            topic=Topic.BATCHES,
            text=f":grey_question: Outcome unknown: Bland did not answer clearly whether it took *{label_text(request.label)}*; "
            "the bot is reconciling and will not re-send",
            where=(card_channel(deps, request), request_card(request.card_of)),
            requester=request.requester,
        )
        await move(
            deps,
            request_id,
            RequestState.SENDING,
            RequestState.OUTCOME_UNKNOWN,
            event=unknown,
            audit=Audit(approver, AuditAction.BATCH_SEND, AuditOutcome.OUTCOME_UNKNOWN, detail=str(exc)),
            reason=str(exc),
        )
        return await reconcile(deps, request_id)
    except BlandError as exc:
        reason = escape(exc.user_message)
        await move(
            deps,
            request_id,
            RequestState.SENDING,
            RequestState.SEND_FAILED,
            audit=Audit(
                approver, AuditAction.BATCH_SEND, AuditOutcome.SEND_FAILED, detail=type(exc).__name__
            ),
            reason=reason,
        )
        return f"Approved, but Bland did not take the batch, so nothing was dialled. {reason}"
    assert batch_id is not None
    await mark_sent(deps, request_id, batch_id, from_state=RequestState.SENDING)
    later = f" {ringing_later(starts, capped_by=capped_by)}" if starts else ""
    return (
        f"Approved and sent: batch `{batch_id}`, {request.call_count} calls.{later} "
        "The approval card shows its progress."
    )


def ringing_later(starts: dict[int, float], *, capped_by: str | None = None) -> str:
    """Say which calls of a v2 batch ring later, and when (and why: calling hours, the start, or a cap)."""
    first, last = min(starts.values()), max(starts.values())
    when = slack_date(first) if last - first < 60 else f"between {slack_date(first)} and {slack_date(last)}"
    why = (
        f"so as not to pass {capped_by} of the plan (inside their callees' calling hours)"
        if capped_by
        else "when their callees' calling hours open (or at the chosen start)"
    )
    return f"{len(starts)} of them ring {when}, {why}."


async def mark_sent(deps: Deps, request_id: str, batch_id: str, *, from_state: RequestState) -> None:
    """Record the batch id, start tracking it and queue the card's update (now the batch's card) and the news,
    at once.

    One transaction: a crash leaves either a request still sending (reconciled, never re-sent) or a sent
    batch with everything people should see queued.
    """
    async with deps.unit() as u:
        request = await u.move(
            deps.store.batch_requests, request_id, from_state, RequestState.SENT, batch_id=batch_id
        )
        if request is None:
            return
        item = await deps.tracker.track(
            deps,
            Kind.BATCH,
            batch_id,
            card_channel(deps, request),
            created_by=request.requester,
            data=batch_data(request),
        )
        # The approval card becomes the batch's card: stamped, waiting for Bland's first progress report.
        live = card_info(item, None) if item is not None else None
        await u.deliver(await card_delivery(deps, request, live=live))
        started = Event(
            key=f"batch:{batch_id}:started",
            topic=Topic.BATCHES,
            text=f":rocket: Batch started: *{label_text(request.label)}* ({request.call_count} calls), approved by <@{request.approver}>",
            where=(card_channel(deps, request), request_card(request.card_of)),
            requester=request.requester,  # their Home tab changes (no DM: the decision already told them)
        )
        await u.announce(started)
        await record(
            u,
            request,
            Audit(
                request.approver or "?",
                AuditAction.BATCH_SEND,
                AuditOutcome.SENT,
                detail=request_id,
                target=batch_id,
            ),
        )


async def reconcile(deps: Deps, request_id: str) -> str:
    """Look for the request's batch in Bland's list (by the label marker); tell the approver what was found."""
    request = await load_request(deps, request_id)
    if request.state != RequestState.OUTCOME_UNKNOWN:
        return describe_state(request)
    checks = await deps.store.batch_requests.count_check(request_id)
    marker = label_marker(request_id)
    try:
        api = BatchApi(request.batch_api) if request.batch_api else (await current_api(deps))[0]
        found = await find_by_marker(deps, api, marker)
    except BlandError as exc:
        message = (
            f"Bland did not answer clearly whether it took the batch, and its batch list cannot be read now "
            f"({escape(exc.user_message)}). The bot will check again; it will not send the batch twice."
        )
        await _tell_approver(deps, request, f"reconcile:{checks}", message)
        return message
    if found is not None:
        await mark_sent(deps, request_id, found, from_state=RequestState.OUTCOME_UNKNOWN)
        message = (
            f"Bland did not answer clearly, but its batch list shows this request as batch `{found}`: "
            "it was sent once, and the bot is following it."
        )
        await _tell_approver(deps, request, "reconciled", message)
        return message
    if checks >= MAX_RECONCILE_CHECKS:
        reason = f"Bland never listed a batch labelled {marker} after {checks} checks, so it was not taken"
        await move(deps, request_id, RequestState.OUTCOME_UNKNOWN, RequestState.SEND_FAILED, reason=reason)
        message = f"{reason}. Nothing was re-sent; request the batch again if it is still needed."
        await _tell_approver(deps, request, "gave_up", message)
        return message
    message = (
        "Bland did not answer clearly, and its batch list shows no batch for this request yet. "
        "The bot will keep checking; it will not send the batch again on its own."
    )
    await _tell_approver(deps, request, "not_found", message)
    return message


async def _tell_approver(deps: Deps, request: BatchRequest, step: str, message: str) -> None:
    """Say in the request's thread, to the approver, what reconciliation found (once per finding)."""
    text, blocks = notice(f"<@{request.approver}> {message}", ":mag:")
    await deps.outbox.add(
        Delivery(
            key=f"batch_request:{request.id}:{step}",
            channel=card_channel(deps, request),
            text=text,
            blocks=blocks,
            thread_of=request_card(request.card_of),
        )
    )
