"""What a valid Bland webhook does: make the tracked call due now and wake the tick."""

from __future__ import annotations

import logging
from typing import Any

from bot.deps import Deps

log = logging.getLogger(__name__)


async def handle_bland_webhook(deps: Deps, payload: dict[str, Any], raw: bytes) -> str:
    """Mark the call in the payload due; answer 'tracked' or 'ignored'."""
    call_id = payload.get("call_id") or payload.get("c_id")
    if not call_id:
        return "ignored"
    if await deps.store.tracked.mark_due("call", str(call_id)):
        deps.wake()
        return "tracked"
    return "ignored"
