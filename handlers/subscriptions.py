"""Subscriptions and the audit export: `/bland subscribe|unsubscribe|subscriptions|audit`."""

from __future__ import annotations

from slack_sdk.errors import SlackApiError

from bot.domain import AuditAction, AuditOutcome
from bot.errors import UserError
from bot.flows import audit, notifications
from bot.notifier import UNREACHABLE_CHANNEL, slack_error
from bot.permissions import Role
from handlers.context import CommandContext


async def subscribe(ctx: CommandContext) -> None:
    """`/bland subscribe <topic>`: this channel gets one line per event of that topic."""
    topic = notifications.parse_topic(ctx.args, "subscribe")
    await ctx.reply(await notifications.subscribe(ctx.deps, ctx.channel, topic, user=ctx.user))


async def unsubscribe(ctx: CommandContext) -> None:
    """`/bland unsubscribe <topic>`."""
    topic = notifications.parse_topic(ctx.args, "unsubscribe")
    await ctx.reply(await notifications.unsubscribe(ctx.deps, ctx.channel, topic, user=ctx.user))


async def list_subscriptions(ctx: CommandContext) -> None:
    """`/bland subscriptions`: what this channel gets."""
    await ctx.reply(await notifications.subscriptions(ctx.deps, ctx.channel))


async def export_audit(ctx: CommandContext) -> None:
    """`/bland audit [days]` (admins): upload the audit log of the last days as CSV to this channel."""
    await ctx.deps.permissions.require(ctx.user, Role.ADMIN, "export the audit log")
    days = audit.parse_days(ctx.args)
    count, content, filename = await audit.export(ctx.deps, days)
    try:
        await ctx.deps.notifier.upload(
            ctx.channel,
            filename=filename,
            content=content,
            title=f"Audit log, last {days:g} days",
            comment=f"Audit log requested by <@{ctx.user}>: {count} entries from the last {days:g} days.",
        )
    except SlackApiError as exc:
        if slack_error(exc) not in UNREACHABLE_CHANNEL:
            raise
        raise UserError(
            f"The bot cannot upload here ({slack_error(exc)}). Invite it with `/invite @bland`, or run this in a "
            "channel it is in."
        ) from None
    await ctx.deps.store.audit.record(
        actor=ctx.user,
        action=AuditAction.AUDIT_EXPORT,
        outcome=AuditOutcome.UPLOADED,
        channel=ctx.channel,
        detail=f"{days:g} days, {count} entries",
    )
