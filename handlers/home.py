"""The Home tab: published on app_home_opened; its buttons open the call, batch and backfill modals."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.backfill_modals import backfill_modal
from bot.blocks.batch_modals import batch_modal
from bot.blocks.modals import call_modal
from bot.deps import Deps
from bot.flows import home
from bot.ids import ActionId
from bot.permissions import Role
from handlers.backfills import schema_options
from handlers.context import reports_errors


def register(app: AsyncApp) -> None:
    """Route app_home_opened and the Home tab's start buttons."""
    app.event("app_home_opened")(home_opened)
    app.action(ActionId.OPEN_CALL_MODAL)(reports_errors(open_call))
    app.action(ActionId.OPEN_BATCH_MODAL)(reports_errors(open_batch))
    app.action(ActionId.OPEN_BACKFILL_MODAL)(reports_errors(open_backfill))


async def home_opened(event: dict[str, Any], deps: Deps) -> None:
    """Remember the user and publish their dashboard."""
    if event.get("tab", "home") != "home":
        return
    await home.home_opened(deps, str(event["user"]))


async def open_call(ack: AsyncAck, body: dict[str, Any], deps: Deps, client: AsyncWebClient) -> None:
    """Open the Send a call modal (the person picks the channel in it)."""
    await ack()
    settings = deps.settings
    view = call_modal(origin_channel="", voices=settings.call_voices, max_minutes=settings.max_call_minutes)
    await client.views_open(trigger_id=body["trigger_id"], view=view)


async def open_batch(ack: AsyncAck, body: dict[str, Any], deps: Deps, client: AsyncWebClient) -> None:
    """Open the Request a batch modal with a channel picker."""
    await ack()
    await deps.permissions.require(body["user"]["id"], Role.OPERATOR, "request batches")
    settings = deps.settings
    view = batch_modal(
        origin_channel="",
        voices=settings.call_voices,
        max_minutes=settings.max_call_minutes,
        max_calls=settings.batch_max_calls,
    )
    await client.views_open(trigger_id=body["trigger_id"], view=view)


async def open_backfill(ack: AsyncAck, body: dict[str, Any], deps: Deps, client: AsyncWebClient) -> None:
    """Open the backfill modal with a channel picker."""
    await ack()
    await deps.permissions.require(body["user"]["id"], Role.OPERATOR, "start backfills")
    view = backfill_modal(origin_channel="", schemas=await schema_options(deps))
    await client.views_open(trigger_id=body["trigger_id"], view=view)
