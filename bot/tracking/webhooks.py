"""What a valid Bland webhook does: poll the tracked call now, in its own task, once per body."""

from __future__ import annotations

import logging

from bot.bland.webhooks import VerifiedWebhook
from bot.deps import Deps
from bot.domain import Kind

log = logging.getLogger(__name__)


MAX_ID_CHARS = 200


async def handle_bland_webhook(deps: Deps, webhook: VerifiedWebhook) -> str:
    """Answer 'tracked', 'ignored' (no such tracked call) or 'duplicate' (a replayed body)."""
    payload = webhook.payload
    found = payload.get("call_id") or payload.get("c_id")
    call_id = found if isinstance(found, str) and len(found) <= MAX_ID_CHARS else None
    if not await deps.store.webhooks.first_time(webhook.replay_key, call_id):
        log.info("ignored a replayed Bland webhook for %s", call_id)
        return "duplicate"
    if not call_id:
        return "ignored"
    if deps.poll_now is not None:
        if await deps.poll_now(Kind.CALL, str(call_id)):
            return "tracked"  # polled at once in its own task: the result does not wait for a tick
    elif await deps.store.tracked.mark_due(Kind.CALL, str(call_id)):
        deps.wake()
        return "tracked"
    log.info("Bland webhook for call %s, which this bot does not track", call_id)
    return "ignored"
