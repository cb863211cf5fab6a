"""Webhooks: signed POSTs for calls that finished, sent concurrently."""

from __future__ import annotations

import asyncio
import json
import logging
import time

import httpx

from bot.bland.webhooks import sign
from bot.sandbox.bland_sim.calls import CallRoutes
from bot.sandbox.bland_sim.state import SimCall

log = logging.getLogger(__name__)


class WebhookSender(CallRoutes):
    """Webhooks: signed POSTs for calls that finished, sent concurrently."""

    async def process(self) -> None:
        """Deliver webhooks for calls that have finished."""
        now = self.clock.now()
        due = [
            call
            for call in list(self.calls.values())
            if call.payload.get("webhook") and not call.webhook_sent and call.is_done(now)
        ]
        for call in due:
            call.webhook_sent = True
        # Concurrently, as a real sender would: one slow receiver must not hold up every other call's webhook.
        await asyncio.gather(*(self._send_webhook(call) for call in due))

    async def _send_webhook(self, call: SimCall) -> None:
        body = json.dumps(self.call_json(call), separators=(",", ":")).encode()
        url = str(call.payload["webhook"])
        call.webhook_sent_at = time.monotonic()
        try:
            response = await self._http.post(
                url,
                content=body,
                headers={
                    "Content-Type": "application/json",
                    "X-Webhook-Signature": sign(self.webhook_secret, body),
                },
            )
            self.webhooks_sent.append((call.call_id, response.status_code))
        except httpx.HTTPError as exc:
            log.warning("webhook to %s failed: %s", url, exc)
            self.webhooks_sent.append((call.call_id, None))
