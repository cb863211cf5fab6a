"""Subscriptions: `/bland subscribe|unsubscribe|subscriptions`."""

from __future__ import annotations

from bot.flows import notifications
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
