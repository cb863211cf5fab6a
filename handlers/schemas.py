"""Citation schemas: `/bland schema new` and `/bland schema edit <id>` (modals), `/bland schemas` and
`/bland schema <id>`. Schemas cannot be deleted: neither Slack nor Bland's API offers it."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck

from bot.bland.errors import BlandError
from bot.blocks.backfill_modals import schema_modal
from bot.blocks.backfills import schema_list, schema_view
from bot.blocks.modals import loading_view, message_view
from bot.deps import Deps
from bot.errors import UserError
from bot.flows import schemas
from bot.ids import CallbackId
from bot.limits import FREE_TEXT_MAX_CHARS
from bot.mrkdwn import escape
from bot.permissions import Role
from handlers.context import CommandContext, Routes, require_args


def register(app: AsyncApp) -> None:
    """Route the New and Edit citation schema modals."""
    routes = Routes(app)
    routes.view(CallbackId.NEW_SCHEMA, submit_schema)
    routes.view(CallbackId.EDIT_SCHEMA, save_schema)


async def schema(ctx: CommandContext) -> None:
    """`/bland schema new` and `/bland schema edit <id>` open the modal; `/bland schema <id>` shows one."""
    words = require_args(ctx, "schema <id> | schema new | schema edit <id>").split()
    target = words[0]
    if target.lower() == "new":
        await ctx.open_view(schema_modal(origin_channel=ctx.channel))
        return
    if target.lower() == "edit":
        if len(words) < 2:
            raise UserError("Usage: `/bland schema edit <id>` (`/bland schemas` lists the IDs).")
        await edit_schema(ctx, words[1])
        return
    await ctx.reply(*schema_view(await schemas.get_schema(ctx.deps, target)))


async def edit_schema(ctx: CommandContext, schema_id: str) -> None:
    """Open the schema's form prefilled: at once (a trigger_id lives 3 seconds), filled once Bland answers."""
    deps = ctx.deps
    await deps.permissions.require(ctx.user, Role.OPERATOR, "edit citation schemas")
    opened = await ctx.client.views_open(
        trigger_id=ctx.trigger_id,
        view=loading_view("Edit citation schema", "Fetching the schema from Bland…"),
    )
    view_id, digest = opened["view"]["id"], opened["view"].get("hash")
    try:
        found = await schemas.get_schema(deps, schema_id)
    except BlandError as exc:
        await ctx.client.views_update(
            view_id=view_id, hash=digest, view=message_view("Edit citation schema", escape(exc.user_message))
        )
        return
    definition = schemas.definition_text(found)
    if len(definition) > FREE_TEXT_MAX_CHARS:
        text = (
            f"*{escape(found.name or schema_id)}* is {len(definition):,} characters written out, more than a Slack "
            f"form holds ({FREE_TEXT_MAX_CHARS:,}). Edit it in Bland's dashboard; `/bland schema {escape(schema_id)}` shows it."
        )
        await ctx.client.views_update(
            view_id=view_id, hash=digest, view=message_view("Edit citation schema", text)
        )
        return
    view = schema_modal(origin_channel=ctx.channel, editing=found, definition=definition)
    await ctx.client.views_update(view_id=view_id, hash=digest, view=view)


async def save_schema(
    ack: AsyncAck, values: dict[str, Any], meta: dict[str, Any], origin: str, user: str, deps: Deps
) -> None:
    """Validate inline, close the modal, replace the schema in Bland, and show it to its editor."""
    form = schemas.parse_schema_form(values)
    await ack()
    saved = await schemas.update_schema(
        deps, str(meta.get("schema_id") or ""), form, user=user, channel=origin or None
    )
    text, blocks = schema_view(saved)
    await deps.notifier.ephemeral(origin, user, f"Saved: {text}", blocks)


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
