"""A bolt AsyncApp whose listeners only ack, served like blandbot's /slack/events: ack_latency's baseline.

    python bench/bare_app.py PORT SLACK_API_URL TOKEN SIGNING_SECRET

Run as its own process by bench/ack_latency.py, so that it has an event loop of its own, as the bot does.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.ids import ActionId
from bot.notifier import make_slack_client


def build(slack_api_url: str, token: str, signing_secret: str) -> web.Application:
    """Return an aiohttp app with one route, /slack/events, into an AsyncApp that only acks."""
    app = AsyncApp(client=make_slack_client(token, slack_api_url), signing_secret=signing_secret)

    async def just_ack(ack: Any) -> None:
        await ack()

    app.command("/bland")(just_ack)
    app.action(ActionId.REFRESH_CALL)(just_ack)
    app.view("send_call")(just_ack)

    async def events(request: web.Request) -> web.Response:
        return await to_aiohttp_response(await app.async_dispatch(await to_bolt_request(request)))

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    web_app = web.Application()
    web_app.router.add_post("/slack/events", events)
    web_app.router.add_get("/healthz", health)
    return web_app


if __name__ == "__main__":
    port, api_url, token, secret = sys.argv[1:5]
    web.run_app(build(api_url, token, secret), host="127.0.0.1", port=int(port), access_log=None, print=None)
