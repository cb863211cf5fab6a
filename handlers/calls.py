"""Single calls: the Send a call modal, status/track/stop-call, and the card's buttons."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.models.blocks import (
    MarkdownTextObject,
    SectionBlock,
)

from bot.blocks.backfills import workflow_status
from bot.blocks.format import mask_phone, redact_text, truncate
from bot.blocks.messages import call_card, call_outcome_line, notice, stop_call_prompt
from bot.blocks.modals import call_modal, metadata, read_values
from bot.deps import Deps
from bot.domain import Kind
from bot.errors import UserError
from bot.flows import batch_runs, calls
from bot.ids import ActionId, CallbackId
from bot.tracking.calls import card_info_for_call
from handlers.context import CommandContext, reports_errors, require_args


def register(app: AsyncApp) -> None:
    """Route the call modal and the call card's buttons."""
    app.view(CallbackId.SEND_CALL)(reports_errors(submit_call))
    app.action(ActionId.STOP_CALL)(reports_errors(stop_call_clicked))
    app.action(ActionId.CONFIRM_STOP_CALL)(reports_errors(stop_call_clicked))
    app.action(ActionId.REFRESH_CALL)(reports_errors(refresh_call_clicked))


def _split_call_args(args: str) -> tuple[str | None, str | None]:
    """Split `[number] [task…]`: a first word made of phone characters is the number."""
    first, _, rest = args.partition(" ")
    if first and all(c.isdigit() or c in "+()-." for c in first) and any(c.isdigit() for c in first):
        return first, rest.strip() or None
    return None, args or None


async def open_call_modal(ctx: CommandContext) -> None:
    """`/bland call [number] [task…]`: open the Send a call modal, prefilled."""
    settings = ctx.deps.settings
    phone, task = _split_call_args(ctx.args)
    view = call_modal(
        origin_channel=ctx.channel,
        voices=settings.call_voices,
        max_minutes=settings.max_call_minutes,
        phone=phone,
        task=task,
    )
    await ctx.client.views_open(trigger_id=ctx.trigger_id, view=view)


async def submit_call(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], deps: Deps) -> None:
    """Validate the modal (inline errors), close it at once, then send the call."""
    settings = deps.settings
    origin = str(metadata(view).get("origin_channel") or "")
    form = calls.parse_call_form(
        read_values(view),
        default_region=settings.default_region,
        voices=settings.call_voices,
        max_minutes=settings.max_call_minutes,
        fallback_channel=origin,
    )
    await ack()
    await calls.send_call(deps, form, requester=body["user"]["id"])


async def status(ctx: CommandContext) -> None:
    """`/bland status <id>`: show the current card, only to the asker."""
    target = require_args(ctx, "status <call|batch|workflow id>").split()[0]
    if await batch_runs.is_batch_id(ctx.deps, target):
        await ctx.reply(*await batch_runs.batch_status(ctx.deps, target))
        return
    if target.startswith("backfill:"):
        await ctx.reply(*workflow_status(await ctx.deps.bland.backfill_status(target)))
        return
    call = await calls.fetch_call(ctx.deps, target)
    text, blocks = call_card(card_info_for_call(ctx.deps, call), with_buttons=False)
    if call.is_terminal:
        blocks.append(SectionBlock(text=MarkdownTextObject(text=call_outcome_line(call))))
        if call.summary:
            summary = redact_text(call.summary, redact=ctx.deps.settings.redact_phone_numbers)
            blocks.append(SectionBlock(text=MarkdownTextObject(text=truncate(f"*Summary*\n{summary}", 2900))))
    await ctx.reply(text, blocks)


async def track(ctx: CommandContext) -> None:
    """`/bland track <id>`: post the card here and follow it."""
    target = require_args(ctx, "track <id>").split()[0]
    if await batch_runs.is_batch_id(ctx.deps, target):
        await batch_runs.track_batch(ctx.deps, target, channel=ctx.channel, user=ctx.user)
        return
    if target.startswith("backfill:"):
        raise UserError("Backfills are followed in the thread of the card they were started from.")
    await calls.track_call(ctx.deps, target, channel=ctx.channel, user=ctx.user)


async def confirm_stop_call(ctx: CommandContext) -> None:
    """`/bland stop-call <id>`: ask for confirmation with a button that stops it."""
    call_id = require_args(ctx, "stop-call <call_id>").split()[0]
    call = await calls.fetch_call(ctx.deps, call_id)
    if call.is_terminal:
        await ctx.reply(*notice(f"Call `{call_id}` has already ended ({call.queue_status})."))
        return
    number = mask_phone(call.to, redact=ctx.deps.settings.redact_phone_numbers)
    await ctx.reply(*stop_call_prompt(call_id, number))


async def stop_call_clicked(ack: AsyncAck, body: dict[str, Any], deps: Deps, respond: AsyncRespond) -> None:
    """Stop the call whose button was clicked (the button carries a confirm dialog)."""
    await ack()
    call_id = body["actions"][0]["value"]
    channel = (body.get("channel") or {}).get("id")
    message = await calls.stop_call(deps, call_id, user=body["user"]["id"], channel=channel)
    await respond(text=message, response_type="ephemeral", replace_original=False)


async def refresh_call_clicked(ack: AsyncAck, body: dict[str, Any], deps: Deps) -> None:
    """Poll the call now."""
    await ack()
    await deps.store.tracked.mark_due(Kind.CALL, body["actions"][0]["value"])
    deps.wake()
