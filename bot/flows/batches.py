"""Batch requests: freeze, approve (at most once), send (never twice), reconcile, expire, stop.

The state machine is in ARCHITECTURE.md, "State machines"; every move is one conditional UPDATE, and only the caller that
wins a move does its work.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from bot.bland.errors import BlandError, BlandOutcomeUnknownError
from bot.blocks.approvals import DailyCheck, approval_card, slack_date
from bot.blocks.batches import Rerun, rerun_kind
from bot.blocks.format import escape, label_text, mask_phone
from bot.blocks.messages import notice
from bot.deps import Deps
from bot.domain import AuditAction, AuditOutcome, Kind, RequestState, Topic, card_key
from bot.errors import FormErrors, UserError
from bot.flows.batch_form import BatchForm, Recipients, label_marker, placeholders_in, tagged_label
from bot.flows.cards import CARD_WAIT_SECONDS
from bot.flows.notifications import Event
from bot.hours import CallingHours
from bot.ids import BlockId
from bot.limits import LABEL_MAX_CHARS
from bot.permissions import Role
from bot.store.batch_requests import BatchRequest
from bot.store.outbox import Delivery, OutboxState, card_update
from bot.unit import Unit

log = logging.getLogger(__name__)

RECHECK_SECONDS = 60.0
MAX_RECONCILE_CHECKS = 10


def fingerprint(payload: dict[str, Any]) -> str:
    """Return the sha256 of the payload's canonical JSON: what the approver approves is what is sent."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def leave_out_listed(deps: Deps, form: BatchForm, *, where: str) -> BatchForm:
    """Take the rows whose numbers are on the do-not-call list out of a form, and name them (masked).

    Raise FormErrors on `where` when no row is left."""
    recipients = form.recipients
    numbers = [row[recipients.phone_column] for row in recipients.rows]
    listed = await deps.store.dnc.find(numbers)
    if not listed:
        return form
    kept = [
        (row, line)
        for row, line in zip(recipients.rows, recipients.lines, strict=True)
        if row[recipients.phone_column] not in listed
    ]
    if not kept:
        raise FormErrors(
            {where: f"Every number of the list ({len(numbers)}) is on the do-not-call list: nothing to send."}
        )
    redact = deps.settings.redact_phone_numbers
    return replace(
        form,
        recipients=replace(recipients, rows=[row for row, _ in kept], lines=[line for _, line in kept]),
        excluded=tuple(mask_phone(number, redact=redact) for number in numbers if number in listed),
    )


def _numbers(payload: dict[str, Any]) -> list[str]:
    return [str(row.get("phone_number")) for row in payload.get("call_data") or [] if isinstance(row, dict)]


async def calling_hours_of(
    deps: Deps, numbers: list[str], *, start: float | None = None
) -> tuple[int, float | None]:
    """How many numbers are outside calling hours at `start` (default: now), and when from then all are
    inside together (None: not within two weeks). Worked out off the event loop: each number's zone is
    looked up."""
    begin = max(deps.clock.now(), start or 0.0)
    window = deps.settings.calling_window
    if window.always:  # nothing to look up
        return 0, begin
    instant = datetime.fromtimestamp(begin, UTC)
    outside, at = await asyncio.to_thread(window.batch_window, numbers, instant)
    return outside, None if at is None else exact_epoch(at, instant, begin)


def exact_epoch(when: datetime, start: datetime, start_epoch: float) -> float:
    """`when` in epoch seconds: exactly `start_epoch` when it is the start itself.

    A float turned into a datetime and back is not always the same float (about a third of clock times
    come back a little later), so "now" must never make that round trip: a later "now" reads as a time
    to come, and a batch whose callees are all inside hours would be counted outside them. Other times
    are hour boundaries, exact in either form."""
    return start_epoch if when <= start else when.timestamp()


@dataclass(frozen=True)
class Plan:
    """When a list's rows go out: waves of (epoch seconds, row indices), earliest first, from `start`;
    and the rows with no calling hours at all."""

    start: float
    waves: list[tuple[float, list[int]]]
    never: list[int]

    @property
    def outside(self) -> int:
        """How many rows are outside calling hours at the start."""
        return sum(len(rows) for at, rows in self.waves if at > self.start) + len(self.never)

    @property
    def summary(self) -> list[tuple[float, int]]:
        """When, and how many rows: what the approval card shows."""
        return [(at, len(rows)) for at, rows in self.waves]


async def plan_of(deps: Deps, numbers: list[str], *, start: float | None = None) -> Plan:
    """Split numbers into waves, each when its callees' calling hours open, from `start` (or now, whichever
    is later). Worked out off the event loop: each number's zone is looked up."""
    at = max(deps.clock.now(), start or 0.0)
    window = deps.settings.calling_window
    if window.always:
        return plan_at(window, numbers, at)
    return await asyncio.to_thread(plan_at, window, numbers, at)


def plan_at(window: CallingHours, numbers: list[str], at: float) -> Plan:
    """Split numbers into waves from the instant `at` (epoch seconds), each when its callees' hours open."""
    if window.always:
        return Plan(at, [(at, list(range(len(numbers))))] if numbers else [], [])
    instant = datetime.fromtimestamp(at, UTC)
    waves, never = window.waves(numbers, instant)
    return Plan(at, [(exact_epoch(when, instant, at), rows) for when, rows in waves], never)


async def plan_for(deps: Deps, request: BatchRequest) -> Plan:
    """How an approved request goes out. A whole request may be split into waves; a wave goes out whole,
    when all its callees are inside hours together; a test dials only its first row."""
    numbers = _numbers(request.payload)
    if request.payload.get("test_mode"):
        numbers = numbers[:1]
    if request.parent_id is None:
        return await plan_of(deps, numbers, start=request.start_at)
    _, at = await calling_hours_of(deps, numbers, start=request.start_at)
    rows = list(range(len(numbers)))
    start = max(deps.clock.now(), request.start_at or 0.0)
    return Plan(start, [(at, rows)], []) if at is not None else Plan(start, [], rows)


# How far ahead a batch may be scheduled.
MAX_START_DAYS = 30


def start_time(deps: Deps, chosen: Any) -> float | None:
    """Read the batch modal's start time (epoch seconds); raise FormErrors when it has passed or is too far."""
    if chosen in (None, ""):
        return None
    try:
        at = float(chosen)
    except (TypeError, ValueError):
        raise FormErrors({BlockId.START_AT: "Choose a date and a time, or leave it empty."}) from None
    now = deps.clock.now()
    if at < now - 60:
        raise FormErrors({BlockId.START_AT: "That time has passed: choose one to come, or leave it empty."})
    if at > now + MAX_START_DAYS * 86400:
        raise FormErrors({BlockId.START_AT: f"At most {MAX_START_DAYS} days ahead."})
    return at if at > now else None


async def check_hours(deps: Deps, form: BatchForm, *, where: str) -> BatchForm:
    """Plan the rows' waves from the start time (for the approval card); refuse rows with no calling hours."""
    recipients = form.recipients
    numbers = [row[recipients.phone_column] for row in recipients.rows]
    plan = await plan_of(deps, numbers[:1] if form.test_mode else numbers, start=form.start_at)
    if plan.never:
        lines = ", ".join(str(recipients.lines[i]) for i in plan.never[:10])
        more = f" and {len(plan.never) - 10} more" if len(plan.never) > 10 else ""
        raise FormErrors(
            {
                where: f"{len(plan.never)} number(s) have no calling hours the bot can tell (line {lines}{more}): "
                "their time zone is unknown. Take them out, or have an admin set CALLING_TIMEZONE."
            }
        )
    return replace(form, outside_rows=plan.outside, wave_plan=tuple(plan.summary))


async def ready_to_freeze(deps: Deps, form: BatchForm, *, where: str) -> BatchForm:
    """The rules every batch keeps before its payload is frozen: numbers on the do-not-call list are left
    out (and named on the card), and the rest must share calling hours; problems go on input `where`."""
    return await check_hours(deps, await leave_out_listed(deps, form, where=where), where=where)


async def listed_numbers(deps: Deps, payload: dict[str, Any]) -> int:
    """How many of a frozen payload's numbers are on the do-not-call list now."""
    return len(await deps.store.dnc.find(_numbers(payload)))


async def count_today(deps: Deps) -> DailyCheck:
    """Count today's calls (UTC) through the API, for the DAILY_CALL_LIMIT warning.

    Counting stops just past the limit: beyond it the exact number changes nothing."""
    today = datetime.fromtimestamp(deps.clock.now(), UTC).date().isoformat()
    limit = deps.settings.daily_call_limit
    try:
        counted = await deps.bland.count_calls(created_at=today, cap=limit + 1)
    except BlandError as exc:
        log.warning("cannot count today's calls: %s", exc)
        return DailyCheck(today=None, limit=limit)
    return DailyCheck(today=counted, limit=limit)


def card_channel(deps: Deps, request: BatchRequest) -> str:
    """Return where a request's approval card is (or goes)."""
    return request.card_channel or deps.settings.approval_channel or request.channel


async def render_card(
    deps: Deps, request: BatchRequest, daily: DailyCheck | None = None
) -> tuple[str, list[Any]]:
    """Render a request's approval card as it stands (with its waves, when it was split)."""
    waves = await deps.store.batch_requests.waves_of(request.id) if request.waves else []
    return approval_card(
        request,
        placeholders=placeholders_in(str(request.payload.get("base_prompt") or "")),
        redact=deps.settings.redact_phone_numbers,
        cost_per_minute=deps.settings.cost_per_minute,
        daily=daily,
        hours=None if deps.settings.calling_window.always else deps.settings.calling_window.describe(),
        waves=waves,
    )


def request_card(request_id: str) -> str:
    """Return the key of a request's approval card."""
    return card_key("batch_request", request_id)


async def card_delivery(
    deps: Deps, request: BatchRequest, daily: DailyCheck | None = None, *, first: bool = False
) -> Delivery:
    """The approval card as the request stands: its first post, or the update that replaces what it shows.

    A wave has no card of its own: its parent's card shows it."""
    if request.parent_id:
        request = await _load(deps, request.parent_id)
    text, blocks = await render_card(deps, request, daily)
    key = request_card(request.id)
    channel = card_channel(deps, request)
    if first:
        return Delivery(key=key, channel=channel, text=text, blocks=blocks)
    return card_update(key, channel, text, blocks)


@dataclass(frozen=True)
class Audit:
    """The audit entry of a request's move: who, what, how it ended (recorded in the move's unit)."""

    actor: str
    action: AuditAction
    outcome: AuditOutcome
    detail: str | None = None
    target: str | None = None


async def move(
    deps: Deps,
    request_id: str,
    from_state: RequestState,
    to_state: RequestState,
    *,
    event: Event | None = None,
    audit: Audit | None = None,
    **fields: Any,
) -> BatchRequest | None:
    """Make one conditional move and queue the card's new state, the event's lines and the audit entry,
    committed together (in the caller's unit of work when there is one).

    Returns the moved request, or None when another caller won the move. The card cannot go stale: its
    update is delivered through Slack's failures, the latest state last.
    """
    async with deps.unit() as u:
        request = await u.move(deps.store.batch_requests, request_id, from_state, to_state, **fields)
        if request is None:
            return None
        await u.deliver(await card_delivery(deps, request))
        if event is not None:
            await u.announce(event)
        if audit is not None:
            await record(u, request, audit)
    return request


async def record(u: Unit, request: BatchRequest, audit: Audit) -> None:
    """Record a request's audit entry: who, where (its card), what (the payload fingerprint), the outcome."""
    await u.audit(
        actor=audit.actor,
        action=audit.action,
        outcome=audit.outcome,
        channel=request.card_channel,
        target=audit.target or request.id,
        fingerprint=request.fingerprint,
        detail=audit.detail,
    )


async def request_batch(deps: Deps, form: BatchForm, *, requester: str) -> BatchRequest:
    """Freeze the exact payload with its fingerprint and expiry; queue its approval card with it."""
    await deps.permissions.require(requester, Role.OPERATOR, "request batches")
    request_id = uuid.uuid4().hex[:12]
    payload = form.payload(request_id)
    digest = fingerprint(payload)
    now = deps.clock.now()
    daily = await count_today(deps)
    channel = deps.settings.approval_channel or form.channel
    async with deps.unit() as u:
        request = await deps.store.batch_requests.create(
            request_id,
            payload=payload,
            fingerprint=digest,
            requester=requester,
            channel=form.channel,
            expires_at=now + deps.settings.approval_ttl_hours * 3600,
            label=form.label,
            call_count=form.call_count,
            note=form.note,
            card_channel=channel,
            excluded=list(form.excluded),
            outside_rows=form.outside_rows,
            start_at=form.start_at,
            wave_plan=list(form.wave_plan),
        )
        await u.deliver(await card_delivery(deps, request, daily, first=True))
        event = Event(
            key=f"batch_request:{request_id}:requested",
            topic=Topic.APPROVALS,
            text=f":inbox_tray: Batch approval requested: *{label_text(form.label)}* ({form.call_count} calls) by <@{requester}>",
            where=(channel, request_card(request_id)),
        )
        await u.announce(event)
        await u.audit(
            actor=requester,
            action=AuditAction.BATCH_REQUEST,
            outcome=AuditOutcome.PENDING,
            channel=form.channel,
            target=request_id,
            fingerprint=digest,
            detail=f"{form.call_count} calls: {form.label}",
        )
    state = await deps.outbox.wait_for(request_card(request_id), channel, timeout=CARD_WAIT_SECONDS)
    if state is OutboxState.DROPPED:
        found = await deps.store.outbox.state_of(request_card(request_id), channel)
        reason = f"the bot cannot post the approval card in <#{channel}> ({found[1] if found else 'refused'})"
        await move(
            deps,
            request_id,
            RequestState.PENDING,
            RequestState.CANCELLED,
            audit=Audit(requester, AuditAction.BATCH_CANCEL, AuditOutcome.CANCELLED, detail=reason),
            reason=reason,
        )
        raise UserError(
            f"Nothing was requested: {reason}. Invite the bot there with `/invite @bland`, then request the batch "
            "again."
        )
    return await _load(deps, request_id)


async def _load(deps: Deps, request_id: str) -> BatchRequest:
    request = await deps.store.batch_requests.get(request_id)
    if request is None:
        raise UserError(f"There is no batch request `{request_id}`.")
    return request


def describe_state(request: BatchRequest) -> str:
    """Say in one sentence where a request stands (for people whose click came too late)."""
    who = f" by <@{request.approver}>" if request.approver else ""
    return {
        RequestState.APPROVED: f"It was already approved{who}.",
        RequestState.SENDING: f"It was already approved{who} and is being sent.",
        RequestState.SENT: f"It was already approved{who} and goes out in {request.waves} waves."
        if request.waves
        else f"It was already approved{who} and sent as batch `{request.batch_id}`.",
        RequestState.SEND_FAILED: f"It was approved{who}, but Bland did not take it: {request.reason}",
        RequestState.OUTCOME_UNKNOWN: f"It was approved{who}; the bot is checking whether Bland took it.",
        RequestState.REJECTED: f"It was already rejected{who}: {request.reason}",
        RequestState.CANCELLED: "The requester cancelled it.",
        RequestState.EXPIRED: "It expired before anyone decided.",
    }.get(request.state, f"It is {request.state}.")


async def check_can_decide(deps: Deps, request_id: str, user: str) -> BatchRequest:
    """Raise UserError, saying why, unless `user` may approve or reject this pending request now."""
    request = await _load(deps, request_id)
    if request.state == RequestState.PENDING and request.expires_at <= deps.clock.now():
        await expire(deps, request)
        request = await _load(deps, request_id)
    if request.state != RequestState.PENDING:
        raise UserError(f"Nothing happened: {describe_state(request)}")
    if not await deps.permissions.has_role(user, Role.APPROVER):
        if not deps.settings.approver_users and not deps.settings.admin_users:
            raise UserError(
                "Nothing happened: nobody may approve batches yet. An admin must set APPROVER_USERS or ADMIN_USERS."
            )
        raise UserError(
            "Nothing happened: only approvers decide batches (APPROVER_USERS or ADMIN_USERS, user groups included)."
        )
    if user == request.requester and not deps.settings.allow_self_approval:
        raise UserError(
            "Nothing happened: you requested this batch, so a different approver must decide it "
            "(an admin can set ALLOW_SELF_APPROVAL)."
        )
    return request


async def approve(deps: Deps, request_id: str, *, user: str) -> str:
    """Approve on behalf of `user` and send the batch; returns what to tell them."""
    request = await check_can_decide(deps, request_id, user)
    # Worked out before the decision, so that nothing comes between the approval and its send.
    plan = await plan_for(deps, request)
    won = await move(
        deps,
        request_id,
        RequestState.PENDING,
        RequestState.APPROVED,
        event=decided(request, f"approved by <@{user}>"),
        audit=Audit(user, AuditAction.BATCH_APPROVE, AuditOutcome.APPROVED),
        approver=user,
        decided_at=deps.clock.now(),
    )
    if not won:
        raise UserError(f"Nothing happened: {describe_state(await _load(deps, request_id))}")
    return await send(deps, request_id, approver=user, decided=(request, plan))


def with_webhooks(deps: Deps, payload: dict[str, Any]) -> dict[str, Any]:
    """The frozen payload plus, with PUBLIC_URL set, where Bland reports each call and the whole batch.

    Delivery settings, not what the approver approved: they are added at send time, outside the
    fingerprint, so that a changed PUBLIC_URL applies to requests already waiting."""
    url = deps.settings.webhook_url
    return {**payload, "webhook": url, "batch_webhook": url} if url else payload


async def dispatch(deps: Deps, request: BatchRequest, plan: Plan | None = None) -> str | None:
    """Keep an approved request from going out before its start time and its callees' calling hours: hold
    it until then, split it into waves when their hours open at different times, or (no hours at all) fail
    it; say what happened. None: it may go out whole now.

    `plan` is the request's plan already worked out (the approval does that before it decides, so that
    nothing waits between the decision and the send)."""
    plan = plan if plan is not None else await plan_for(deps, request)
    if plan.never or not plan.waves:
        reason = "some of its numbers have no calling hours within two weeks; nothing was dialled"
        if await move(deps, request.id, RequestState.APPROVED, RequestState.SENDING) is not None:
            await move(deps, request.id, RequestState.SENDING, RequestState.SEND_FAILED, reason=reason)
        return f"Not sent: {reason}. Split the list by region and request it again."
    if len(plan.waves) > 1:
        return await split(deps, request, plan)
    when = plan.waves[0][0]
    if when <= deps.clock.now():
        return None
    await deps.store.batch_requests.hold_until(request.id, when)
    await deps.outbox.add(await card_delivery(deps, await _load(deps, request.id)))
    why = (
        f"{plan.outside} of its rows are outside calling hours then, so it goes out {slack_date(when)}, when "
        "every callee is inside them"
        if plan.outside
        else f"it starts {slack_date(when)}, as requested"
    )
    return f"Approved: {why}. The requester or an admin can cancel it until then."


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
    if fingerprint(payload) != request.fingerprint:
        if await move(deps, request.id, RequestState.APPROVED, RequestState.SENDING):
            await move(
                deps,
                request.id,
                RequestState.SENDING,
                RequestState.SEND_FAILED,
                reason="the stored request changed after it was requested",
            )
        return "Not sent: the stored request no longer matches what was approved. Request it again."
    rows = payload.get("call_data") or []
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
            body = {
                **payload,
                "call_data": [rows[i] for i in indices],
                "label": tagged_label(label, wave_id),
                "metadata": {**(payload.get("metadata") or {}), "bot_request_id": wave_id},
            }
            await repo.add_wave(
                request,
                number,
                payload=body,
                fingerprint=fingerprint(body),
                label=label,
                send_at=at if at > now else None,
            )
            wave_ids.append((wave_id, at))
        await repo.split(request.id, count)
        await u.deliver(await card_delivery(deps, await _load(deps, request.id)))
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
    return (
        f"Approved: its callees' calling hours open at different times, so it goes out in {count} waves, each "
        f"inside its callees' hours: {'; '.join(parts)}. The requester or an admin can cancel the waves that "
        "have not started."
    )


async def send(
    deps: Deps,
    request_id: str,
    *,
    approver: str,
    decided: tuple[BatchRequest, Plan] | None = None,
) -> str:
    """POST the frozen payload once, inside calling hours. Ambiguous failures become outcome_unknown.

    `decided` is the request and its plan as the approval read them just before deciding."""
    held = await dispatch(deps, *decided) if decided else await dispatch(deps, await _load(deps, request_id))
    if held is not None:
        return held
    request = await move(deps, request_id, RequestState.APPROVED, RequestState.SENDING)
    if request is None:
        return "Approved; it is already being sent."
    if fingerprint(request.payload) != request.fingerprint:
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
        created = await deps.bland.send_batch(with_webhooks(deps, request.payload))
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
        reason = exc.user_message
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
    assert created.batch_id is not None
    await mark_sent(deps, request_id, created.batch_id, from_state=RequestState.SENDING)
    return f"Approved and sent: batch `{created.batch_id}`, {request.call_count} calls. Progress is in the card's thread."


async def mark_sent(deps: Deps, request_id: str, batch_id: str, *, from_state: RequestState) -> None:
    """Record the batch id, start tracking it and queue its live card, the card update and the news, at once.

    One transaction: a crash leaves either a request still sending (reconciled, never re-sent) or a sent
    batch with everything people should see queued.
    """
    async with deps.unit() as u:
        request = await u.move(
            deps.store.batch_requests, request_id, from_state, RequestState.SENT, batch_id=batch_id
        )
        if request is None:
            return
        await u.deliver(await card_delivery(deps, request))
        await deps.tracker.track(
            deps,
            Kind.BATCH,
            batch_id,
            card_channel(deps, request),
            created_by=request.requester,
            data=batch_data(request),
        )
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


def batch_data(request: BatchRequest) -> dict[str, Any]:
    """What a batch sent from a request remembers of it (its live card goes into the request's thread)."""
    return {
        "label": request.label,
        "request_id": request.card_of,  # its live card goes into the approval card's thread
        "wave": request.wave,
        "approver": request.approver,
        "requester": request.requester,
        "test_mode": bool(request.payload.get("test_mode")),
    }


async def reconcile(deps: Deps, request_id: str) -> str:
    """Look for the request's batch in Bland's list (by the label marker); tell the approver what was found."""
    request = await _load(deps, request_id)
    if request.state != RequestState.OUTCOME_UNKNOWN:
        return describe_state(request)
    checks = await deps.store.batch_requests.count_check(request_id)
    marker = label_marker(request_id)
    try:
        listed = await deps.bland.list_batches()
    except BlandError as exc:
        message = (
            f"Bland did not answer clearly whether it took the batch, and its batch list cannot be read now "
            f"({exc.user_message}). The bot will check again; it will not send the batch twice."
        )
        await _tell_approver(deps, request, f"reconcile:{checks}", message)
        return message
    found = next((b for b in listed.batches if marker in (b.label or "") and b.batch_id), None)
    if found is not None and found.batch_id:
        await mark_sent(deps, request_id, found.batch_id, from_state=RequestState.OUTCOME_UNKNOWN)
        message = (
            f"Bland did not answer clearly, but its batch list shows this request as batch `{found.batch_id}`: "
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


async def reject(deps: Deps, request_id: str, *, user: str, reason: str) -> str:
    """Reject a pending request with a reason (stored escaped: a request's reason is always mrkdwn-safe)."""
    request = await check_can_decide(deps, request_id, user)
    typed, reason = reason, escape(reason)
    if not await move(
        deps,
        request_id,
        RequestState.PENDING,
        RequestState.REJECTED,
        event=decided(request, f"rejected by <@{user}>: {reason}"),
        audit=Audit(user, AuditAction.BATCH_REJECT, AuditOutcome.REJECTED, detail=typed),
        approver=user,
        reason=reason,
        decided_at=deps.clock.now(),
    ):
        raise UserError(f"Nothing happened: {describe_state(await _load(deps, request_id))}")
    return f"Rejected {label_text(request.label)}; the requester has been told."


async def cancel(deps: Deps, request_id: str, *, user: str) -> str:
    """Cancel a pending request (its requester), or an approved one held for calling hours (its requester or
    an admin) before it starts."""
    request = await _load(deps, request_id)
    if request.waves:
        return await cancel_waves(deps, request, user=user)
    held = request.state == RequestState.APPROVED and request.send_at is not None
    admin = held and await deps.permissions.has_role(user, Role.ADMIN)
    if user != request.requester and not admin:
        who = "or an admin " if held else ""
        raise UserError(
            f"Nothing happened: only <@{request.requester}>, who requested it, {who}can cancel this batch."
        )
    if not await move(
        deps,
        request_id,
        RequestState.APPROVED if held else RequestState.PENDING,
        RequestState.CANCELLED,
        event=decided(request, f"cancelled by <@{user}>", tell_requester=user != request.requester),
        audit=Audit(user, AuditAction.BATCH_CANCEL, AuditOutcome.CANCELLED),
        decided_at=deps.clock.now(),
        reason=f"cancelled by <@{user}>",
    ):
        raise UserError(f"Nothing happened: {describe_state(await _load(deps, request_id))}")
    return f"Cancelled your request {label_text(request.label)}."


async def cancel_waves(deps: Deps, request: BatchRequest, *, user: str) -> str:
    """Cancel the waves of a split request that have not started (its requester or an admin); the waves
    already sent go on, each stoppable from its own card."""
    if user != request.requester and not await deps.permissions.has_role(user, Role.ADMIN):
        raise UserError(
            f"Nothing happened: only <@{request.requester}>, who requested it, or an admin can cancel its waves."
        )
    cancelled = []
    for wave in await deps.store.batch_requests.waves_of(request.id):
        if wave.state == RequestState.APPROVED and await move(
            deps,
            wave.id,
            RequestState.APPROVED,
            RequestState.CANCELLED,
            audit=Audit(user, AuditAction.BATCH_CANCEL, AuditOutcome.CANCELLED),
            decided_at=deps.clock.now(),
            reason=f"cancelled by <@{user}>",
        ):
            cancelled.append(wave)
    if not cancelled:
        raise UserError("Nothing happened: every wave of this batch has started; stop them from their cards.")
    calls = sum(wave.call_count for wave in cancelled)
    if user != request.requester:
        await deps.outbox.add(
            Delivery(
                key=f"batch_request:{request.id}:waves_cancelled",
                channel=f"@{request.requester}",
                text=f"<@{user}> cancelled the waves of *{label_text(request.label)}* that had not started "
                f"({calls} calls).",
                link_to=(request_card(request.id), card_channel(deps, request)),
            )
        )
    return (
        f"Cancelled {len(cancelled)} wave(s) of {label_text(request.label)} that had not started ({calls} calls). "
        "Waves already sent go on: stop them from their cards."
    )


def decided(request: BatchRequest, how: str, *, tell_requester: bool = True) -> Event:
    """A decision, for subscribers and (in a DM) the requester."""
    return Event(
        key=f"batch_request:{request.id}:decided",
        topic=Topic.APPROVALS,
        text=f":scales: Batch *{label_text(request.label)}* ({request.call_count} calls) {how}",
        where=(request.card_channel or request.channel, request_card(request.id)),
        requester=request.requester if tell_requester else None,
        dm_text=f"Your batch request *{label_text(request.label)}* was {how}." if tell_requester else None,
    )


async def expire(deps: Deps, request: BatchRequest) -> bool:
    """Mark one pending request expired and update its card."""
    event = decided(request, "not decided in time: it expired")
    audit = Audit("scheduler", AuditAction.BATCH_EXPIRE, AuditOutcome.EXPIRED)
    return (
        await move(deps, request.id, RequestState.PENDING, RequestState.EXPIRED, event=event, audit=audit)
        is not None
    )


# The requester is told this long before a pending request expires.
EXPIRY_WARNING_SECONDS = 3600.0


def mentions(ids: tuple[str, ...]) -> str:
    """Mention people (`U…`, `W…`) and user groups (`S…`)."""
    return " ".join(f"<!subteam^{i}>" if i.startswith("S") else f"<@{i}>" for i in ids)


async def _queue_once(deps: Deps, request: BatchRequest, column: str, delivery: Delivery) -> None:
    """Mark the request and queue the message in one transaction, so a reminder goes once."""
    async with deps.unit() as u:
        if await deps.store.batch_requests.mark(request.id, column):
            await u.deliver(delivery)


async def remind(deps: Deps) -> None:
    """Remind approvers once in a pending request's thread; warn its requester an hour before it expires."""
    now = deps.clock.now()
    settings = deps.settings
    repo = deps.store.batch_requests
    if settings.approval_remind_minutes > 0:
        waited = settings.approval_remind_minutes * 60
        for request in await repo.to_remind(created_before=now - waited):
            who = mentions(settings.approver_users or settings.admin_users) or "Approvers"
            text = (
                f":bell: {who}: *{label_text(request.label)}* ({request.call_count} calls) from "
                f"<@{request.requester}> has waited {round((now - request.created_at) / 60)} minutes for a "
                f"decision. It expires {slack_date(request.expires_at)}."
            )
            reminder = Delivery(
                key=f"batch_request:{request.id}:reminder",
                channel=card_channel(deps, request),
                text=text,
                thread_of=request_card(request.id),
            )
            await _queue_once(deps, request, "reminded_at", reminder)
    for request in await repo.to_warn(expiring_before=now + EXPIRY_WARNING_SECONDS):
        if request.expires_at - request.created_at <= EXPIRY_WARNING_SECONDS or request.expires_at <= now:
            continue  # it never had an hour to wait, or it has expired already: the expiry says so
        warning = Delivery(
            key=f"batch_request:{request.id}:expiry_warning",
            channel=f"@{request.requester}",
            text=(
                f":hourglass: Your batch request *{label_text(request.label)}* has no decision yet and expires "
                f"{slack_date(request.expires_at)}. Nothing is dialled unless an approver approves it."
            ),
            link_to=(request_card(request.id), card_channel(deps, request)),
        )
        await _queue_once(deps, request, "warned_at", warning)


async def housekeeping(deps: Deps) -> None:
    """Scheduler chore: expire old requests; reconcile sends whose outcome is unknown or cut off."""
    now = deps.clock.now()
    repo = deps.store.batch_requests
    for request in await repo.expired(now):
        await expire(deps, request)
    for request in await repo.in_state(
        RequestState.SENDING, updated_before=now - deps.settings.send_stuck_seconds
    ):
        # The process died between claiming the send and hearing back: never re-send, reconcile.
        if await move(
            deps,
            request.id,
            RequestState.SENDING,
            RequestState.OUTCOME_UNKNOWN,
            reason="the bot stopped while sending",
        ):
            await reconcile(deps, request.id)
    for request in await repo.in_state(
        RequestState.APPROVED, updated_before=now - deps.settings.send_stuck_seconds
    ):
        # Approved, then the process died before it claimed the send (nothing reached Bland yet); or held for
        # calling hours, and their time has come.
        if request.send_at is not None and request.send_at > now:
            continue
        await send(deps, request.id, approver=request.approver or "?")
    for request in await repo.in_state(RequestState.OUTCOME_UNKNOWN, updated_before=now - RECHECK_SECONDS):
        await reconcile(deps, request.id)


async def rerun_rows(deps: Deps, batch_id: str) -> tuple[BatchRequest, dict[Rerun, list[dict[str, Any]]]]:
    """The request a batch came from, and its frozen rows grouped by how their calls ended (from Bland's
    call list, filtered by batch, so the grouping is Bland's final word)."""
    request = await deps.store.batch_requests.by_batch_id(batch_id)
    if request is None:
        raise UserError(f"Batch `{batch_id}` was not requested through this bot, so its rows are unknown.")
    ended: dict[str, Rerun] = {}
    async for call in deps.bland.list_pages(batch_id=batch_id):
        kind = rerun_kind(call)
        if kind is not None and call.to:
            ended[call.to] = kind
    grouped: dict[Rerun, list[dict[str, Any]]] = {kind: [] for kind in Rerun}
    for row in request.payload.get("call_data") or []:
        kind = ended.get(str(row.get("phone_number")))
        if kind is not None:
            grouped[kind].append(row)
    return request, grouped


async def rerun_choices(deps: Deps, batch_id: str, *, user: str) -> tuple[BatchRequest, dict[Rerun, int]]:
    """What a re-run of a finished batch could request: its request and how many rows of each kind."""
    await deps.permissions.require(user, Role.OPERATOR, "request batches")
    request, grouped = await rerun_rows(deps, batch_id)
    counts = {kind: len(rows) for kind, rows in grouped.items()}
    if not any(counts.values()):
        raise UserError("Every call of that batch was answered: there is nothing to re-run.")
    return request, counts


async def rerun(deps: Deps, batch_id: str, kinds: list[Rerun], *, user: str, origin: str) -> BatchRequest:
    """Request a batch again for the rows whose calls ended as `kinds`: a new request, approved like any."""
    request, grouped = await rerun_rows(deps, batch_id)
    rows = [row for kind in kinds for row in grouped[kind]]
    if not rows:
        raise UserError("No call of that batch ended that way: there is nothing to request again.")
    payload = request.payload
    columns = ["phone_number", *dict.fromkeys(k for row in rows for k in row if k != "phone_number")]
    recipients = Recipients(
        phone_column="phone_number",
        columns=columns,
        rows=[{k: str(v) for k, v in row.items()} for row in rows],
        lines=list(range(2, len(rows) + 2)),
    )
    chosen = ", ".join(kind.value for kind in kinds)
    form = BatchForm(
        label=f"{request.label or batch_id} (re-run: {chosen})"[:LABEL_MAX_CHARS],
        base_prompt=str(payload.get("base_prompt") or ""),
        recipients=recipients,
        placeholders=placeholders_in(str(payload.get("base_prompt") or "")),
        max_duration=float(payload.get("max_duration") or 5),
        voice=payload.get("voice"),
        from_number=payload.get("from"),
        record=bool(payload.get("record")),
        note=f"Re-run of batch {batch_id} for its {chosen} calls.",
        channel=origin or request.channel,
    )
    return await request_batch(
        deps, await ready_to_freeze(deps, form, where=BlockId.RERUN_KINDS), requester=user
    )
