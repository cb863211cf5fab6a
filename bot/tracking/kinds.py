"""The contract between the generic tick and each tracked kind (calls, batches, backfills)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from bot.blocks.messages import notice
from bot.domain import Kind, TrackedState

if TYPE_CHECKING:
    from bot.deps import Deps
    from bot.store.tracked import TrackedItem


# chat.update is Tier 3 (50+/min per workspace): one card is updated at most this often, unless forced.
CARD_MIN_INTERVAL = 5.0


def card_may_update(now: float, item: TrackedItem, *, force: bool = False) -> bool:
    """Return whether an item's card may be updated now: forced, or not updated lately."""
    return force or not item.card_updated_at or now - item.card_updated_at >= CARD_MIN_INTERVAL


async def say_gave_up(deps: Deps, item: TrackedItem, *, what: str, max_age: float) -> None:
    """Say once, in the item's thread, that the bot stopped following it because it is too old."""
    text, blocks = notice(
        f"Stopped following {what} `{item.external_id}`: not finished after {max_age / 3600:g} hours. "
        f"Use `/bland status {item.external_id}` to check it.",
        ":warning:",
    )
    await deps.notifier.post(
        item.channel,
        text,
        blocks,
        thread_ts=item.thread_ts or item.card_ts,
        event_key=f"{item.kind}:{item.external_id}:gave_up",
    )


@dataclass(frozen=True)
class PollOutcome:
    """What one poll learnt. `done` ends tracking with `final_state`."""

    status: str
    done: bool = False
    final_state: TrackedState = TrackedState.DONE
    retry_in: float | None = None
    data: dict[str, Any] | None = None


class TrackedKind(Protocol):
    name: Kind
    max_age: float

    def base_interval(self, deps: Deps) -> float:
        """Return the base seconds between polls."""
        ...

    async def ensure_card(self, deps: Deps, item: TrackedItem) -> TrackedItem:
        """Post the item's card if it has none yet (raising SlackApiError when Slack refuses); return the item.

        Nothing is polled, and so nothing posted, before the card that anchors the item's thread exists.
        """
        ...

    async def poll(self, deps: Deps, item: TrackedItem) -> PollOutcome:
        """Fetch the item from Bland, update its card, post results when done."""
        ...

    async def on_failure(self, deps: Deps, item: TrackedItem, error: Exception) -> None:
        """Tell people a poll failed (once per run of failures), without raising."""
        ...

    async def give_up(self, deps: Deps, item: TrackedItem) -> None:
        """Say that tracking stopped because the item is too old."""
        ...
