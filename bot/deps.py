"""Deps: everything a listener or flow needs, built once and put into bolt's context."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from bot.bland.client import BlandClient
from bot.clock import Clock
from bot.domain import CallState
from bot.notifier import Notifier
from bot.permissions import Permissions
from bot.settings import Settings
from bot.store import Store
from bot.store.batch_requests import BatchRequest
from bot.store.tracked import TrackedItem


class Tracker(Protocol):
    """What flows ask of tracking. bot.tracking implements it, so flows never import tracking."""

    async def publish_call_card(self, deps: Deps, item: TrackedItem, *, state: CallState) -> TrackedItem:
        """Post the card that anchors a call's thread, remember it, and make the call due."""
        ...

    async def publish_batch_card(self, deps: Deps, item: TrackedItem, *, thread_ts: str | None) -> None:
        """Post a batch's live card (into `thread_ts` when given), remember it, and poll at once."""
        ...

    async def start_batch(self, deps: Deps, request: BatchRequest) -> TrackedItem | None:
        """Track a sent batch in its request's thread and post the live card there."""
        ...


@dataclass
class Deps:
    settings: Settings
    bland: BlandClient
    store: Store
    notifier: Notifier
    permissions: Permissions
    clock: Clock
    tracker: Tracker
    # Jitter and other chance: seeded in tests and the demo so that every run schedules alike.
    rng: random.Random = field(default_factory=random.Random)
    # Set by the scheduler when it starts: makes the tick run now (webhooks, new work).
    wake: Callable[[], None] = field(default=lambda: None)
    # Listener work still running after its ack; shutdown waits for it before closing the database.
    inflight: set[asyncio.Task[Any]] = field(default_factory=set)
