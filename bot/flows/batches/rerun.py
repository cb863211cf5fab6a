"""Re-runs: request a finished batch's unanswered or failed rows again, through approval."""

from __future__ import annotations

from typing import Any

from bot.blocks.batches import Rerun, rerun_kind
from bot.deps import Deps
from bot.errors import UserError
from bot.flows.batch_form import BatchForm, Recipients, placeholders_in
from bot.flows.batches.approval import request_batch
from bot.flows.batches.plan import ready_to_freeze
from bot.ids import BlockId
from bot.limits import LABEL_MAX_CHARS
from bot.permissions import Role
from bot.store.batch_requests import BatchRequest


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
    for row in request.payload.rows:
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
        base_prompt=payload.prompt,
        recipients=recipients,
        placeholders=placeholders_in(payload.prompt),
        max_duration=payload.max_minutes or 5,
        voice=payload.voice,
        from_number=payload.from_number,
        record=payload.record,
        note=f"Re-run of batch {batch_id} for its {chosen} calls.",
        channel=origin or request.channel,
    )
    return await request_batch(
        deps, await ready_to_freeze(deps, form, where=BlockId.RERUN_KINDS), requester=user
    )
