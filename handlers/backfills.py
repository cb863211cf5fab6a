"""Backfills: the modal, its confirmation step (calls × schemas = extractions), and the start."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.backfill_modals import backfill_confirm_view, backfill_modal
from bot.blocks.modals import loading_view
from bot.deps import Deps
from bot.flows import backfills
from bot.flows.schemas import schema_choices
from bot.ids import CallbackId
from bot.permissions import Role
from handlers.context import CommandContext, Routes


def register(app: AsyncApp) -> None:
    """Route the backfill modal and its confirmation."""
    routes = Routes(app)
    routes.view(CallbackId.BACKFILL, review_backfill)
    routes.view(CallbackId.CONFIRM_BACKFILL, confirm_backfill)


async def open_backfill_form(
    deps: Deps, client: AsyncWebClient, trigger_id: str, *, user: str, origin_channel: str
) -> None:
    """Open the backfill modal for an operator, offering the schemas Bland (or this bot) knows."""
    await deps.permissions.require(user, Role.OPERATOR, "start backfills")
    # Bland may be slow to list the schemas, and a trigger_id lives 3 seconds: open first, fill in after.
    opened = await client.views_open(
        trigger_id=trigger_id, view=loading_view("Backfill variables", "Fetching your citation schemas…")
    )
    view = backfill_modal(origin_channel=origin_channel, schemas=await schema_choices(deps))
    await client.views_update(view_id=opened["view"]["id"], hash=opened["view"].get("hash"), view=view)


async def open_backfill_modal(ctx: CommandContext) -> None:
    """`/bland backfill`: open the modal."""
    await open_backfill_form(ctx.deps, ctx.client, ctx.trigger_id, user=ctx.user, origin_channel=ctx.channel)


async def review_backfill(ack: AsyncAck, values: dict[str, Any], origin: str, user: str, deps: Deps) -> None:
    """Validate and expand the targets (inline errors), then show what it will cost before anything is sent."""
    backfill_id, plan = await backfills.prepare(deps, values, user=user, channel=origin)
    confirm = backfill_confirm_view(
        backfill_id=backfill_id,
        origin_channel=origin,
        calls=len(plan.call_ids),
        schemas=plan.labels,
        requests=len(plan.call_requests()),
        conversations=len(plan.conversation_ids),
    )
    await ack(response_action="update", view=confirm)


async def confirm_backfill(ack: AsyncAck, meta: dict[str, Any], origin: str, user: str, deps: Deps) -> None:
    """Start the confirmed backfill once; tell the person where the results will be."""
    await ack()
    message = await backfills.start(deps, str(meta.get("backfill_id")), user=user)
    await deps.notifier.ephemeral(origin, user, message)
