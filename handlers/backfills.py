"""Backfills: the modal, its confirmation step (calls × schemas = extractions), and the start."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck

from bot.bland.errors import BlandError
from bot.blocks.backfill_modals import backfill_confirm_view, backfill_modal
from bot.blocks.modals import metadata, read_values
from bot.deps import Deps
from bot.flows import backfills
from bot.flows.schemas import list_schemas
from bot.ids import BlockId, CallbackId
from bot.permissions import Role
from handlers.context import CommandContext, reports_errors


def register(app: AsyncApp) -> None:
    """Route the backfill modal and its confirmation."""
    app.view(CallbackId.BACKFILL)(reports_errors(review_backfill))
    app.view(CallbackId.CONFIRM_BACKFILL)(reports_errors(confirm_backfill))


async def open_backfill_modal(ctx: CommandContext) -> None:
    """`/bland backfill`: open the modal, offering the schemas Bland (or this bot) knows."""
    await ctx.deps.permissions.require(ctx.user, Role.OPERATOR, "start backfills")
    view = backfill_modal(origin_channel=ctx.channel, schemas=await schema_options(ctx.deps))
    await ctx.client.views_open(trigger_id=ctx.trigger_id, view=view)


async def schema_options(deps: Deps) -> list[tuple[str, str]]:
    """Return (id, name) of the schemas to offer; none when Bland cannot list them (IDs are typed then)."""
    try:
        known, _ = await list_schemas(deps)
    except BlandError:
        return []
    return [(s.id, s.name or s.id) for s in known if s.id]


async def review_backfill(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], deps: Deps) -> None:
    """Validate and expand the targets (inline errors), then show what it will cost before anything is sent."""
    values = read_values(view)
    # Opened from the Home tab there is no channel yet: the modal asked for one.
    origin = str(metadata(view).get("origin_channel") or values.get(BlockId.CHANNEL) or "")
    backfill_id, plan = await backfills.prepare(deps, values, user=body["user"]["id"], channel=origin)
    confirm = backfill_confirm_view(
        backfill_id=backfill_id,
        origin_channel=origin,
        calls=len(plan.call_ids),
        schemas=plan.labels,
        requests=len(plan.call_requests()),
        conversations=len(plan.conversation_ids),
    )
    await ack(response_action="update", view=confirm)


async def confirm_backfill(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], deps: Deps) -> None:
    """Start the confirmed backfill once; tell the person where the results will be."""
    await ack()
    data = metadata(view)
    user = body["user"]["id"]
    message = await backfills.start(deps, str(data.get("backfill_id")), user=user)
    await deps.notifier.ephemeral(str(data.get("origin_channel")), user, message)
