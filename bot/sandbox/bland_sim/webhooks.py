"""Webhooks: signed POSTs for calls that finished, sent concurrently."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

import aiohttp

from bot.bland.webhooks import sign
from bot.sandbox.bland_sim.batches_v2 import BatchV2Routes
from bot.sandbox.bland_sim.state import SimCall

log = logging.getLogger(__name__)


class WebhookSender(BatchV2Routes):
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
        batches = [
            batch
            for batch in list(self.batches.values())
            if batch.get("batch_webhook")
            and not batch.get("webhook_sent")
            and self.batch_completed(batch, now)
        ]
        for batch in batches:
            batch["webhook_sent"] = True
        statuses = self.advance_batches_v2()
        # Concurrently, as a real sender would: one slow receiver must not hold up every other call's webhook.
        await asyncio.gather(
            *(self._send_webhook(call) for call in due),
            *(self._send_batch_webhook(batch) for batch in batches),
            *(self.post_status(url, event) for url, event in statuses),
        )

    async def _send_batch_webhook(self, batch: dict[str, Any]) -> None:
        """The batch's completion: its id and status (the documents give no more of its shape)."""
        body = json.dumps({"batch_id": batch["id"], "status": "completed"}, separators=(",", ":")).encode()
        await self._post(str(batch["batch_webhook"]), body, str(batch["id"]))

    async def _send_webhook(self, call: SimCall) -> None:
        body = json.dumps(self.call_json(call), separators=(",", ":")).encode()
        call.webhook_sent_at = time.monotonic()
        await self._post(str(call.payload["webhook"]), body, call.call_id)

    async def _post(self, url: str, body: bytes, subject: str) -> None:
        if self._hooks is None:
            self._hooks = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=5.0), connector=aiohttp.TCPConnector(limit=0)
            )
        headers = {"Content-Type": "application/json", "X-Webhook-Signature": sign(self.webhook_secret, body)}
        try:
            async with self._hooks.post(url, data=body, headers=headers) as response:
                await response.read()
                self.webhooks_sent.append((subject, response.status))
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("webhook to %s failed: %s", url, exc)
            self.webhooks_sent.append((subject, None))
