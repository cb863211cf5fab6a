"""What a sent batch's card shows, read from its tracked row: progress, state, who stopped it, its tally.

A batch sent from a request is shown on the request's approval card, which becomes the batch's card once
approved (bot/flows/batches/state.py draws it); a batch followed with `/bland track` has a card of its own
(bot/tracking/batches.py). Both read the same BatchCardInfo.
"""

from __future__ import annotations

from typing import Any

from bot.blocks.batches import BatchCardInfo, BatchProgress
from bot.domain import BatchState, TrackedState
from bot.store.tracked import TrackedItem

# A batch sent from a request after this marker was introduced is drawn on the request's card; one tracked
# before it keeps the live card it already has in the request's thread.
ON_REQUEST_CARD = "request"


def on_request_card(item: TrackedItem) -> bool:
    """Whether the item is drawn on its request's approval card (not on a card of its own)."""
    return bool(item.data.get("request_id")) and item.data.get("card") == ON_REQUEST_CARD


def card_info(
    item: TrackedItem,
    progress: BatchProgress | None,
    *,
    state: BatchState | None = None,
    note: str | None = None,
    tally: str | None = None,
) -> BatchCardInfo:
    """Assemble the card from the tracked row (and what a poll has just learnt)."""
    data = item.data
    stopped_by = data.get("stopped_by")
    return BatchCardInfo(
        batch_id=item.external_id,
        label=str(data.get("label") or item.external_id),
        approver=data.get("approver"),
        requester=data.get("requester") or item.created_by,
        progress=progress,
        state=state or (BatchState.STOPPING if stopped_by else BatchState.RUNNING),
        stopped_by=stopped_by,
        stopped_calls=data.get("stopped_calls"),
        test_mode=bool(data.get("test_mode")),
        note=note,
        tally=tally if tally is not None else _text(data.get("tally")),
    )


def saved_progress(data: dict[str, Any]) -> BatchProgress | None:
    """The progress the last poll kept on the row."""
    saved = data.get("progress")
    return BatchProgress(**saved) if isinstance(saved, dict) else None


def stored_info(item: TrackedItem) -> BatchCardInfo:
    """The card as the row stands: running (or stopping) while tracked, else how tracking ended."""
    state: BatchState | None = None
    if item.state is not TrackedState.ACTIVE:
        try:
            state = BatchState(item.last_status or "")
        except ValueError:
            state = BatchState.UNKNOWN
    return card_info(item, saved_progress(item.data), state=state)


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
