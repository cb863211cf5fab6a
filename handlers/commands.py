"""The /bland router: one table of subcommands feeds both the dispatch and the help text."""

from __future__ import annotations

import difflib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.messages import help_blocks
from bot.deps import Deps
from bot.domain import Topic
from handlers import audit, backfills, batches, calls, dnc, schemas, subscriptions
from handlers.context import CommandContext, Routes

# Slack sends at most this much text after the command; anything longer is not from Slack's client.
MAX_TEXT_CHARS = 3000


@dataclass(frozen=True)
class Subcommand:
    """One line of `/bland help`; `run` is None for help itself (answered in the ack)."""

    usage: str
    summary: str
    run: Callable[[CommandContext], Awaitable[None]] | None

    @property
    def name(self) -> str:
        """Return the word that selects it."""
        return self.usage.split(" ")[0]


COMMANDS: list[Subcommand] = [
    Subcommand("help", "show this help", None),
    Subcommand("call [number] [task…]", "open the Send a call form, prefilled", calls.open_call_modal),
    Subcommand(
        "status <call|batch|workflow id>", "show the current state of anything, only to you", calls.status
    ),
    Subcommand("track <id>", "post a card for it in this channel and follow it", calls.track),
    Subcommand(
        "calls [status:…] [batch:…] [date:YYYY-MM-DD] [last 4 digits]",
        "recent calls from Bland, ten at a time, only to you",
        calls.find_calls,
    ),
    Subcommand("stop <batch_id>", "stop a running batch (asks for confirmation)", batches.stop),
    Subcommand("stop-call <call_id>", "stop a live call (asks for confirmation)", calls.confirm_stop_call),
    Subcommand(
        "stop-all",
        "stop every live call on the account (admins; asks for confirmation)",
        calls.confirm_stop_all,
    ),
    Subcommand(
        "balance", "the Bland account's balance and today's estimated spend, only to you", calls.balance
    ),
    Subcommand("batch", "request a batch of calls from a CSV (needs approval)", batches.open_batch_modal),
    Subcommand(
        "batch template [prompt]",
        "a CSV to fill in, with a column per {{placeholder}} of the prompt, in your DMs",
        batches.open_batch_modal,
    ),
    Subcommand("batches", "list recent batches and their state", batches.list_batches),
    Subcommand(
        "backfill", "run citation schemas over past calls or SMS conversations", backfills.open_backfill_modal
    ),
    Subcommand("schemas", "list citation schemas", schemas.list_schemas),
    Subcommand("schema <id>", "show one citation schema", schemas.schema),
    Subcommand("schema new", "create a citation schema", schemas.schema),
    Subcommand(
        "schema edit <id>",
        "edit a citation schema (saving replaces it whole; schemas cannot be deleted, here or in Bland's API)",
        schemas.schema,
    ),
    Subcommand(
        f"subscribe <{'|'.join(Topic)}>", "send notifications to this channel", subscriptions.subscribe
    ),
    Subcommand("unsubscribe <…>", "stop them", subscriptions.unsubscribe),
    Subcommand("subscriptions", "list this channel's subscriptions", subscriptions.list_subscriptions),
    Subcommand("audit [days]", "upload the audit log as CSV (admins)", audit.export_audit),
    Subcommand("export calls [filters]", "upload the matching calls as CSV here (admins)", calls.export),
    Subcommand(
        "dnc <add <number> [reason]|remove <number>|list|import>",
        "keep the do-not-call list: listed numbers are never dialled (operators)",
        dnc.dnc_command,
    ),
    Subcommand(
        "forget <number>",
        "erase a person's number from everything the bot keeps, and never dial it again (admins)",
        dnc.forget_command,
    ),
]
# Help is grouped by task, in this order; a subcommand's group is found by its name.
GROUPS: dict[str, tuple[str, ...]] = {
    "Calls": ("call", "status", "track", "calls", "stop-call", "balance"),
    "Batches": ("batch", "batches", "stop"),
    "Backfills and schemas": ("backfill", "schemas", "schema"),
    "Notifications": ("subscribe", "unsubscribe", "subscriptions"),
    "Administration": ("stop-all", "dnc", "forget", "audit", "export"),
    "Help": ("help",),
}
HELP = [
    (group, [(c.usage, c.summary) for c in COMMANDS if c.name in names]) for group, names in GROUPS.items()
]
SUBCOMMANDS = {command.name: command.run for command in COMMANDS}
SUBCOMMANDS[""] = None  # nothing typed: the help


def rules(deps: Deps) -> str:
    """What every dial keeps to, for the help's last line."""
    window = deps.settings.calling_window
    hours = "any time" if window.always else f"only {window.describe()} in the callee's own time"
    return (
        f":clock9: Calls and batches ring {hours} (a batch across time zones goes out in waves); numbers on "
        "the do-not-call list (`/bland dnc`) are never dialled; every batch needs a second person's approval."
    )


def closest(typed: str) -> str | None:
    """The subcommand a typo most likely meant (`cal` → `call`, `stopall` → `stop-all`), if any is close."""
    names = [n for n in SUBCOMMANDS if n]
    squashed = {n.replace("-", ""): n for n in names}
    if typed.replace("-", "") in squashed:
        return squashed[typed.replace("-", "")]
    found = difflib.get_close_matches(typed, names, n=1, cutoff=0.8)
    return found[0] if found else None


def register(app: AsyncApp) -> None:
    """Route /bland."""
    Routes(app).command("/bland", bland_command)


async def bland_command(
    ack: AsyncAck,
    command: dict[str, Any],
    deps: Deps,
    client: AsyncWebClient,
    respond: AsyncRespond,
) -> None:
    """Acknowledge at once (help comes in the ack itself), then run the subcommand."""
    text = str(command.get("text") or "").strip()
    if len(text) > MAX_TEXT_CHARS:
        reply, blocks = help_blocks(
            HELP, f"That command is {len(text)} characters long; nothing was done.", rules=rules(deps)
        )
        await ack(text=reply, blocks=blocks, response_type="ephemeral")
        return
    name, _, args = text.partition(" ")
    name = name.lower()
    if name in SUBCOMMANDS and SUBCOMMANDS[name] is None:  # help, or nothing typed
        reply, blocks = help_blocks(HELP, rules=rules(deps))
        await ack(text=reply, blocks=blocks, response_type="ephemeral")
        return
    deps.permissions.check_channel(command["channel_id"])
    run = SUBCOMMANDS.get(name)
    if run is None:
        near = closest(name)
        meant = f" Did you mean `/bland {near}`?" if near else ""
        reply, blocks = help_blocks(HELP, f"Unknown subcommand `{name}`.{meant}", rules=rules(deps))
        await ack(text=reply, blocks=blocks, response_type="ephemeral")
        return
    await ack()
    await run(
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
