"""`/bland status` and `/bland track` for any id (a call, a batch or a backfill workflow), and Refresh."""

from __future__ import annotations

from typing import Any

from bot.blocks.messages import call_status
from bot.deps import Deps
from bot.domain import Kind
from bot.errors import UserError
from bot.flows import backfills, batch_runs, call_actions

WORKFLOW_PREFIX = "backfill:"


async def status(deps: Deps, target: str) -> tuple[str, list[Any]]:
    """Render the current state of whatever `target` names, for the asker alone."""
    if await batch_runs.is_batch_id(deps, target):
        return await batch_runs.batch_status(deps, target)
    if target.startswith(WORKFLOW_PREFIX):
        return await backfills.workflow_status(deps, target)
    call = await call_actions.fetch_call(deps, target)
    return call_status(call, redact=deps.settings.redact_phone_numbers)


async def track(deps: Deps, target: str, *, channel: str, user: str) -> None:
    """Post a card for `target` in `channel` and follow it there."""
    if await batch_runs.is_batch_id(deps, target):
        await batch_runs.track_batch(deps, target, channel=channel, user=user)
        return
    if target.startswith(WORKFLOW_PREFIX):
        raise UserError("Backfills are followed in the thread of the card they were started from.")
    await call_actions.track_call(deps, target, channel=channel, user=user)


async def poll_now(deps: Deps, kind: Kind, external_id: str) -> None:
    """Make a tracked item due now and wake the tick (a card's Refresh button)."""
    async with deps.unit() as u:
        await deps.store.tracked.mark_due(kind, external_id)
        u.wake()
