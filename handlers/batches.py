"""Batches: the request modal, the approval card's buttons, the live card's buttons, stop and list."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.batch_modals import batch_modal, reject_modal
from bot.blocks.batches import batches_list
from bot.blocks.messages import notice
from bot.blocks.modals import metadata, read_values
from bot.deps import Deps
from bot.domain import Kind
from bot.errors import FormErrors
from bot.flows import batch_runs, batches
from bot.flows.batch_form import CSV_MAX_BYTES, parse_batch_form
from bot.ids import ActionId, BlockId, CallbackId
from bot.permissions import Role
from handlers.context import CommandContext, answer, reports_errors, require_args


def register(app: AsyncApp) -> None:
    """Route the batch modal, the approval and batch cards' buttons, and the reject modal."""
    app.view(CallbackId.REQUEST_BATCH)(reports_errors(submit_batch_request))
    app.view(CallbackId.REJECT_BATCH)(reports_errors(submit_reject))
    app.action(ActionId.APPROVE_BATCH)(reports_errors(approve_clicked))
    app.action(ActionId.REJECT_BATCH)(reports_errors(reject_clicked))
    app.action(ActionId.CANCEL_BATCH)(reports_errors(cancel_clicked))
    app.action(ActionId.STOP_BATCH)(reports_errors(stop_clicked))
    app.action(ActionId.REFRESH_BATCH)(reports_errors(refresh_clicked))


async def open_batch_modal(ctx: CommandContext) -> None:
    """`/bland batch`: open the Request a batch modal."""
    await ctx.deps.permissions.require(ctx.user, Role.OPERATOR, "request batches")
    settings = ctx.deps.settings
    view = batch_modal(
        origin_channel=ctx.channel,
        voices=settings.call_voices,
        max_minutes=settings.max_call_minutes,
        max_calls=settings.batch_max_calls,
    )
    await ctx.client.views_open(trigger_id=ctx.trigger_id, view=view)


async def submit_batch_request(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], deps: Deps) -> None:
    """Validate everything inline (the CSV file is read first), close the modal, post the approval card."""
    settings = deps.settings
    user = body["user"]["id"]
    if not await deps.permissions.has_role(user, Role.OPERATOR):
        raise FormErrors({BlockId.BATCH_LABEL: "You are not allowed to request batches (OPERATOR_USERS)."})
    values = read_values(view)
    files = values.get(BlockId.RECIPIENTS_FILE) or []
    pasted = str(values.get(BlockId.RECIPIENTS_TEXT) or "").strip()
    # With both a file and pasted text the form says "not both"; the file is not worth fetching then.
    csv_text = (
        await batches.read_recipients_file(deps, files, CSV_MAX_BYTES) if files and not pasted else None
    )
    origin = str(metadata(view).get("origin_channel") or values.get(BlockId.CHANNEL) or "")
    form = parse_batch_form(
        values,
        csv_text=csv_text,
        default_region=settings.default_region,
        voices=settings.call_voices,
        max_minutes=settings.max_call_minutes,
        max_rows=settings.batch_max_calls,
        channel=origin,
    )
    await ack()
    request = await batches.request_batch(deps, form, requester=user)
    where = request.card_channel or batches.card_channel(deps, request)
    await deps.notifier.ephemeral(
        origin or where,
        user,
        *notice(
            f"Batch *{form.label}* ({form.call_count} calls) is waiting for approval in <#{where}>. "
            "Nothing is dialled until a different approver approves it.",
            ":hourglass_flowing_sand:",
        ),
    )


async def approve_clicked(
    ack: AsyncAck, body: dict[str, Any], deps: Deps, respond: AsyncRespond | None
) -> None:
    """Approve and send, at most once however many clicks arrive."""
    await ack()
    message = await batches.approve(deps, body["actions"][0]["value"], user=body["user"]["id"])
    await answer(deps, body, respond, message)


async def reject_clicked(
    ack: AsyncAck, body: dict[str, Any], deps: Deps, client: AsyncWebClient, respond: AsyncRespond | None
) -> None:
    """Ask the approver why, in a modal (after checking they may decide; `respond` carries refusals)."""
    await ack()
    request_id = body["actions"][0]["value"]
    request = await batches.check_can_decide(deps, request_id, body["user"]["id"])
    channel = (body.get("channel") or {}).get("id") or request.card_channel or request.channel
    view = reject_modal(request_id=request_id, label=request.label or request_id, origin_channel=channel)
    await client.views_open(trigger_id=body["trigger_id"], view=view)


async def submit_reject(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], deps: Deps) -> None:
    """Reject with the reason given."""
    reason = str(read_values(view).get(BlockId.REJECT_REASON) or "").strip()
    if len(reason) < 3:
        raise FormErrors({BlockId.REJECT_REASON: "Say briefly why, so the requester can fix it."})
    await ack()
    data = metadata(view)
    user = body["user"]["id"]
    message = await batches.reject(deps, str(data.get("request_id")), user=user, reason=reason)
    await deps.notifier.ephemeral(str(data.get("origin_channel")), user, message)


async def cancel_clicked(
    ack: AsyncAck, body: dict[str, Any], deps: Deps, respond: AsyncRespond | None
) -> None:
    """Cancel a pending request (its requester only)."""
    await ack()
    message = await batches.cancel(deps, body["actions"][0]["value"], user=body["user"]["id"])
    await answer(deps, body, respond, message)


async def stop_clicked(ack: AsyncAck, body: dict[str, Any], deps: Deps, respond: AsyncRespond | None) -> None:
    """Stop the batch whose button was clicked (the button carries a confirm dialog)."""
    await ack()
    channel = (body.get("channel") or {}).get("id")
    message = await batch_runs.stop_batch(
        deps, body["actions"][0]["value"], user=body["user"]["id"], channel=channel
    )
    await answer(deps, body, respond, message)


async def refresh_clicked(ack: AsyncAck, body: dict[str, Any], deps: Deps) -> None:
    """Poll the batch now."""
    await ack()
    await deps.store.tracked.mark_due(Kind.BATCH, body["actions"][0]["value"])
    deps.wake()


async def stop(ctx: CommandContext) -> None:
    """`/bland stop <batch_id>`: the same as the card's Stop batch button."""
    batch_id = require_args(ctx, "stop <batch_id>").split()[0]
    await ctx.reply(await batch_runs.stop_batch(ctx.deps, batch_id, user=ctx.user, channel=ctx.channel))


async def list_batches(ctx: CommandContext) -> None:
    """`/bland batches`: recent requests and batches with their state."""
    await ctx.reply(*batches_list(await batch_runs.recent(ctx.deps)))
