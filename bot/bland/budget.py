"""Bland's request rate as a budget shared by every replica, as Slack's is (bot/store/budget.py).

Bland documents a default org rate limit of 5 requests (docs/bland.md, "Rate limits") without saying over
what window it counts them, so the bot keeps to the strict reading: at most BLAND_MAX_RPS requests within
any one second. Every request the bot makes (sends, stops, lists, reads, from every replica) spends a token
of one bucket; a bucket holding B tokens and refilled at r a second lets B + r through in a second, so
B + r = BLAND_MAX_RPS (B is 30 % of it, at least one). Sends and stops are served first, then reads of
calls that ended, then safety-net reads: a lower priority leaves part of the burst to the higher ones. A 429
holds every replica for its Retry-After, or a short backoff when Bland sends none.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from enum import IntEnum

from bot.store.budget import RateBudgetRepo

log = logging.getLogger(__name__)

KEY = "bland:requests"
# Bland sends no Retry-After on its call API's 429s (docs/bland.md): everyone waits this long instead.
DEFAULT_HOLD_SECONDS = 2.0
MAX_HOLD_SECONDS = 60.0


class Priority(IntEnum):
    """Who is served first when the budget is short."""

    SEND = 0  # a send, a stop: a person is waiting, or a phone is about to ring
    RESULT = 1  # reading a call that ended, for its result
    SAFETY = 2  # lists and progress reads: the net under webhooks


# The share of the burst above one token that each priority leaves to the ones above it.
_RESERVE = {Priority.SEND: 0.0, Priority.RESULT: 1 / 3, Priority.SAFETY: 2 / 3}
BURST_SHARE = 0.3


class BlandBudget:
    """Spend one token before each request to Bland; wait when there is none."""

    def __init__(
        self,
        repo: RateBudgetRepo,
        rate: float,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        key: str = KEY,
    ) -> None:
        self._repo = repo
        self.limit = rate
        self.burst = max(1.0, rate * BURST_SHARE)
        # What is left of a second's allowance once the burst is spent (half the limit, below 2 a second).
        self.rate = rate - self.burst if rate >= 2 else rate / 2
        self._sleep = sleep
        self._key = key

    async def spend(self, priority: Priority) -> float:
        """Wait until a token is free for `priority`, spend it, and return how long that took (seconds)."""
        waited = 0.0
        reserve = _RESERVE[priority] * (self.burst - 1.0)
        while True:
            try:
                wait = await self._repo.take(self._key, self.rate, self.burst, reserve=reserve)
            except Exception as exc:  # the database is away: Bland's own 429s are the limit meanwhile
                log.warning(
                    "Bland's request budget cannot be read (%s); sending without it", type(exc).__name__
                )
                return waited
            if wait <= 0:
                return waited
            waited += wait
            await self._sleep(wait)

    async def hold(self, seconds: float | None) -> None:
        """Bland said 429: nobody sends to it for `seconds` (or the default backoff)."""
        hold = min(seconds if seconds and seconds > 0 else DEFAULT_HOLD_SECONDS, MAX_HOLD_SECONDS)
        try:
            await self._repo.hold(self._key, hold)
        except Exception as exc:
            log.warning("cannot record Bland's 429 hold (%s)", type(exc).__name__)


class NoBudget:
    """No budget (a client used outside the bot: `blandbot check`, the simulator's own tools)."""

    async def spend(self, priority: Priority) -> float:
        return 0.0

    async def hold(self, seconds: float | None) -> None:
        return None
