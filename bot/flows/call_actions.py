"""What people do with a call already placed: look it up, follow it in a channel, stop it (or every live
call), and fetch its recording for themselves."""

from __future__ import annotations

import uuid

from bot.bland.models import Call
from bot.blocks.messages import call_state
from bot.deps import Deps
from bot.domain import AuditAction, AuditOutcome, Kind, Topic
from bot.errors import UserError
from bot.flows.audit import audited
from bot.flows.cards import card_shown
from bot.flows.notifications import Event
from bot.mrkdwn import escape
from bot.permissions import Role
from bot.store.tracked import TrackedItem


async def fetch_call(deps: Deps, call_id: str) -> Call:
    """Fetch one call for /bland status."""
    return await deps.bland.get_call(call_id.strip())


async def track_call(deps: Deps, call_id: str, *, channel: str, user: str) -> TrackedItem:
    """Post a card for an existing call in `channel` and follow it there."""
    call = await deps.bland.get_call(call_id)
    async with deps.unit() as u:
        item = await deps.tracker.track(
            deps,
            Kind.CALL,
            call.id or call_id,
            channel,
            created_by=user,
            data={"to": call.to, "task": (call.model_extra or {}).get("task"), "tracked_by": user},
            last_status=call_state(call),
        )
        if item is not None:
            await u.audit(
                actor=user,
                action=AuditAction.CALL_TRACK,
                outcome=AuditOutcome.OK,
                channel=channel,
                target=call_id,
            )
    if item is None:
        raise UserError(f"Call `{call_id}` is already tracked in this channel.")
    await card_shown(deps, item, f"Following call `{item.external_id}`.", f"/bland track {call_id}")
    return item


async def stop_call(deps: Deps, call_id: str, *, user: str, channel: str | None) -> str:
    """Stop a live call; returns a sentence saying what happened."""
    await deps.permissions.require(user, Role.OPERATOR, "stop calls")
    result = await audited(
        deps,
        deps.bland.stop_call(call_id),
        actor=user,
        action=AuditAction.CALL_STOP,
        channel=channel,
        target=call_id,
    )
    async with deps.unit() as u:
        await u.audit(
            actor=user,
            action=AuditAction.CALL_STOP,
            outcome=AuditOutcome.STOPPED,
            channel=channel,
            target=call_id,
            detail=result.message,
        )
        await deps.store.tracked.mark_due(Kind.CALL, call_id)
        u.wake()
    return f"Stop requested for call `{call_id}` by <@{user}>: {result.message or 'ok'}"


# Counting live calls for the stop-all confirmation stops here (the button then says "at least").
LIVE_COUNT_CAP = 100_000


async def live_calls(deps: Deps, *, user: str) -> int:
    """How many calls are live on the account (for the stop-all confirmation); admins only."""
    await deps.permissions.require(user, Role.ADMIN, "stop every call")
    return await deps.bland.count_calls(completed=False, cap=LIVE_COUNT_CAP)


async def stop_all(deps: Deps, *, user: str, channel: str | None) -> str:
    """Stop every live call on the account; announce it, audit it, and re-read the calls followed here."""
    await deps.permissions.require(user, Role.ADMIN, "stop every call")
    result = await audited(
        deps, deps.bland.stop_all_calls(), actor=user, action=AuditAction.CALLS_STOP_ALL, channel=channel
    )
    stopped = result.num_calls
    count = f"{stopped} call{'s' if stopped != 1 else ''}" if stopped is not None else "every live call"
    async with deps.unit() as u:
        await u.audit(
            actor=user,
            action=AuditAction.CALLS_STOP_ALL,
            outcome=AuditOutcome.STOPPED,
            channel=channel,
            detail=result.message,
        )
        await u.announce(
            Event(
                key=f"calls:stop_all:{uuid.uuid4().hex[:12]}",
                topic=Topic.CALLS,
                text=f":rotating_light: <@{user}> stopped all live calls: Bland is stopping {count}.",
            )
        )
        followed = await deps.store.tracked.glimpse_active(Kind.CALL)
        await deps.store.tracked.schedule([item.id for item in followed], at=deps.clock.now())
        u.wake()
    return (
        f"Stopping {count}; Bland says: {escape((result.message or 'request taken').strip().rstrip('.'))}. "
        "Their cards show each one's end."
    )
