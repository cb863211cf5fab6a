"""Asking and deciding: freeze a request, approve (at most once), reject, cancel, expire."""

from __future__ import annotations

import uuid
from typing import Any

from bot.blocks.approvals import estimated_cost, over_balance_prompt
from bot.blocks.format import escape, label_text, money
from bot.deps import Deps
from bot.domain import AuditAction, AuditOutcome, RequestState, Topic
from bot.errors import UserError
from bot.flows.batch_api import guess_api
from bot.flows.batch_form import BatchForm
from bot.flows.batches.plan import plan_for
from bot.flows.batches.send import send
from bot.flows.batches.state import (
    Audit,
    card_channel,
    card_delivery,
    decided,
    describe_state,
    load_request,
    move,
    read_balance,
    request_card,
)
from bot.flows.cards import CARD_WAIT_SECONDS
from bot.flows.notifications import Event
from bot.permissions import Role
from bot.store.batch_requests import BatchRequest
from bot.store.outbox import Delivery, OutboxState


async def request_batch(deps: Deps, form: BatchForm, *, requester: str) -> BatchRequest:
    """Freeze the exact payload with its fingerprint and expiry; queue its approval card with it."""
    await deps.permissions.require(requester, Role.OPERATOR, "request batches")
    request_id = uuid.uuid4().hex[:12]
    payload = form.payload(request_id)
    digest = payload.fingerprint()
    now = deps.clock.now()
    balance = await read_balance(deps)  # shown beside the estimate: can the account pay for it?
    await guess_api(deps)  # the card says how the batch will go out, which depends on Bland's batch API
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
            skipped=list(form.recipients.skipped),
        )
        await u.deliver(await card_delivery(deps, request, form.cap_check, first=True, balance=balance))
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
    return await load_request(deps, request_id)


async def check_can_decide(deps: Deps, request_id: str, user: str) -> BatchRequest:
    """Raise UserError, saying why, unless `user` may approve or reject this pending request now."""
    request = await load_request(deps, request_id)
    if request.state == RequestState.PENDING and request.expires_at <= deps.clock.now():
        await expire(deps, request)
        request = await load_request(deps, request_id)
    if request.state != RequestState.PENDING:
        raise UserError(f"Nothing happened: {describe_state(request)}")
    if not await deps.permissions.has_role(user, Role.APPROVER):
        approvers = deps.permissions.holders(Role.APPROVER)
        if not approvers:
            raise UserError(
                "Nothing happened: nobody may approve batches yet. To name approvers, "
                f"{deps.permissions.who_can_fix()}."
            )
        raise UserError(f"Nothing happened: only {approvers} decide batches. Ask one of them to approve it.")
    if user == request.requester and not deps.settings.allow_self_approval:
        raise UserError(
            "Nothing happened: you requested this batch, so a different approver must decide it: "
            f"{deps.permissions.holders(Role.APPROVER, besides=user) or 'nobody else may approve yet'}."
        )
    return request


async def approve(
    deps: Deps, request_id: str, *, user: str, over_balance: bool = False
) -> str | tuple[str, list[Any]]:
    """Approve on behalf of `user` and send the batch; returns what to tell them.

    A batch whose estimated maximum cost is more than the account's balance (read now) is not approved
    until the approver confirms a second time (`over_balance`): they get that question instead."""
    request = await check_can_decide(deps, request_id, user)
    most = estimated_cost(request.call_count, request.payload.max_minutes, deps.settings.pricing)
    if not over_balance:
        balance = await read_balance(deps)
        if balance.balance is not None and balance.short_of(most):
            return over_balance_prompt(request_id, most, balance.balance)
    # Worked out before the decision, so that nothing comes between the approval and its send.
    plan = await plan_for(deps, request)
    won = await move(
        deps,
        request_id,
        RequestState.PENDING,
        RequestState.APPROVED,
        event=decided(request, f"approved by <@{user}>"),
        audit=Audit(
            user,
            AuditAction.BATCH_APPROVE,
            AuditOutcome.APPROVED,
            detail=f"over the balance, confirmed twice (up to {money(most)})" if over_balance else None,
        ),
        approver=user,
        decided_at=deps.clock.now(),
    )
    if not won:
        raise UserError(f"Nothing happened: {describe_state(await load_request(deps, request_id))}")
    return await send(deps, request_id, approver=user, decided=(request, plan))


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
        raise UserError(f"Nothing happened: {describe_state(await load_request(deps, request_id))}")
    return f"Rejected {label_text(request.label)}; the requester has been told."


async def cancel(deps: Deps, request_id: str, *, user: str) -> str:
    """Cancel a pending request (its requester), or an approved one held for calling hours (its requester or
    an admin) before it starts."""
    request = await load_request(deps, request_id)
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
        raise UserError(f"Nothing happened: {describe_state(await load_request(deps, request_id))}")
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


async def expire(deps: Deps, request: BatchRequest) -> bool:
    """Mark one pending request expired and update its card."""
    event = decided(request, "not decided in time: it expired")
    audit = Audit("scheduler", AuditAction.BATCH_EXPIRE, AuditOutcome.EXPIRED)
    return (
        await move(deps, request.id, RequestState.PENDING, RequestState.EXPIRED, event=event, audit=audit)
        is not None
    )
