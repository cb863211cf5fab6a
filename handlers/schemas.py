"""Citation schemas: `/bland schema new` (a modal), `/bland schemas` and `/bland schema <id>`."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck

from bot.blocks.backfill_modals import schema_modal
from bot.blocks.backfills import schema_list, schema_view
from bot.blocks.modals import metadata, read_values
from bot.deps import Deps
from bot.flows import schemas
from bot.ids import CallbackId
from handlers.context import CommandContext, reports_errors, require_args


def register(app: AsyncApp) -> None:
    """Route the New citation schema modal."""
    app.view(CallbackId.NEW_SCHEMA)(reports_errors(submit_schema))


async def schema(ctx: CommandContext) -> None:
    """`/bland schema new` opens the modal; `/bland schema <id>` shows one schema."""
    target = require_args(ctx, "schema <id> | schema new").split()[0]
    if target.lower() == "new":
        await ctx.client.views_open(trigger_id=ctx.trigger_id, view=schema_modal(origin_channel=ctx.channel))
        return
    found = await ctx.deps.bland.get_schema(target)
    await ctx.reply(*schema_view(found))


async def list_schemas(ctx: CommandContext) -> None:
    """`/bland schemas`: Bland's list, or this bot's own when Bland has none (and say so)."""
    found, fallback = await schemas.list_schemas(ctx.deps)
    await ctx.reply(*schema_list(found, fallback=fallback))


async def submit_schema(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], deps: Deps) -> None:
    """Validate inline, close the modal, create the schema, and show it to its author."""
    form = schemas.parse_schema_form(read_values(view))
    await ack()
    user = body["user"]["id"]
    channel = str(metadata(view).get("origin_channel") or "")
    created = await schemas.create_schema(deps, form, user=user, channel=channel or None)
    text, blocks = schema_view(created)
    await deps.notifier.ephemeral(channel, user, f"Created: {text}", blocks)
