"""What a /bland subcommand handler receives."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.models.blocks import Block
from slack_sdk.web.async_client import AsyncWebClient

from bot.deps import Deps
from bot.error_replies import report_error
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


async def answer(deps: Deps, body: dict[str, Any], respond: AsyncRespond | None, text: str) -> None:
    """Tell the person who clicked: ephemerally under the message, or by DM from the Home tab (no response_url)."""
    if respond is not None and body.get("response_url"):
        await respond(text=text, response_type="ephemeral", replace_original=False)
    else:
        await deps.notifier.dm(body["user"]["id"], text)


def require_args(ctx: CommandContext, usage: str) -> str:
    """Return the argument text, or raise the usage line."""
    if not ctx.args:
        raise UserError(f"Usage: `/bland {usage}`")
    return ctx.args


Listener = Callable[..., Awaitable[None]]


def reports_errors(listener: Listener) -> Listener:
    """Report errors raised after ack() ourselves.

    Errors before ack() go to bolt's global error handler, which answers in the ack (modal errors,
    ephemeral text). After ack() bolt would overwrite the ack response with its 500 when the error is
    quick, so those are reported here, where the person acted. Listeners must take ack, body and deps.
    """

    @functools.wraps(listener)
    async def wrapper(**kwargs: Any) -> None:
        ack: AsyncAck = kwargs["ack"]
        deps: Deps = kwargs["deps"]
        task = asyncio.current_task()
        if task is not None:
            deps.inflight.add(task)
        try:
            await listener(**kwargs)
        except Exception as error:
            if ack.response is None:
                raise
            await report_error(error, kwargs["body"], deps, kwargs.get("respond"))
        finally:
            if task is not None:
                deps.inflight.discard(task)

    return wrapper
