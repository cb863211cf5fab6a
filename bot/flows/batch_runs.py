"""Sent batches: stop one, show its state, follow it in another channel, list recent ones."""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import ActionsBlock, MarkdownTextObject, SectionBlock

from bot.bland.errors import BlandNotFoundError
from bot.bland.models import StopResult
from bot.blocks.batches import BatchCardInfo, BatchProgress, batch_card, stop_batch_button
from bot.blocks.format import label_text
from bot.blocks.messages import notice
from bot.deps import Deps
from bot.domain import AuditAction, AuditOutcome, BatchApi, BatchState, Kind
from bot.errors import UserError
from bot.flows.audit import audited
from bot.flows.batch_api import api_of, count_v2, is_uuid
from bot.flows.cards import card_shown
from bot.mrkdwn import escape
from bot.permissions import Role
from bot.store.batch_requests import BatchRequest


async def stop_batch(deps: Deps, batch_id: str, *, user: str, channel: str | None) -> str:
    """Stop a running batch's pending calls; returns a sentence saying what happened."""
    await deps.permissions.require(user, Role.OPERATOR, "stop batches")
    api = await api_of(deps, batch_id, await _tracked_data(deps, batch_id))
    result = await audited(
        deps,
        deps.bland.stop_batch(batch_id) if api is BatchApi.V1 else _stop_v2(deps, batch_id),
        actor=user,
        action=AuditAction.BATCH_STOP,
        channel=channel,
        target=batch_id,
    )
    stopped = (result.status or "").lower() == "success"
    async with deps.unit() as u:
        await u.audit(
            actor=user,
            action=AuditAction.BATCH_STOP,
            outcome=AuditOutcome.STOPPED if stopped else AuditOutcome.ALREADY_FINISHED,
            channel=channel,
            target=batch_id,
            detail=result.message,
        )
        if stopped:
            await deps.store.tracked.merge_data(
                Kind.BATCH, batch_id, {"stopped_by": user, "stopped_calls": result.num_calls}
            )
        await deps.store.tracked.mark_due(Kind.BATCH, batch_id)
        u.wake()
    if stopped:
        count = (
            f"{result.num_calls} pending call{'s' if result.num_calls != 1 else ''}"
            if result.num_calls is not None
            else "its pending calls"
        )
        return (
            f"Stopping batch `{batch_id}` ({count}), requested by <@{user}>. The card shows the final state."
        )
    said = (result.message or "").strip().rstrip(".") or "it has already finished"
    return f"Batch `{batch_id}` had nothing left to stop: Bland says {escape(said[:1].lower() + said[1:])}."


async def _tracked_data(deps: Deps, batch_id: str) -> dict[str, Any] | None:
    item = await deps.store.tracked.find(Kind.BATCH, batch_id)
    return item.data if item else None


async def _stop_v2(deps: Deps, batch_id: str) -> StopResult:
    """Stop a v2 batch. Bland's answer says nothing of what it ended, so the call list counts the calls that
    had not finished; a batch with none left is not stopped (it had finished)."""
    request = await deps.store.batch_requests.by_batch_id(batch_id)
    progress, _ = await count_v2(deps, batch_id, expected=request.call_count if request else None)
    left = progress.total - progress.completed
    if progress.done or left <= 0:
        return StopResult(status="error", message="already finished")
    await deps.bland.stop_batch_v2(batch_id)
    return StopResult(status="success", message="stop requested", num_calls=left)


async def snapshot(deps: Deps, batch_id: str, api: BatchApi) -> tuple[str | None, BatchProgress]:
    """A batch's label as Bland knows it and its progress now (404 when Bland does not know the batch)."""
    if api is BatchApi.V1:
        batch = await deps.bland.get_batch(batch_id, include_calls=False)
        params = batch.batch_params
        return (params.label if params else None), BatchProgress.of(batch)
    meta = await deps.bland.get_batch_v2(batch_id)
    request = await deps.store.batch_requests.by_batch_id(batch_id)
    data = await _tracked_data(deps, batch_id) or {}
    expected = request.call_count if request else data.get("expected")
    progress, _ = await count_v2(deps, batch_id, expected=expected if isinstance(expected, int) else None)
    return meta.description, progress


async def stop_prompt(deps: Deps, batch_id: str, *, user: str) -> tuple[str, list[Any]]:
    """`/bland stop <batch_id>`: what a stop would end, and the button that does it (as on the card)."""
    await deps.permissions.require(user, Role.OPERATOR, "stop batches")
    known, progress = await snapshot(deps, batch_id, await api_of(deps, batch_id))
    request = await deps.store.batch_requests.by_batch_id(batch_id)
    label = (request.label if request else None) or known or batch_id
    left = progress.total - progress.completed
    if progress.done or left <= 0:
        return notice(f"Batch `{batch_id}` has finished: there is nothing to stop.")
    text = f"Stop batch {label_text(label)}?"
    return text, [
        SectionBlock(
            text=MarkdownTextObject(
                text=f"Stop *{label_text(label)}* `{batch_id}`? {left} of its {progress.total} calls have not "
                "finished."
            )
        ),
        ActionsBlock(elements=[stop_batch_button(batch_id, label)]),
    ]


async def is_batch_id(deps: Deps, target: str) -> bool:
    """Return whether an id names a batch: v1's suffix, one this bot sent or tracks, or (a UUID, which a
    call id also is) one Bland's v2 batch API knows."""
    if target.endswith("-gen-batch"):
        return True
    if (
        await deps.store.batch_requests.by_batch_id(target) is not None
        or await deps.store.tracked.find(Kind.BATCH, target) is not None
    ):
        return True
    if not is_uuid(target) or (await api_of(deps, target)) is not BatchApi.V2:
        return False
    try:
        await deps.bland.get_batch_v2(target)
    except BlandNotFoundError:
        return False
    return True


async def batch_status(deps: Deps, batch_id: str) -> tuple[str, list[Any]]:
    """Render a batch's current card (no buttons) for `/bland status`."""
    known, progress = await snapshot(deps, batch_id, await api_of(deps, batch_id))
    request = await deps.store.batch_requests.by_batch_id(batch_id)
    info = BatchCardInfo(
        batch_id=batch_id,
        label=(request.label if request else None) or known or batch_id,
        approver=request.approver if request else None,
        requester=request.requester if request else None,
        progress=progress,
        state=BatchState.COMPLETED if progress.done else BatchState.RUNNING,
    )
    text, blocks = batch_card(info)
    return text, [b for b in blocks if not isinstance(b, ActionsBlock)]


async def track_batch(deps: Deps, batch_id: str, *, channel: str, user: str) -> None:
    """Post a live card for an existing batch in `channel` and follow it there."""
    api = await api_of(deps, batch_id)
    if api is BatchApi.V1:
        batch = await deps.bland.get_batch(batch_id, include_calls=False)
        label = (batch.batch_params.label if batch.batch_params else None) or batch_id
    else:
        label = (await deps.bland.get_batch_v2(batch_id)).description or batch_id
    item = await deps.tracker.track(
        deps,
        Kind.BATCH,
        batch_id,
        channel,
        created_by=user,
        data={"label": label, "tracked_by": user, "api": api.value},
    )
    if item is None:
        raise UserError(f"Batch `{batch_id}` is already tracked in this channel.")
    await deps.store.audit.record(
        actor=user, action=AuditAction.BATCH_TRACK, outcome=AuditOutcome.OK, channel=channel, target=batch_id
    )
    await card_shown(deps, item, f"Following batch `{batch_id}`.", f"/bland track {batch_id}")


async def recent(deps: Deps, limit: int = 10) -> list[tuple[BatchRequest, dict[str, Any] | None]]:
    """Return recent requests, each with the latest progress of its batch when it was sent."""
    entries = []
    for request in await deps.store.batch_requests.recent(limit):
        progress = None
        if request.batch_id:
            item = await deps.store.tracked.find(Kind.BATCH, request.batch_id)
            progress = item.data.get("progress") if item else None
        entries.append((request, progress))
    return entries
