"""One unit of work: a state change and everything it causes, committed together, then told once.

    async with deps.unit() as u:
        request = await u.move(deps.store.batch_requests, request_id, PENDING, APPROVED, approver=user)
        if request is None:
            return "someone else decided it first"
        await u.deliver(card_update(...))
        await u.announce(Event(...))
        await u.audit(actor=user, action=..., outcome=...)

Inside the block every repository call the task makes joins one transaction (bot/store/db.py), so the
move, the Slack writes it causes (queued in the outbox), the event's lines and the audit row commit
together or not at all. After the commit, and only then, the unit does once what must follow: it wakes
the outbox (there is something to send) and the tick (there is something to poll), and refreshes the Home
tabs the events concern. A unit opened inside another is part of it; the after-commit work waits for the
outermost one to commit, and is dropped with it if it rolls back.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from bot.domain import Topic
from bot.outbox import Outbox
from bot.settings import Settings
from bot.store import Store
from bot.store.outbox import Delivery

log = logging.getLogger(__name__)

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


@dataclass(frozen=True)
class Event:
    """Something worth a line: `key` is unique per event; `where` is the card (channel, card key) to link.

    The requester's Home tab is refreshed; they get a DM only when `dm_text` is given.
    """

    key: str
    topic: Topic
    text: str
    where: tuple[str, str] | None = None
    requester: str | None = None
    dm_text: str | None = None


class Movable(Protocol[T_co]):
    """A repository whose rows move between states by one conditional UPDATE … RETURNING: `move(row_id,
    from_state, to_state, …)` returns the moved row, or None when another caller moved it first."""

    @property
    def move(self) -> Callable[..., Awaitable[T_co]]: ...


# Everyone's Home tab (an approval changes every approver's pending list), or these people's.
Homes = set[str] | None
RefreshHomes = Callable[[Homes], Awaitable[None]]


class Deps(Protocol):
    """What a unit uses of bot.deps.Deps (which builds units: `deps.unit()`)."""

    @property
    def settings(self) -> Settings: ...
    @property
    def store(self) -> Store: ...
    @property
    def outbox(self) -> Outbox: ...
    @property
    def wake(self) -> Callable[[], None]: ...
    @property
    def refresh_homes(self) -> RefreshHomes: ...


class Unit:
    """The work of one state change; made by `deps.unit()`."""

    def __init__(self, deps: Deps) -> None:
        self._deps = deps
        self._task = asyncio.current_task()
        self._kick = False
        self._wake = False
        self._homes: set[str] = set()
        self._everyone = False
        # The audit row of this change: the repository's own call, which joins the unit's transaction.
        self.audit = deps.store.audit.record

    async def move(self, repo: Movable[T], row_id: str, from_state: Any, to_state: Any, **fields: Any) -> T:
        """Move a row from one state to another; the moved row, or None when another caller moved it first
        (the repository refuses a move its state table does not allow)."""
        return await repo.move(row_id, from_state, to_state, **fields)

    async def deliver(self, *deliveries: Delivery) -> None:
        """Queue Slack writes with the change (sent by the outbox worker once the unit commits)."""
        if deliveries:
            await self._deps.store.outbox.add(deliveries)
            self._kick = True

    async def announce(self, event: Event) -> None:
        """Queue an event's lines (subscribed channels and NOTIFY_CHANNEL, not the card's own) and its DM;
        the Home tabs it concerns are refreshed after the commit."""
        await self.deliver(*await event_deliveries(self._deps, event))
        if event.topic is Topic.APPROVALS:
            self._everyone = True
        elif event.requester:
            self._homes.add(event.requester)

    def wake(self) -> None:
        """Have the tick run as soon as the unit commits (there is something new to poll)."""
        self._wake = True

    async def _committed(self) -> None:
        """The work that must follow the commit, each once."""
        deps = self._deps
        if self._kick:
            deps.outbox.kick()
        if self._wake:
            deps.wake()
        if self._everyone or self._homes:
            try:
                await deps.refresh_homes(None if self._everyone else set(self._homes))
            except Exception:  # a dashboard must not break the work that already committed
                log.exception("refreshing Home tabs after a change failed")


_current: contextvars.ContextVar[Unit | None] = contextvars.ContextVar("unit", default=None)


@contextlib.asynccontextmanager
async def unit_of(deps: Deps) -> AsyncIterator[Unit]:
    """Open a unit of work (or join the one this task is inside); see the module's docstring."""
    outer = _current.get()
    if outer is not None and outer._task is asyncio.current_task():
        async with deps.store.db.transaction():
            yield outer
        return
    unit = Unit(deps)
    token = _current.set(unit)
    try:
        async with deps.store.db.transaction():
            yield unit
    finally:
        _current.reset(token)
    await unit._committed()


async def event_deliveries(deps: Deps, event: Event) -> list[Delivery]:
    """The event's lines: one per subscribed channel and NOTIFY_CHANNEL (not the card's own), and the DM."""
    channels = set(await deps.store.subscriptions.channels_for(event.topic))
    if deps.settings.notify_channel:
        channels.add(deps.settings.notify_channel)
    if event.where is not None:
        channels.discard(event.where[0])  # the card there already shows it
    link = (event.where[1], event.where[0]) if event.where else None
    out = [
        Delivery(key=f"notify:{event.key}", channel=channel, text=event.text, link_to=link, topic=event.topic)
        for channel in sorted(channels)
    ]
    if event.requester and event.dm_text:
        out.append(
            Delivery(key=f"dm:{event.key}", channel=f"@{event.requester}", text=event.dm_text, link_to=link)
        )
    return out
