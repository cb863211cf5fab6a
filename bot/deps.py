"""Deps: everything a listener or flow needs, built once and put into bolt's context."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot.bland.client import BlandClient
from bot.clock import Clock
from bot.notifier import Notifier
from bot.permissions import Permissions
from bot.settings import Settings
from bot.store import Store


@dataclass
class Deps:
    settings: Settings
    bland: BlandClient
    store: Store
    notifier: Notifier
    permissions: Permissions
    clock: Clock
    # Jitter and other chance: seeded in tests and the demo so that every run schedules alike.
    rng: random.Random = field(default_factory=random.Random)
    # Set by the scheduler when it starts: makes the tick run now (webhooks, new work).
    wake: Callable[[], None] = field(default=lambda: None)
    # Listener work still running after its ack; shutdown waits for it before closing the database.
    inflight: set[asyncio.Task[Any]] = field(default_factory=set)
