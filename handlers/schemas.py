"""Citation schemas: `/bland schema new` (a modal), `/bland schemas` and `/bland schema <id>`."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck

from bot.blocks.backfill_modals import schema_modal
from bot.blocks.backfills import schema_list, schema_view
from bot.deps import Deps
from bot.flows import schemas
from bot.ids import CallbackId
from handlers.context import CommandContext, Routes, require_args


def register(app: AsyncApp) -> None:
    """Route the New citation schema modal."""
    Routes(app).view(CallbackId.NEW_SCHEMA, submit_schema)


async def schema(ctx: CommandContext) -> None:
    """`/bland schema new` opens the modal; `/bland schema <id>` shows one schema."""
    target = require_args(ctx, "schema <id> | schema new").split()[0]
    if target.lower() == "new":
        await ctx.open_view(schema_modal(origin_channel=ctx.channel))
        return
    await ctx.reply(*schema_view(await schemas.get_schema(ctx.deps, target)))


async def list_schemas(ctx: CommandContext) -> None:
    """`/bland schemas`: Bland's list, or this bot's own when Bland has none (and say so)."""
    found, fallback = await schemas.list_schemas(ctx.deps)
    await ctx.reply(*schema_list(found, fallback=fallback))


async def submit_schema(ack: AsyncAck, values: dict[str, Any], origin: str, user: str, deps: Deps) -> None:
    """Validate inline, close the modal, create the schema, and show it to its author."""
    form = schemas.parse_schema_form(values)
    await ack()
    created = await schemas.create_schema(deps, form, user=user, channel=origin or None)
    text, blocks = schema_view(created)
    await deps.notifier.ephemeral(origin, user, f"Created: {text}", blocks)
