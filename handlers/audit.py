"""The audit export: `/bland audit [days]`."""

from __future__ import annotations

from bot.flows import audit
from handlers.context import CommandContext


async def export_audit(ctx: CommandContext) -> None:
    """`/bland audit [days]` (admins): upload the audit log of the last days as CSV to this channel."""
    await audit.upload(ctx.deps, channel=ctx.channel, user=ctx.user, days=audit.parse_days(ctx.args))
