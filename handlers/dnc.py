"""The do-not-call list: `/bland dnc add|remove|list|import` and the import modal."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck

from bot.blocks.dnc import dnc_import_modal
from bot.blocks.messages import notice
from bot.deps import Deps
from bot.errors import UserError
from bot.flows import dnc, forget
from bot.ids import CallbackId
from bot.permissions import Role
from handlers.context import CommandContext, Routes

USAGE = "`/bland dnc add <number> [reason]`, `/bland dnc remove <number>`, `/bland dnc list` or `/bland dnc import`"


def register(app: AsyncApp) -> None:
    """Route the import modal."""
    Routes(app).view(CallbackId.DNC_IMPORT, submit_import)


async def dnc_command(ctx: CommandContext) -> None:
    """`/bland dnc <add|remove|list|import> …`."""
    action, _, rest = ctx.args.partition(" ")
    action = action.lower()
    deps = ctx.deps
    if action == "add":
        await ctx.reply(await dnc.add(deps, rest, user=ctx.user, channel=ctx.channel))
    elif action == "remove":
        await ctx.reply(await dnc.remove(deps, rest, user=ctx.user, channel=ctx.channel))
    elif action == "list":
        await ctx.reply(*await dnc.listing(deps, user=ctx.user))
    elif action == "import":
        await deps.permissions.require(ctx.user, Role.OPERATOR, "change the do-not-call list")
        await ctx.open_view(dnc_import_modal(origin_channel=ctx.channel))
    else:
        raise UserError(f"Use {USAGE}.")


async def submit_import(ack: AsyncAck, values: dict[str, Any], origin: str, user: str, deps: Deps) -> None:
    """Check the form inline, close it, import the numbers and tell the importer what happened."""
    text = await dnc.import_form(deps, values, user=user)
    await ack()
    result = await dnc.import_numbers(deps, text, user=user, channel=origin or None)
    await deps.notifier.ephemeral(origin, user, *notice(result, ":no_entry_sign:"))


async def forget_command(ctx: CommandContext) -> None:
    """`/bland forget <number>` (admins): erase a person's number from everything the bot keeps."""
    await ctx.reply(*await forget.forget(ctx.deps, ctx.args, user=ctx.user, channel=ctx.channel))
