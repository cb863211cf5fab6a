"""The contract between the generic tick and each tracked kind (calls, batches, backfills).

A poll returns what it learnt and what people should see (outbox deliveries and notification events);
the tick commits the item's new state and those deliveries in one transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from bot.blocks.messages import notice
from bot.domain import Kind, TrackedState, card_key
from bot.flows.notifications import Event
from bot.store.outbox import Delivery, Op
from bot.store.outbox import card_update as outbox_card_update

if TYPE_CHECKING:
    from bot.deps import Deps
    from bot.store.tracked import TrackedItem


# chat.update is Tier 3 (50+/min per workspace): one card is updated at most this often, unless forced.
CARD_MIN_INTERVAL = 5.0


def card_may_update(now: float, item: TrackedItem, *, force: bool = False) -> bool:
    """Return whether an item's card may be updated now: forced, or not updated lately."""
    return force or not item.card_updated_at or now - item.card_updated_at >= CARD_MIN_INTERVAL


def own_card(item: TrackedItem) -> str:
    """Return the key of the item's own card."""
    return card_key(item.kind, item.external_id)


def thread_card(item: TrackedItem) -> str:
    """Return the key of the card whose thread the item reports in.

    A backfill workflow reports under its backfill's card; a batch sent from a request under the approval
    card (its live card is the first reply there); everything else under its own card.
    """
    if item.kind is Kind.BACKFILL:
        return card_key("backfill", str(item.data.get("backfill_id") or item.external_id))
    if item.kind is Kind.BATCH and item.data.get("request_id"):
        return card_key("batch_request", str(item.data["request_id"]))
    return own_card(item)


def in_thread(item: TrackedItem, key: str, text: str, blocks: Sequence[Any] | None = None) -> Delivery:
    """A message in the item's thread."""
    return Delivery(key=key, channel=item.channel, text=text, blocks=blocks, thread_of=thread_card(item))


def file_in_thread(item: TrackedItem, key: str, *, filename: str, content: str, title: str) -> Delivery:
    """A file uploaded into the item's thread."""
    return Delivery(
        key=key,
        channel=item.channel,
        text="",
        op=Op.UPLOAD,
        thread_of=thread_card(item),
        file={"filename": filename, "content": content, "title": title},
    )


def card_update(item: TrackedItem, text: str, blocks: Sequence[Any], *, final: bool = False) -> Delivery:
    """The item's card in its new state; a live card shows a new state at most every CARD_MIN_INTERVAL
    seconds, so states that pass within seconds (queued → allocated) are never sent. A `final` state (the
    item ended) is edited before any passing state of any card."""
    return outbox_card_update(
        own_card(item), item.channel, text, blocks, min_interval=CARD_MIN_INTERVAL, final=final
    )


def gave_up_notice(item: TrackedItem, *, what: str, max_age: float) -> Delivery:
    """Say once, in the item's thread, that the bot stopped following it because it is too old."""
    text, blocks = notice(
        f"Stopped following {what} `{item.external_id}`: not finished after {max_age / 3600:g} hours. "
        f"Use `/bland status {item.external_id}` to check it.",
        ":warning:",
    )
    return in_thread(item, f"{item.kind}:{item.external_id}:gave_up", text, blocks)


@dataclass(frozen=True)
class PollOutcome:
    """What one poll learnt. `done` ends tracking with `final_state`.

    `deliveries` and `events` are what people should see; the tick queues them in the transaction that
    records the poll, so a crash loses neither the state nor what it tells people.
    """

    status: str
    done: bool = False
    final_state: TrackedState = TrackedState.DONE
    retry_in: float | None = None
    data: dict[str, Any] | None = None
    deliveries: tuple[Delivery, ...] = ()
    events: tuple[Event, ...] = ()
    card_updated: bool = False


class TrackedKind(Protocol):
    name: Kind
    max_age: float

    def base_interval(self, deps: Deps) -> float:
        """Return the base seconds between polls."""
        ...

    def card(self, deps: Deps, item: TrackedItem) -> Delivery | None:
        """Return the post of the item's own card (None for kinds that report under another card)."""
        ...

    async def sweep(self, deps: Deps) -> None:
        """Learn what changed for many items at once (a list read), making only those due; called every tick."""
        ...

    async def poll(self, deps: Deps, item: TrackedItem, sent: dict[str, Any] | None = None) -> PollOutcome:
        """Fetch the item from Bland (or take `sent`, what Bland's signed webhook carried, when it says
        enough); say what changed and what people should see."""
        ...

    async def on_failure(self, deps: Deps, item: TrackedItem, error: Exception) -> None:
        """Tell people a poll failed (once per run of failures), without raising."""
        ...

    async def give_up(self, deps: Deps, item: TrackedItem) -> None:
        """Say that tracking stopped because the item is too old."""
        ...
