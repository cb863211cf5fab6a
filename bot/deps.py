"""Deps: everything a listener or flow needs, built once and put into bolt's context."""

from __future__ import annotations

import asyncio
import contextlib
import random
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from bot.bland.client import BlandClient
from bot.clock import Clock
from bot.domain import Kind
from bot.metrics import Metrics
from bot.notifier import Notifier
from bot.outbox import Outbox
from bot.permissions import Permissions
from bot.settings import Settings
from bot.store import Store
from bot.store.tracked import TrackedItem
from bot.unit import Homes, RefreshHomes, Unit, unit_of


class Tracker(Protocol):
    """What flows ask of tracking. bot.tracking implements it, so flows never import tracking."""

    async def track(
        self,
        deps: Deps,
        kind: Kind,
        external_id: str,
        channel: str,
        *,
        created_by: str | None,
        data: dict[str, Any],
        last_status: str | None = None,
    ) -> TrackedItem | None:
        """Start tracking an item and queue its card, committed together; None when already tracked there."""
        ...


async def _no_homes(users: Homes) -> None:
    """No Home tabs to refresh (until the runtime wires the real refresh)."""


@dataclass
class Deps:
    settings: Settings
    bland: BlandClient
    store: Store
    notifier: Notifier
    # Every Slack write that matters: queued with the state change that causes it, delivered by a worker.
    outbox: Outbox
    permissions: Permissions
    clock: Clock
    tracker: Tracker
    metrics: Metrics = field(default_factory=Metrics)
    # Jitter and other chance: seeded in tests and the demo so that every run schedules alike.
    rng: random.Random = field(default_factory=random.Random)
    # Set by the scheduler when it starts: makes the tick run now (webhooks, new work).
    wake: Callable[[], None] = field(default=lambda: None)
    # Set by the runtime: poll the active items of one Bland id now, each in its own task (a webhook came);
    # returns how many it started. Without a poller it only marks them due and wakes the tick.
    poll_now: Callable[[Kind, str, dict[str, Any] | None], Awaitable[int]] | None = None
    # Set by the runtime: re-publish the Home tabs of these people (None: of everyone who looks at it).
    refresh_homes: RefreshHomes = field(default=_no_homes)
    # This process among the replicas sharing the database: the owner of its leases and turns.
    replica: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    # Listener work still running after its ack; shutdown waits for it before closing the database.
    inflight: set[asyncio.Task[Any]] = field(default_factory=set)
    # What this process keeps between requests, by name: the Home tab's figures (bot/flows/today.py).
    memo: dict[str, Any] = field(default_factory=dict)

    def unit(self) -> contextlib.AbstractAsyncContextManager[Unit]:
        """Open a unit of work: a state change and what it causes, committed together (bot/unit.py)."""
        return unit_of(self)
