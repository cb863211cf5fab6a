"""What a valid Bland webhook does: poll the tracked call or batch now, in its own task, once per body."""

from __future__ import annotations

import logging
from typing import Any

from bot.bland.webhooks import VerifiedWebhook
from bot.deps import Deps
from bot.domain import BatchApi, Kind
from bot.flows.batch_api import keep_status
from bot.tracking.batch_reads import keep_from_webhook

log = logging.getLogger(__name__)


MAX_ID_CHARS = 200
# A call of a tracked batch ended: the batch's next progress read comes within this many seconds (a burst
# of call webhooks makes one read, not one per call).
BATCH_NUDGE_SECONDS = 5.0


def _id(payload: dict[str, object], *keys: str) -> str | None:
    found = next((payload[key] for key in keys if payload.get(key)), None)
    return found if isinstance(found, str) and len(found) <= MAX_ID_CHARS else None


async def handle_bland_webhook(deps: Deps, webhook: VerifiedWebhook) -> str:
    """Answer 'tracked', 'ignored' (nothing this bot tracks) or 'duplicate' (a replayed body).

    A call's webhook (the call object) polls the call at once; when the call belongs to a tracked batch,
    it brings the batch's next read forward. A batch's webhook (`batch_id` and its status, sent once
    when the batch completes) polls the batch at once.
    """
    payload = webhook.payload
    call_id = _id(payload, "call_id", "c_id")
    batch_id = _id(payload, "batch_id")
    if not await deps.store.webhooks.first_time(webhook.replay_key, call_id or batch_id):
        log.info("ignored a replayed Bland webhook for %s", call_id or batch_id)
        return "duplicate"
    if call_id and await _poll(deps, Kind.CALL, call_id, payload):
        return "tracked"
    if batch_id and not call_id and await _poll(deps, Kind.BATCH, batch_id):
        return "tracked"
    if batch_id and call_id:
        batches = await deps.store.tracked.active(Kind.BATCH, batch_id)
        if any(b.data.get("api") == BatchApi.V2 for b in batches):
            await keep_from_webhook(deps, batch_id, payload)  # its result, without reading the call
        soon = deps.clock.now() + BATCH_NUDGE_SECONDS
        await deps.store.tracked.schedule([b.id for b in batches], at=soon, sooner_only=True)
        if batches:
            return "tracked"
    if call_id or batch_id:
        log.info("Bland webhook for %s, which this bot does not track", call_id or batch_id)
    return "ignored"


async def _poll(deps: Deps, kind: Kind, external_id: str, sent: dict[str, Any] | None = None) -> bool:
    """Poll an item now, in its own task (or mark it due for the next tick); False when not tracked.

    `sent`: the webhook's body, which the poll may take for the read (a call's post-call payload)."""
    if deps.poll_now is not None:
        return bool(await deps.poll_now(kind, external_id, sent))
    if await deps.store.tracked.mark_due(kind, external_id):
        deps.wake()
        return True
    return False


async def handle_batch_status(deps: Deps, event: dict[str, Any], *, request_id: str | None) -> str:
    """A v2 batch's status event: keep its phase (a final one for good) and read the batch now.

    `request_id` is the request the status URL was made for (None when only Bland's signature vouches
    for the body): an event naming another request's batch is ignored."""
    batch_id = _id(event, "batch_id")
    if batch_id is None:
        return "ignored"
    if request_id is not None:
        request = await deps.store.batch_requests.get(request_id)
        if request is None or (request.batch_id is not None and request.batch_id != batch_id):
            log.warning("a batch status event for %s came on another request's URL; ignored", batch_id)
            return "ignored"
    await keep_status(deps, batch_id, event)
    return "tracked" if await _poll(deps, Kind.BATCH, batch_id) else "kept"
