"""Single calls: the Send a call modal, status/track/stop-call, and the card's buttons."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.bland.errors import BlandError
from bot.blocks.format import mask_phone
from bot.blocks.messages import call_result, calls_found, notice, stop_all_prompt, stop_call_prompt
from bot.blocks.modals import call_modal, message_view
from bot.deps import Deps
from bot.domain import Kind
from bot.error_replies import describe_error
from bot.errors import FormErrors, UserError
from bot.flows import account, call_actions, call_form, calls, dnc, lookup, recordings, schemas, search, usage
from bot.ids import ActionId, BlockId, CallbackId
from bot.permissions import Role
from bot.phones import split_leading_number
from handlers.context import CommandContext, Routes, answer, require_args


def register(app: AsyncApp) -> None:
    """Route the call modal and the call card's buttons."""
    routes = Routes(app)
    routes.view(CallbackId.SEND_CALL, submit_call)
    routes.action(ActionId.STOP_CALL, stop_call_clicked)
    routes.action(ActionId.CONFIRM_STOP_CALL, stop_call_clicked)
    routes.action(ActionId.REFRESH_CALL, refresh_call_clicked)
    routes.action(ActionId.GET_RECORDING, recording_clicked)
    routes.action(ActionId.STOP_ALL_CALLS, stop_all_clicked)
    routes.action(ActionId.MORE_CALLS, more_calls_clicked)
    routes.action(ActionId.VIEW_CALL, view_call_clicked)
    routes.action(ActionId.RETRY_CALL, retry_clicked)


def _split_call_args(args: str) -> tuple[str | None, str | None]:
    """Split `[number] [task…]`: leading words made of phone characters are the number."""
    number, task = split_leading_number(args)
    return number or None, task or None


async def open_call_form(
    deps: Deps, client: AsyncWebClient, trigger_id: str, *, origin_channel: str, args: str = ""
) -> None:
    """Open the Send a call modal, prefilled from `[number] [task…]` (no channel: the modal asks for one)."""
    settings = deps.settings
    phone, task = _split_call_args(args)
    view = call_modal(
        origin_channel=origin_channel,
        voices=settings.call_voices,
        max_minutes=settings.max_call_minutes,
        phone=phone,
        task=task,
        schemas=await schemas.schema_choices(deps, seconds=schemas.QUICK_CHOICES_SECONDS),
        pricing=settings.pricing,
    )
    await client.views_open(trigger_id=trigger_id, view=view)


async def open_call_modal(ctx: CommandContext) -> None:
    """`/bland call [number] [task…]`: open the Send a call modal, prefilled."""
    await open_call_form(ctx.deps, ctx.client, ctx.trigger_id, origin_channel=ctx.channel, args=ctx.args)


async def submit_call(
    ack: AsyncAck,
    body: dict[str, Any],
    values: dict[str, Any],
    origin: str,
    user: str,
    deps: Deps,
    client: AsyncWebClient,
) -> None:
    """Validate the modal (inline errors), then send the call while the modal says so. When Bland refuses it
    (nothing dialled), the form comes back as it was typed, with Bland's reason on top."""
    settings = deps.settings
    form = call_form.parse_call_form(
        values,
        default_region=settings.default_region,
        voices=settings.call_voices,
        max_minutes=settings.max_call_minutes,
        fallback_channel=origin,
    )
    refused = await dnc.refusal(deps, form.phone_number)
    if refused:
        raise FormErrors({BlockId.PHONE: refused})
    unreachable = await deps.notifier.cannot_post(form.channel)  # found out before anything is dialled
    if unreachable:
        raise FormErrors(
            {
                BlockId.CHANNEL: f"The bot cannot post the call's card there: {unreachable}. Invite it "
                "(/invite @blandbot) or choose another channel."
            }
        )
    outside = calls.outside_hours(deps, form.phone_number)
    if outside is not None:
        why, allowed_at = outside
        if allowed_at is None or not form.when_allowed:
            hint = " Tick 'send at the next allowed time' to schedule it." if allowed_at is not None else ""
            raise FormErrors({BlockId.PHONE: why + hint})
        await ack()
        await deps.notifier.ephemeral(
            form.channel, user, await calls.schedule_call(deps, form, requester=user, at=allowed_at)
        )
        return
    refusal = await usage.call_refusal(deps)  # the plan's caps: Bland would reject it
    if refusal is not None:
        raise FormErrors({BlockId.PHONE: refusal.why})
    await ack(
        response_action="update", view=message_view(TITLE, ":hourglass_flowing_sand: Placing the call…")
    )
    view_id = str(body["view"]["id"])
    try:
        item = await calls.send_call(deps, form, requester=user)
    except BlandError as exc:  # a refusal: nothing was dialled, so the person may fix it and send again
        again = call_modal(
            origin_channel=origin,
            voices=settings.call_voices,
            max_minutes=settings.max_call_minutes,
            schemas=await schemas.schema_choices(deps, seconds=schemas.QUICK_CHOICES_SECONDS),
            pricing=settings.pricing,
            typed=values,
            problem=describe_error(exc)[0],  # Bland's words, escaped; a refused key is logged for the admins
        )
        await client.views_update(view_id=view_id, view=again)
        return
    except UserError as exc:  # said where the person acted too (the outcome may be unknown: not the form)
        await client.views_update(view_id=view_id, view=message_view(TITLE, exc.message))
        raise
    done = (
        f":white_check_mark: Placed: the call's card is in <#{item.channel}>, and its results follow there."
    )
    await client.views_update(view_id=view_id, view=message_view(TITLE, done))


TITLE = "Send a call"


async def status(ctx: CommandContext) -> None:
    """`/bland status <id>`: show the current card, only to the asker."""
    target = require_args(ctx, "status <call|batch|workflow id>").split()[0]
    await ctx.reply(*await lookup.status(ctx.deps, target))


async def track(ctx: CommandContext) -> None:
    """`/bland track <id>`: post the card here and follow it."""
    target = require_args(ctx, "track <id>").split()[0]
    await lookup.track(ctx.deps, target, channel=ctx.channel, user=ctx.user)


async def confirm_stop_call(ctx: CommandContext) -> None:
    """`/bland stop-call <id>`: ask for confirmation with a button that stops it."""
    call_id = require_args(ctx, "stop-call <call_id>").split()[0]
    call = await call_actions.fetch_call(ctx.deps, call_id)
    if call.is_terminal:
        await ctx.reply(*notice(f"Call `{call_id}` has already ended ({call.queue_status})."))
        return
    number = mask_phone(call.to, redact=ctx.deps.settings.redact_phone_numbers)
    await ctx.reply(*stop_call_prompt(call_id, number))


async def stop_call_clicked(
    ack: AsyncAck, value: str, user: str, origin: str, deps: Deps, respond: AsyncRespond
) -> None:
    """Stop the call whose button was clicked (the button carries a confirm dialog)."""
    await ack()
    message = await call_actions.stop_call(deps, value, user=user, channel=origin or None)
    await respond(text=message, response_type="ephemeral", replace_original=False)


async def refresh_call_clicked(ack: AsyncAck, value: str, deps: Deps) -> None:
    """Poll the call now."""
    await ack()
    await lookup.poll_now(deps, Kind.CALL, value)


async def recording_clicked(
    ack: AsyncAck,
    body: dict[str, Any],
    value: str,
    user: str,
    origin: str,
    deps: Deps,
    respond: AsyncRespond | None,
) -> None:
    """Give the call's recording to the person who pressed the button, and to no one else."""
    await ack()
    await answer(
        deps, body, respond, await recordings.give_recording(deps, value, user=user, channel=origin or None)
    )


async def balance(ctx: CommandContext) -> None:
    """`/bland balance` (operators): the account's balance, refill setting and today's spend, only to them."""
    await ctx.reply(*notice(await account.balance_text(ctx.deps, user=ctx.user)))


async def confirm_stop_all(ctx: CommandContext) -> None:
    """`/bland stop-all` (admins): how many calls are live, and a button that stops them all."""
    await ctx.reply(*stop_all_prompt(await call_actions.live_calls(ctx.deps, user=ctx.user)))


async def stop_all_clicked(
    ack: AsyncAck, body: dict[str, Any], user: str, origin: str, deps: Deps, respond: AsyncRespond | None
) -> None:
    """Stop every live call (the button carries its own confirmation)."""
    await ack()
    await answer(deps, body, respond, await call_actions.stop_all(deps, user=user, channel=origin or None))


async def _found(deps: Deps, wanted: search.CallFilter, user: str) -> tuple[str, list[Any]]:
    calls_page, following = await search.search(deps, wanted, user=user)
    return calls_found(
        calls_page,
        described=wanted.describe(),
        more=following.encode() if following else None,
        redact=deps.settings.redact_phone_numbers,
    )


async def find_calls(ctx: CommandContext) -> None:
    """`/bland calls [filters]`: recent calls, ten at a time, only to the asker."""
    await ctx.reply(*await _found(ctx.deps, search.parse_filters(ctx.args), ctx.user))


async def more_calls_clicked(
    ack: AsyncAck, body: dict[str, Any], value: str, user: str, deps: Deps, respond: AsyncRespond | None
) -> None:
    """The next ten, in place of the last ten (by DM where there is no message to replace)."""
    await ack()
    text, blocks = await _found(deps, search.CallFilter.decode(value), user)
    await answer(deps, body, respond, text, blocks, replace=True)


async def view_call_clicked(
    ack: AsyncAck, body: dict[str, Any], value: str, user: str, deps: Deps, respond: AsyncRespond | None
) -> None:
    """A call of `/bland calls`, opened: its outcome, summary, variables, transcript excerpt and Recording,
    to the person who pressed View alone."""
    await ack()
    await deps.permissions.require(user, Role.OPERATOR, "look up calls")
    result = call_result(await deps.bland.get_call(value), redact=deps.settings.redact_phone_numbers)
    await answer(deps, body, respond, result.text, result.blocks)


async def retry_clicked(
    ack: AsyncAck, body: dict[str, Any], value: str, user: str, deps: Deps, respond: AsyncRespond | None
) -> None:
    """Place the call again with the same settings (the button confirms first)."""
    await ack()
    await answer(deps, body, respond, await calls.retry_call(deps, value, user=user))


async def export(ctx: CommandContext) -> None:
    """`/bland export calls [filters]` (admins): the matching calls as CSV in this channel."""
    what, _, filters = ctx.args.partition(" ")
    if what.lower() != "calls":
        raise UserError(f"Use `/bland export calls [filters]`, with the filters of {search.USAGE}.")
    await search.export_calls(ctx.deps, search.parse_filters(filters), user=ctx.user, channel=ctx.channel)
