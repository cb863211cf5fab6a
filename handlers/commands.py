"""The /bland router: one slash command, subcommands dispatched by name."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.messages import help_blocks
from bot.deps import Deps
from handlers import backfills, batches, calls, schemas, subscriptions
from handlers.context import CommandContext, reports_errors

Subcommand = Callable[[CommandContext], Awaitable[None]]

SUBCOMMANDS: dict[str, Subcommand] = {
    "call": calls.open_call_modal,
    "status": calls.status,
    "track": calls.track,
    "stop-call": calls.confirm_stop_call,
    "batch": batches.open_batch_modal,
    "batches": batches.list_batches,
    "stop": batches.stop,
    "backfill": backfills.open_backfill_modal,
    "schemas": schemas.list_schemas,
    "schema": schemas.schema,
    "subscribe": subscriptions.subscribe,
    "unsubscribe": subscriptions.unsubscribe,
    "subscriptions": subscriptions.list_subscriptions,
    "audit": subscriptions.export_audit,
}


def register(app: AsyncApp) -> None:
    """Route /bland."""
    app.command("/bland")(reports_errors(bland_command))


async def bland_command(
    ack: AsyncAck,
    body: dict[str, Any],
    command: dict[str, Any],
    deps: Deps,
    client: AsyncWebClient,
    respond: AsyncRespond,
) -> None:
    """Acknowledge at once (help comes in the ack itself), then run the subcommand."""
    text = (command.get("text") or "").strip()
    name, _, args = text.partition(" ")
    name = name.lower()
    if name in {"", "help"}:
        reply, blocks = help_blocks()
        await ack(text=reply, blocks=blocks, response_type="ephemeral")
        return
    deps.permissions.check_channel(command["channel_id"])
    handler = SUBCOMMANDS.get(name)
    if handler is None:
        reply, blocks = help_blocks(f"Unknown subcommand `{name}`.")
        await ack(text=reply, blocks=blocks, response_type="ephemeral")
        return
    await ack()
    await handler(
        CommandContext(
            deps=deps,
            client=client,
            respond=respond,
            args=args.strip(),
            user=command["user_id"],
            channel=command["channel_id"],
            trigger_id=command.get("trigger_id", ""),
            command=command,
        )
    )
