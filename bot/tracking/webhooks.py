"""What a valid Bland webhook does: make the tracked call due now and wake the tick, once per body."""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from bot.deps import Deps
from bot.domain import Kind

log = logging.getLogger(__name__)


async def handle_bland_webhook(deps: Deps, payload: dict[str, Any], raw: bytes) -> str:
    """Answer 'tracked', 'ignored' (no such tracked call) or 'duplicate' (a replayed body)."""
    call_id = payload.get("call_id") or payload.get("c_id")
    digest = hashlib.sha256(raw).hexdigest()
    if not await deps.store.webhooks.first_time(digest, str(call_id) if call_id else None):
        log.info("ignored a replayed Bland webhook for %s", call_id)
        return "duplicate"
    if not call_id:
        return "ignored"
    if await deps.store.tracked.mark_due(Kind.CALL, str(call_id)):
        deps.wake()
        return "tracked"
    log.info("Bland webhook for call %s, which this bot does not track", call_id)
    return "ignored"
