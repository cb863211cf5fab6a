"""The Home tab: published on app_home_opened; its buttons open the call, batch and backfill modals."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient

from bot.deps import Deps
from bot.flows import home
from bot.ids import ActionId
from handlers.backfills import open_backfill_form
from handlers.batches import open_batch_form
from handlers.calls import open_call_form
from handlers.context import Routes


def register(app: AsyncApp) -> None:
    """Route app_home_opened and the Home tab's start buttons."""
    routes = Routes(app)
    routes.event("app_home_opened", home_opened)
    routes.action(ActionId.OPEN_CALL_MODAL, open_call)
    routes.action(ActionId.OPEN_BATCH_MODAL, open_batch)
    routes.action(ActionId.OPEN_BACKFILL_MODAL, open_backfill)


async def home_opened(event: dict[str, Any], user: str, deps: Deps) -> None:
    """Remember the user and publish their dashboard."""
    if event.get("tab", "home") != "home" or not user:
        return
    await home.home_opened(deps, user)


# Opened from the Home tab there is no channel: each modal then asks for one.


async def open_call(ack: AsyncAck, body: dict[str, Any], deps: Deps, client: AsyncWebClient) -> None:
    """Open the Send a call modal."""
    await ack()
    await open_call_form(deps, client, body["trigger_id"], origin_channel="")


async def open_batch(
    ack: AsyncAck, body: dict[str, Any], user: str, deps: Deps, client: AsyncWebClient
) -> None:
    """Open the Request a batch modal."""
    await ack()
    await open_batch_form(deps, client, body["trigger_id"], user=user, origin_channel="")


async def open_backfill(
    ack: AsyncAck, body: dict[str, Any], user: str, deps: Deps, client: AsyncWebClient
) -> None:
    """Open the backfill modal."""
    await ack()
    await open_backfill_form(deps, client, body["trigger_id"], user=user, origin_channel="")
