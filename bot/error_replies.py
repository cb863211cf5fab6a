"""Errors shown where the person acted: modal errors, the ack reply, ephemeral messages or DMs."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from typing import Any

from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError

from bot.bland.errors import BlandAuthError, BlandError, BlandForbiddenError
from bot.deps import Deps
from bot.errors import FormErrors, UserError
from bot.mrkdwn import escape
from bot.notifier import slack_error

log = logging.getLogger(__name__)

# A trigger_id lives three seconds and opens one view.
TRIGGER_ERRORS = frozenset({"expired_trigger_id", "invalid_trigger_id", "exchanged_trigger_id"})


def _where(body: dict[str, Any]) -> tuple[str | None, str | None]:
    """Return (channel, user) of a request, wherever Slack put them."""
    user = body.get("user_id") or (body.get("user") or {}).get("id")
    channel = body.get("channel_id") or (body.get("channel") or {}).get("id")
    if channel is None and body.get("view"):
        try:
            channel = json.loads(body["view"].get("private_metadata") or "{}").get("origin_channel")
        except (ValueError, AttributeError):
            channel = None
    return channel, user


# The database went away mid-request: what was done before it cannot be told from here.
DATABASE_LOST = (
    "The bot lost its database while doing this, so it cannot tell how far it got (error id `{error_id}`). "
    "Look for its card or message before you try again; if this keeps happening, tell the bot's admins."
)


def describe_error(
    error: Exception, *, database_lost: Callable[[BaseException], bool] | None = None
) -> tuple[str, str | None]:
    """Turn an exception into (message for the person, error id when it was unexpected).

    `database_lost` tells a lost database (a network partition, a server restarting) from a bug."""
    if isinstance(error, UserError):
        return error.message, None
    if isinstance(error, BlandError):
        if isinstance(error, BlandAuthError):
            log.error("Bland refused the bot's API key on %s: admins, check BLAND_API_KEY", error.request)
        elif isinstance(error, BlandForbiddenError):
            log.error(
                "Bland answered 403 on %s: the account lacks this feature or the resource is another "
                "organisation's (the key itself works): %s",
                error.request,
                error.message,
            )
        return escape(error.user_message), None  # Bland's words, as text
    error_id = uuid.uuid4().hex[:8]
    if isinstance(error, SlackApiError):
        code = slack_error(error)
        if code in TRIGGER_ERRORS:
            log.info("Slack refused to open a view (%s)", code)
            return (
                f"Slack did not let the bot open that form in time ({code}). Please try again.",
                None,
            )
        # Slack said what is wrong; its code is the whole story, a traceback adds nothing.
        log.error("Slack refused a request: %s [error %s]", code, error_id)
        return f"Slack refused the bot's request ({code}; error id `{error_id}`).", error_id
    if database_lost is not None and database_lost(error):
        log.warning(
            "a request failed: the database cannot be reached (%s) [error %s]", type(error).__name__, error_id
        )
        return DATABASE_LOST.format(error_id=error_id), error_id
    log.error("unexpected error [error %s]", error_id, exc_info=error)
    return f"Something went wrong on the bot's side (error id `{error_id}`); it has been logged.", error_id


async def handle_error(
    error: Exception, body: dict[str, Any], context: AsyncBoltContext, respond: AsyncRespond | None
) -> BoltResponse | None:
    """Show any failure where the person acted: modal errors, the ack reply, or an ephemeral message."""
    deps: Deps | None = context.get("deps")
    acked = context.ack is not None and context.ack.response is not None
    if not acked and body.get("type") == "view_submission":
        if isinstance(error, FormErrors):
            return _json_response({"response_action": "errors", "errors": error.errors})
        if isinstance(error, UserError) and error.field:
            return _json_response({"response_action": "errors", "errors": {error.field: error.message}})
    if not acked and body.get("command"):
        message, _ = describe_error(error, database_lost=deps.store.db.unreachable if deps else None)
        return _json_response({"response_type": "ephemeral", "text": f":warning: {message}"})
    if deps is not None:
        await report_error(error, body, deps, respond)
    return BoltResponse(status=200, body="") if not acked else None


async def report_error(
    error: Exception, body: dict[str, Any], deps: Deps, respond: AsyncRespond | None
) -> None:
    """Tell the person who acted what went wrong: via response_url, an ephemeral message or a DM."""
    message, _ = describe_error(error, database_lost=deps.store.db.unreachable)
    channel, user = _where(body)
    if not user:
        return
    try:
        if respond is not None and body.get("response_url"):
            await respond(text=f":warning: {message}", response_type="ephemeral", replace_original=False)
        elif channel:
            await deps.notifier.ephemeral(channel, user, f":warning: {message}")
        else:
            await deps.notifier.dm(user, f":warning: {message}")
    except Exception as exc:  # Slack or the network: the error itself was logged above
        log.warning("could not tell %s about an error: %s", user, type(exc).__name__)


def _json_response(payload: dict[str, Any]) -> BoltResponse:
    return BoltResponse(status=200, body=json.dumps(payload), headers={"content-type": "application/json"})
