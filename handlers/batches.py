"""Batches: the request modal, the approval card's buttons, the live card's buttons, stop and list."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.batch_modals import batch_modal, reject_modal
from bot.blocks.batches import Rerun, batches_list, rerun_modal
from bot.blocks.format import label_text
from bot.blocks.messages import notice
from bot.blocks.modals import message_view
from bot.deps import Deps
from bot.domain import Kind
from bot.errors import FormErrors, UserError
from bot.flows import batch_runs, batches, lookup, uploads
from bot.flows.batch_api import known_api
from bot.flows.batch_form import CSV_MAX_BYTES, BatchForm, parse_batch_form, placeholders_in, template_csv
from bot.flows.schemas import QUICK_CHOICES_SECONDS, schema_choices
from bot.ids import ActionId, BlockId, CallbackId
from bot.permissions import Role
from bot.store.batch_requests import BatchRequest
from bot.tracking.batches import whole_numbers_file
from handlers.context import CommandContext, Routes, answer, require_args


def register(app: AsyncApp) -> None:
    """Route the batch modal, the approval and batch cards' buttons, and the reject modal."""
    routes = Routes(app)
    routes.view(CallbackId.REQUEST_BATCH, submit_batch_request)
    routes.view(CallbackId.REJECT_BATCH, submit_reject)
    routes.action(ActionId.APPROVE_BATCH, approve_clicked)
    routes.action(ActionId.APPROVE_OVER_BALANCE, approve_over_balance_clicked)
    routes.action(ActionId.REJECT_BATCH, reject_clicked)
    routes.action(ActionId.CANCEL_BATCH, cancel_clicked)
    routes.action(ActionId.STOP_BATCH, stop_clicked)
    routes.action(ActionId.RERUN_BATCH, rerun_clicked)
    routes.view(CallbackId.RERUN_BATCH, submit_rerun)
    routes.action(ActionId.REFRESH_BATCH, refresh_clicked)
    routes.action(ActionId.WHOLE_NUMBERS, whole_numbers_clicked)


async def open_batch_form(
    deps: Deps, client: AsyncWebClient, trigger_id: str, *, user: str, origin_channel: str
) -> None:
    """Open the Request a batch modal for an operator (no channel: the modal asks for one)."""
    await deps.permissions.require(user, Role.OPERATOR, "request batches")
    settings = deps.settings
    view = batch_modal(
        origin_channel=origin_channel,
        voices=settings.call_voices,
        max_minutes=settings.max_call_minutes,
        max_calls=settings.batch_max_calls,
        schemas=await schema_choices(deps, seconds=QUICK_CHOICES_SECONDS),
    )
    await client.views_open(trigger_id=trigger_id, view=view)


async def open_batch_modal(ctx: CommandContext) -> None:
    """`/bland batch`: open the Request a batch modal; `/bland batch template <prompt>`: a CSV to fill in."""
    word, _, prompt = ctx.args.partition(" ")
    if word.lower() == "template":
        await send_template(ctx, prompt.strip())
        return
    await open_batch_form(ctx.deps, ctx.client, ctx.trigger_id, user=ctx.user, origin_channel=ctx.channel)


async def send_template(ctx: CommandContext, prompt: str) -> None:
    """Put a CSV to fill in into the person's DMs: the phone column, then one column per placeholder of
    `prompt`, and an example row; say what it holds."""
    names = placeholders_in(prompt)
    content = template_csv(names)
    columns = ", ".join(f"`{n}`" for n in ["phone", *names])
    await ctx.deps.notifier.upload_dm(
        ctx.user,
        filename="batch-template.csv",
        content=content,
        title="Batch template",
        comment="Fill in one row per call, then upload it with `/bland batch`.",
    )
    hint = "" if names else " Give the prompt after `template` to get a column per `{{placeholder}}` too."
    await ctx.reply(f"A CSV with the columns {columns} is in your direct messages with the bot.{hint}")


# Slack waits 3 seconds for the answer to a submission: reading a CSV file may take longer.
ACK_BUDGET_SECONDS = 2.0


async def submit_batch_request(
    ack: AsyncAck,
    body: dict[str, Any],
    values: dict[str, Any],
    origin: str,
    user: str,
    deps: Deps,
    client: AsyncWebClient,
) -> None:
    """Validate everything inline, close the modal, post the approval card.

    A CSV file is read (and the whole form checked) within ACK_BUDGET_SECONDS when it can be, so its
    problems show inline. When that takes longer, the modal turns into "Checking…" at once and, once the
    file is read, either says where the request went or comes back filled in with the problems on top:
    the person never loses the submission, and never has a reason to submit twice.
    """
    if not await deps.permissions.has_role(user, Role.OPERATOR):
        # A modal's error is plain text (no mentions): the people are named in words.
        raise FormErrors(
            {
                BlockId.BATCH_LABEL: "You are not allowed to request batches: ask an admin of the bot to add you."
            }
        )
    check = asyncio.create_task(_check_form(deps, values, origin))
    done, _ = await asyncio.wait({check}, timeout=ACK_BUDGET_SECONDS)
    if done:
        form = check.result()  # FormErrors go inline, through the error handler
        await ack()
        await _request(deps, form, user=user, origin=origin)
        return
    await ack(
        response_action="update",
        view=message_view(TITLE, ":hourglass_flowing_sand: Checking the CSV file…", close="Close"),
    )
    view_id = str(body["view"]["id"])
    try:
        form = await check
    except FormErrors as exc:
        settings = deps.settings
        again = batch_modal(
            origin_channel=origin if not values.get(BlockId.CHANNEL) else "",
            voices=settings.call_voices,
            max_minutes=settings.max_call_minutes,
            max_calls=settings.batch_max_calls,
            typed=values,
            problems=exc.errors,
            schemas=await schema_choices(deps, seconds=QUICK_CHOICES_SECONDS),
        )
        await client.views_update(view_id=view_id, view=again)
        return
    request = await _request(deps, form, user=user, origin=origin)
    where = request.card_channel or batches.card_channel(deps, request)
    done_text = f":white_check_mark: *{label_text(form.label)}* ({form.call_count} calls) waits for approval in <#{where}>."
    done_text += batches.hours_note(request, await known_api(deps))
    await client.views_update(view_id=view_id, view=message_view(TITLE, done_text))


TITLE = "Request a batch"


async def _check_form(deps: Deps, values: dict[str, Any], origin: str) -> BatchForm:
    """Read the CSV file (if one was given) and validate the whole form; raise FormErrors."""
    settings = deps.settings
    files = values.get(BlockId.RECIPIENTS_FILE) or []
    pasted = str(values.get(BlockId.RECIPIENTS_TEXT) or "").strip()
    # With both a file and pasted text the form says "not both"; the file is not worth fetching then.
    csv_text = (
        await uploads.read_csv_upload(deps, files, CSV_MAX_BYTES, block=BlockId.RECIPIENTS_FILE)
        if files and not pasted
        else None
    )
    # Parsing tens of thousands of rows is CPU work: off the event loop, so other requests are answered.
    form = await asyncio.to_thread(
        parse_batch_form,
        values,
        csv_text=csv_text,
        default_region=settings.default_region,
        voices=settings.call_voices,
        max_minutes=settings.max_call_minutes,
        max_rows=settings.batch_max_calls,
        channel=origin,
    )
    form = replace(form, start_at=batches.start_time(deps, values.get(BlockId.START_AT)))
    where = BlockId.RECIPIENTS_FILE if files and not pasted else BlockId.RECIPIENTS_TEXT
    return await batches.ready_to_freeze(deps, form, where=where)


async def _request(deps: Deps, form: BatchForm, *, user: str, origin: str) -> BatchRequest:
    """Freeze the request, post its approval card, and tell the requester where it went."""
    request = await batches.request_batch(deps, form, requester=user)
    await _tell_waiting(deps, request, user=user, origin=origin)
    return request


async def _tell_waiting(deps: Deps, request: BatchRequest, *, user: str, origin: str) -> None:
    """Tell the requester, only them, where their request waits for a second person."""
    where = batches.card_channel(deps, request)
    shown = await deps.outbox.card_ts(batches.request_card(request.id), where)
    later = "" if shown else " Slack has not shown its card yet; it appears as soon as Slack takes it."
    await deps.notifier.ephemeral(
        origin or where,
        user,
        *notice(
            f"Batch *{label_text(request.label)}* ({request.call_count} calls) is waiting for approval in "
            f"<#{where}>. Nothing is dialled until a different approver approves it.{later}{batches.hours_note(request, await known_api(deps))}",
            ":hourglass_flowing_sand:",
        ),
    )


async def approve_clicked(
    ack: AsyncAck, body: dict[str, Any], value: str, user: str, deps: Deps, respond: AsyncRespond | None
) -> None:
    """Approve and send, at most once however many clicks arrive (or, over the balance, ask once more)."""
    await ack()
    await _told(deps, body, respond, await batches.approve(deps, value, user=user))


async def approve_over_balance_clicked(
    ack: AsyncAck, body: dict[str, Any], value: str, user: str, deps: Deps, respond: AsyncRespond | None
) -> None:
    """The second confirmation: approve though the estimate is more than the account's balance."""
    await ack()
    await _told(deps, body, respond, await batches.approve(deps, value, user=user, over_balance=True))


async def _told(
    deps: Deps, body: dict[str, Any], respond: AsyncRespond | None, said: str | tuple[str, list[Any]]
) -> None:
    text, blocks = (said, None) if isinstance(said, str) else said
    await answer(deps, body, respond, text, blocks)


async def reject_clicked(
    ack: AsyncAck,
    body: dict[str, Any],
    value: str,
    user: str,
    origin: str,
    deps: Deps,
    client: AsyncWebClient,
) -> None:
    """Ask the approver why, in a modal (after checking they may decide; refusals reach them as errors do)."""
    await ack()
    request = await batches.check_can_decide(deps, value, user)
    channel = origin or request.card_channel or request.channel
    view = reject_modal(request_id=value, label=request.label or value, origin_channel=channel)
    await client.views_open(trigger_id=body["trigger_id"], view=view)


async def submit_reject(
    ack: AsyncAck, values: dict[str, Any], meta: dict[str, Any], origin: str, user: str, deps: Deps
) -> None:
    """Reject with the reason given."""
    reason = str(values.get(BlockId.REJECT_REASON) or "").strip()
    if len(reason) < 3:
        raise FormErrors({BlockId.REJECT_REASON: "Say briefly why, so the requester can fix it."})
    await ack()
    message = await batches.reject(deps, str(meta.get("request_id")), user=user, reason=reason)
    await deps.notifier.ephemeral(origin, user, message)


async def cancel_clicked(
    ack: AsyncAck, body: dict[str, Any], value: str, user: str, deps: Deps, respond: AsyncRespond | None
) -> None:
    """Cancel a pending request (its requester only)."""
    await ack()
    await answer(deps, body, respond, await batches.cancel(deps, value, user=user))


async def stop_clicked(
    ack: AsyncAck,
    body: dict[str, Any],
    value: str,
    user: str,
    origin: str,
    deps: Deps,
    respond: AsyncRespond | None,
) -> None:
    """Stop the batch whose button was clicked (the button carries a confirm dialog)."""
    await ack()
    message = await batch_runs.stop_batch(deps, value, user=user, channel=origin or None)
    await answer(deps, body, respond, message)


async def whole_numbers_clicked(
    ack: AsyncAck,
    body: dict[str, Any],
    value: str,
    user: str,
    origin: str,
    deps: Deps,
    respond: AsyncRespond | None,
) -> None:
    """Give an admin the batch's result file with whole numbers, in their direct messages."""
    await ack()
    await answer(
        deps, body, respond, await whole_numbers_file(deps, value, user=user, channel=origin or None)
    )


async def refresh_clicked(ack: AsyncAck, value: str, deps: Deps) -> None:
    """Poll the batch now."""
    await ack()
    await lookup.poll_now(deps, Kind.BATCH, value)


async def stop(ctx: CommandContext) -> None:
    """`/bland stop <batch_id>`: the card's Stop batch button, with what it would stop (it confirms too)."""
    batch_id = require_args(ctx, "stop <batch_id>").split()[0]
    await ctx.reply(*await batch_runs.stop_prompt(ctx.deps, batch_id, user=ctx.user))


async def list_batches(ctx: CommandContext) -> None:
    """`/bland batches`: recent requests and batches with their state."""
    await ctx.reply(*batches_list(await batch_runs.recent(ctx.deps)))


async def rerun_clicked(
    ack: AsyncAck,
    body: dict[str, Any],
    value: str,
    user: str,
    origin: str,
    deps: Deps,
    client: AsyncWebClient,
) -> None:
    """Ask which calls of the finished batch to request again (counts read from Bland now)."""
    await ack()
    request, counts = await batches.rerun_choices(deps, value, user=user)
    view = rerun_modal(
        batch_id=value, label=request.label or value, counts=counts, origin_channel=origin or request.channel
    )
    await client.views_open(trigger_id=body["trigger_id"], view=view)


async def submit_rerun(
    ack: AsyncAck, values: dict[str, Any], meta: dict[str, Any], origin: str, user: str, deps: Deps
) -> None:
    """Request the chosen calls again: a new request, through the same approval as any batch."""
    chosen = [Rerun(v) for v in values.get(BlockId.RERUN_KINDS) or [] if v in set(Rerun)]
    if not chosen:
        raise FormErrors({BlockId.RERUN_KINDS: "Choose which calls to request again."})
    await ack()  # reading the batch's calls from Bland may take longer than Slack waits for a modal
    try:
        request = await batches.rerun(deps, str(meta.get("batch_id")), chosen, user=user, origin=origin)
    except FormErrors as exc:  # the modal is closed: say it where the person is
        raise UserError(" ".join(exc.errors.values())) from None
    await _tell_waiting(deps, request, user=user, origin=origin)
