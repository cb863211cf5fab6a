"""What a /bland subcommand handler receives."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.models.blocks import Block
from slack_sdk.web.async_client import AsyncWebClient

from bot.deps import Deps
from bot.errors import UserError


@dataclass(frozen=True)
class CommandContext:
    deps: Deps
    client: AsyncWebClient
    respond: AsyncRespond
    args: str
    user: str
    channel: str
    trigger_id: str
    command: dict[str, Any]

    async def reply(self, text: str, blocks: list[Block] | None = None) -> None:
        """Answer only the person who typed the command."""
        await self.respond(text=text, blocks=blocks, response_type="ephemeral", replace_original=False)

    async def say_in_channel(self, text: str, blocks: list[Block] | None = None) -> str | None:
        """Post a message into the channel the command came from."""
        return await self.deps.notifier.post(self.channel, text, blocks)


def require_args(ctx: CommandContext, usage: str) -> str:
    """Return the argument text, or raise the usage line."""
    if not ctx.args:
        raise UserError(f"Usage: `/bland {usage}`")
    return ctx.args
