"""A local Slack Web API stand-in: records every call and answers the methods the bot uses.

It also speaks Socket Mode (apps.connections.open plus a websocket), takes response_url posts and
file uploads, and can be told to answer 429 with Retry-After. It keeps Slack's rate tiers
(bot/sandbox/rate_tiers.py): a call over its method's limit is answered 429 with Retry-After, as Slack does.
One module a resource (messages, views, files, conversations, socket); state holds what they share.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from bot.sandbox.slack_stub.conversations import ConversationMethods
from bot.sandbox.slack_stub.files import FileMethods
from bot.sandbox.slack_stub.messages import MessageMethods
from bot.sandbox.slack_stub.socket import SocketMode
from bot.sandbox.slack_stub.state import RecordedCall, StubChannel, StubFile, StubMessage, parse_qs_body
from bot.sandbox.slack_stub.views import ViewMethods

__all__ = ["RecordedCall", "SlackStub", "StubChannel", "StubFile", "StubMessage", "parse_qs_body"]


class SlackStub(SocketMode, FileMethods, ViewMethods, MessageMethods, ConversationMethods):
    """Run with `await stub.start()`; point the bot's SLACK_API_URL at `stub.api_url`."""

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Listen on an ephemeral port."""
        app = web.Application(client_max_size=20 * 1024 * 1024)
        app.router.add_post("/api/{method}", self._api)
        app.router.add_get("/api/{method}", self._api)
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_get("/files-pri/{file_id}/{name}", self._download)
        app.router.add_post("/response/{response_id}", self._response_url)
        app.router.add_get("/link", self._socket)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base_url = f"http://{host}:{bound}/"

    async def stop(self) -> None:
        """Close sockets and the server."""
        self.holds.release_all()
        for ws in list(self._sockets):
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args = await self._args(request)
        if self.answer_delay:
            await asyncio.sleep(self.answer_delay)
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ").strip() or args.get("token")
        self.calls.append(RecordedCall(method, args, token, self.clock.now()))
        self.changed.set()  # tests may wait for a call to arrive, answered or not
        if self._outage and method != "apps.connections.open":
            status = next(self._outage)
            headers = {"Retry-After": "0"} if status == 429 else {}
            error = "ratelimited" if status == 429 else "internal_error"
            return web.json_response({"ok": False, "error": error}, status=status, headers=headers)
        faults = self._faults.get(method)
        fault = next((f for f in faults or [] if f.channel in (None, args.get("channel"))), None)
        if faults and fault is not None:
            fault.remaining -= 1
            if fault.remaining <= 0:
                faults.remove(fault)
            headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
            return web.json_response(
                {"ok": False, "error": fault.error}, status=fault.status, headers=headers
            )
        retry = self.tiers.admit(method, args.get("channel"), self.clock.now())
        if retry:
            self.rate_limited.append(self.calls[-1])
            return web.json_response(
                {"ok": False, "error": "ratelimited"}, status=429, headers={"Retry-After": str(int(retry))}
            )
        expected = self.app_token if method == "apps.connections.open" else self.bot_token
        if token != expected:
            return web.json_response({"ok": False, "error": "invalid_auth"})
        handler = getattr(self, "_m_" + method.replace(".", "_"), None)
        if handler is None:
            return web.json_response({"ok": False, "error": "unknown_method"}, status=404)
        hold = self.holds.take(method, args.get("channel"))
        if hold is not None and not hold.after:
            await self.holds.hold(hold)
            return web.json_response({"ok": False, "error": "service_unavailable"}, status=503)
        result = handler(args)
        self.changed.set()
        if hold is not None:
            await self.holds.hold(hold)
        return web.json_response(result)
