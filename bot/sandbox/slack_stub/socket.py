"""Socket Mode: apps.connections.open and the websocket that carries envelopes and their acks."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from typing import Any

from aiohttp import WSMsgType, web

from bot.sandbox.slack_stub.state import StubState


class SocketMode(StubState):
    """Socket Mode."""

    def _m_apps_connections_open(self, args: dict[str, Any]) -> dict[str, Any]:
        ws_url = self.base_url.replace("http://", "ws://") + f"link?ticket={uuid.uuid4().hex[:8]}"
        return {"ok": True, "url": ws_url}

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=None)
        await ws.prepare(request)
        self._sockets.append(ws)
        await ws.send_json(
            {
                "type": "hello",
                "num_connections": len(self._sockets),
                "connection_info": {"app_id": "A0SANDBOX"},
            }
        )
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                data = json.loads(msg.data)
                future = self._pending_acks.pop(str(data.get("envelope_id")), None)
                if future is not None and not future.done():
                    future.set_result(data)
        finally:
            with contextlib.suppress(ValueError):
                self._sockets.remove(ws)
        return ws

    @property
    def socket_connected(self) -> bool:
        """Return whether a Socket Mode client is connected."""
        return any(not ws.closed for ws in self._sockets)

    @property
    def open_sockets(self) -> int:
        """How many Socket Mode connections are open (Slack spreads envelopes over up to 10 of them)."""
        return sum(not ws.closed for ws in self._sockets)

    async def send_envelope(
        self, envelope_type: str, payload: dict[str, Any], timeout: float = 5.0, *, connection: int = 0
    ) -> dict[str, Any]:
        """Send a Socket Mode envelope over one open connection (the first, or the `connection`-th, round
        robin) and return its ack."""
        open_ones = [ws for ws in self._sockets if not ws.closed]
        if not open_ones:
            raise RuntimeError("no Socket Mode connection")
        ws = open_ones[connection % len(open_ones)]
        envelope_id = uuid.uuid4().hex
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending_acks[envelope_id] = future
        await ws.send_json(
            {
                "envelope_id": envelope_id,
                "type": envelope_type,
                "payload": payload,
                "accepts_response_payload": envelope_type != "events_api",
                "retry_attempt": 0,
                "retry_reason": "",
            }
        )
        return await asyncio.wait_for(future, timeout)
