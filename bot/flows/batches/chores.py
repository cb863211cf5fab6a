"""The scheduler's batch chores: remind approvers, warn requesters, expire, send held waves, reconcile."""

from __future__ import annotations

from bot.blocks.format import label_text, mentions, slack_date
from bot.deps import Deps
from bot.domain import RequestState
from bot.flows.batches.approval import expire
from bot.flows.batches.send import reconcile, send
from bot.flows.batches.state import RECHECK_SECONDS, card_channel, move, request_card
from bot.store.batch_requests import BatchRequest
from bot.store.outbox import Delivery

# The requester is told this long before a pending request expires.
EXPIRY_WARNING_SECONDS = 3600.0


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
